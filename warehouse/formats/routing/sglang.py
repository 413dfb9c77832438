"""SGLang expert-distribution recorder dumps (``/dump_expert_distribution_record``).

Follows ``python/sglang/srt/eplb/expert_distribution.py`` of sgl-project/sglang at commit
dd780ab9de484cf1198ff538a1b8b0da6464ab5a. The recorder ``torch.save``s a dict:

- modes ``per_token`` and ``per_pass`` (``_DetailAccumulator``): ``records``, one dict per
  forward pass with ``forward_pass_id``, ``rank``, ``gatherer_key`` and, for ``per_token``
  (``_DetailSinglePassGatherer``), ``input_ids``, ``positions``, ``extend_seq_lens``,
  ``forward_mode`` (``ForwardMode`` value: 1 EXTEND, 2 DECODE, 3 MIXED, 4 IDLE) and
  ``topk_ids_of_layer`` ``[num_layers, num_tokens, 8]`` int32, padded with -1 past the model's
  k; for ``per_pass`` (``_SelectExpertsSinglePassGatherer``) ``global_physical_count``
  ``[num_layers, num_physical_experts]``. Beside ``records``, ``last_physical_to_logical_map``
  ``[num_layers, num_physical_experts]`` maps the physical ids (EPLB replicas) to logical
  experts; the decoder maps every id through it.
- modes ``stat`` / ``stat_approx`` (``_StatAccumulator``): ``rank``, ``logical_count``
  ``[buffered_steps, num_layers, num_logical_experts]``, ``average_utilization_rate_over_window``.

``per_token`` gives token-level routes (no weights: the recorder keeps ids only). ``per_pass``
and ``stat`` give counts only (activations summed over every token, prompt and generated).
One dump is one run; a pass with several sequences (``extend_seq_lens`` of more than one
entry, or a decode batch of several tokens) is refused: record one request at a time.
The older recorder's ``layer_id,expert_id,count`` CSV is read as counts too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from . import torch_pickle
from .csvtext import null_line, read_table
from .problems import RoutingInputError, first_bad
from .routes import GENERATE, PROMPT, Counts, Routes

FORMAT_PT = "sglang-expert-distribution"
FORMAT_CSV = "sglang-count-csv"
CSV_HEADER = "layer_id,expert_id,count"
EXTEND, DECODE, MIXED, IDLE = 1, 2, 3, 4
_ZIP_MAGIC = b"PK\x03\x04"


def sniff(head: bytes) -> dict[str, float]:
    if head.startswith(_ZIP_MAGIC) and b"data.pkl" in head[:512]:
        return {FORMAT_PT: 0.9}
    first = head.split(b"\n", 1)[0].strip().replace(b" ", b"")
    if first == CSV_HEADER.encode():
        return {FORMAT_CSV: 1.0}
    return {}


def decode(path: Path, fmt: str, force_restricted: bool = False) -> list[Routes]:
    path = Path(path)
    if fmt == FORMAT_CSV:
        return [_decode_csv(path)]
    obj = torch_pickle.load(path, force_restricted=force_restricted)
    if not isinstance(obj, dict):
        raise RoutingInputError(path, None, f"expected the recorder's dict, found {type(obj).__name__}")
    if "logical_count" in obj:
        return [_decode_stat(path, obj)]
    if "records" in obj:
        return [_decode_records(path, obj)]
    raise RoutingInputError(path, None, "neither 'records' (per_token / per_pass) nor 'logical_count' (stat): "
                            f"keys are {', '.join(map(str, obj))[:120]}")


def _array(path, value, key, ndim):
    a = np.asarray(value)
    if a.ndim != ndim or a.dtype.kind not in "iu":
        raise RoutingInputError(path, f"key {key}", f"expected a {ndim}-D integer tensor, found shape "
                                f"{a.shape} of {a.dtype}")
    return a


def _decode_stat(path: Path, obj: dict) -> Routes:
    count = _array(path, obj["logical_count"], "logical_count", 3)
    if (count < 0).any():
        raise RoutingInputError(path, "key logical_count", "negative count")
    per = count.sum(axis=0, dtype=np.int64)
    n_layers, n_experts = per.shape
    layer, expert = np.nonzero(per >= 0)
    return Routes.counts_only(Counts(layer.astype(np.int32), expert.astype(np.int32), per[layer, expert]),
                              FORMAT_PT, n_layers=n_layers, n_experts=n_experts,
                              warnings=[f"counts only (stat mode, {count.shape[0]} buffered steps summed): "
                                        "no per-token routes"])


def _decode_records(path: Path, obj: dict) -> Routes:
    if "last_physical_to_logical_map" not in obj:
        raise RoutingInputError(path, "key last_physical_to_logical_map", "missing")
    p2l = _array(path, obj["last_physical_to_logical_map"], "last_physical_to_logical_map", 2)
    records = obj["records"]
    if not isinstance(records, list) or not records:
        raise RoutingInputError(path, "key records", "no records")
    n_layers = p2l.shape[0]
    n_experts = int(p2l.max()) + 1
    if "global_physical_count" in records[0]:
        total = np.zeros((n_layers, n_experts), np.int64)
        for i, rec in enumerate(records):
            phys = _array(path, rec["global_physical_count"], f"records[{i}].global_physical_count", 2)
            if phys.shape != p2l.shape:
                raise RoutingInputError(path, f"key records[{i}].global_physical_count", f"shape {phys.shape}, "
                                        f"the physical-to-logical map has {p2l.shape}")
            for layer in range(n_layers):
                np.add.at(total[layer], p2l[layer], phys[layer])
        layer, expert = np.nonzero(total >= 0)
        return Routes.counts_only(Counts(layer.astype(np.int32), expert.astype(np.int32), total[layer, expert]),
                                  FORMAT_PT, n_layers=n_layers, n_experts=n_experts,
                                  warnings=[f"counts only (per_pass mode, {len(records)} passes): no per-token routes"])
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("position", "token_id", "phase", "pass_id", "layer_id",
                                                          "rank", "expert_id")}
    k_seen = 0
    for i, rec in enumerate(records):
        where = f"records[{i}]"
        for key in ("topk_ids_of_layer", "input_ids", "positions", "forward_mode"):
            if key not in rec:
                raise RoutingInputError(path, f"key {where}.{key}", "missing")
        mode = int(rec["forward_mode"])
        ids = _array(path, rec["topk_ids_of_layer"], f"{where}.topk_ids_of_layer", 3)
        tokens = np.asarray(rec["input_ids"], np.int64)
        positions = np.asarray(rec["positions"], np.int64)
        if mode == IDLE or len(tokens) == 0:
            continue
        if mode not in (EXTEND, DECODE):
            raise RoutingInputError(path, f"key {where}.forward_mode", f"forward mode {mode} (only EXTEND 1 and "
                                    "DECODE 2 passes are read; MIXED batches interleave requests)")
        seq_lens = rec.get("extend_seq_lens")
        if (mode == DECODE and len(tokens) > 1) or (mode == EXTEND and seq_lens is not None and len(seq_lens) > 1):
            raise RoutingInputError(path, f"key {where}", "a pass with several sequences: record one request at "
                                    "a time (token positions would collide)")
        if ids.shape[0] != n_layers or ids.shape[1] != len(tokens) or len(positions) != len(tokens):
            raise RoutingInputError(path, f"key {where}.topk_ids_of_layer", f"shape {ids.shape} does not fit "
                                    f"{n_layers} layers and {len(tokens)} tokens")
        valid = ids >= 0
        if (ids >= p2l.shape[1]).any():
            raise RoutingInputError(path, f"key {where}.topk_ids_of_layer", f"physical expert id beyond "
                                    f"{p2l.shape[1] - 1}")
        layer, tok, rank = np.nonzero(valid)
        k_seen = max(k_seen, int(valid.sum(axis=2).max()))
        logical = p2l[layer, ids[layer, tok, rank]]
        cols["position"].append(positions[tok])
        cols["token_id"].append(tokens[tok])
        cols["phase"].append(np.full(len(tok), PROMPT if mode == EXTEND else GENERATE, np.int8))
        cols["pass_id"].append(np.full(len(tok), int(rec.get("forward_pass_id", i)), np.int32))
        cols["layer_id"].append(layer)
        cols["rank"].append(rank)
        cols["expert_id"].append(logical)
    if not cols["position"]:
        raise RoutingInputError(path, "key records", "no routed tokens (every pass idle)")
    merged = {c: np.concatenate(v) for c, v in cols.items()}
    gen = merged["phase"] == GENERATE
    dec = np.unique(merged["position"][gen])
    step = np.full(len(gen), -1, np.int32)
    step[gen] = np.searchsorted(dec, merged["position"][gen])
    merged["step"] = step
    return Routes.from_columns(merged, FORMAT_PT, n_layers=n_layers, n_experts=n_experts,
                               experts_used=k_seen or None)


def _decode_csv(path: Path) -> Routes:
    data = path.read_bytes()
    types = {c: pa.int64() for c in CSV_HEADER.split(",")}
    table = read_table(path, data, 0, None, types, 1)
    for c in types:
        if (line := null_line(table, c, 2)) is not None:
            raise RoutingInputError(path, f"line {line}", f"empty {c}")
    layer, expert, count = (table.column(c).to_numpy() for c in types)
    if (i := first_bad((layer < 0) | (expert < 0) | (count < 0))) is not None:
        raise RoutingInputError(path, f"line {i + 2}", "negative layer, expert or count")
    order = np.lexsort((expert, layer))
    if (i := first_bad((np.diff(layer[order]) == 0) & (np.diff(expert[order]) == 0))) is not None:
        raise RoutingInputError(path, f"line {int(order[i + 1]) + 2}", "duplicate (layer_id, expert_id)")
    return Routes.counts_only(Counts(layer.astype(np.int32), expert.astype(np.int32), count.astype(np.int64)),
                              FORMAT_CSV, warnings=["counts only: no per-token routes"])
