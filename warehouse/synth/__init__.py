"""Synthetic GPT-OSS-20B traces with a known truth, and encoders for every tracer format.

Tests, the demo and the benchmarks need traces whose expert selections are known exactly.
``generate_run`` writes one: every graph evaluation ("pass") is a copy of the first pass of
the real GPT-OSS-20B trace (848 records with the real op sequence, tensor names, sizes and
DISK offsets, so DISK sources match the real layout), with timestamps, labels, expert ids
and the id tensor's size rewritten:

- an optional warm-up pass first (token 0, PROMPT, 2 tokens): every MoE record carries the
  first 16 ids of a full ranking of the 32 experts, as llama.cpp's warm-up does;
- a prompt pass (token 0, PROMPT, ``prompt_tokens`` tokens in one batch: the id tensor
  ``ffn_moe_topk-N`` is 4 * k * n_tokens bytes, and only the first token's ids are recorded;
  the last layer evaluates one token, as in the real trace);
- ``n_steps`` decode passes (token 1..n_steps, GENERATE, one token each);
- k = 4 experts per layer and pass, drawn from fixed per-(domain, layer) Zipf popularities,
  with token-to-token stickiness (some of the previous token's experts are kept), in the
  router's rank order. The same (domain, seed) always gives the same file.

File shape options: ``zero_tail_records`` (sparse all-zero tail, as the tracer pre-allocates),
``holes`` (runs of ``hole_records`` zero records between used ones), ``partial_bytes`` (a
trailing cut-off record), ``source_format`` ("trace-1024", "trace-256" legacy records, or
"token-json": a folder of per-token JSON files), ``corrupt`` ({record index: {field: value}}
applied to the used records before writing).

    from warehouse.synth import generate_run
    truth = generate_run(tmp / "t.bin", domain="code", n_steps=20, seed=1, warmup=True,
                         zero_tail_records=100, holes=2, partial_bytes=300)
    truth.selection_rows()   # [(pass_id, layer_id, rank, expert_id), ...] = v1.expert_selections
    truth.passes[0].is_warmup, truth.n_records, truth.hole_records, truth.partial_offset

``write_large(path, n_records)`` streams a big trace of whole passes (benchmarks, kill tests).
The encoders in ``warehouse.synth.encode`` write any decoded records in the 1024-byte, 256-byte
and per-token JSON formats.
"""

from .generator import (
    N_EXPERTS,
    N_LAYERS,
    PassTruth,
    Truth,
    generate_run,
    popularity,
    template,
    write_large,
)

__all__ = ["N_EXPERTS", "N_LAYERS", "PassTruth", "Truth", "generate_run", "popularity", "template", "write_large"]
