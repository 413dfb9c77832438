"""What a trace says about its passes beyond the records: batch size, k, completeness.

The tracer records at most 16 expert ids per MoE record (``MAX_EXPERTS``), so a record with 16
ids may hold a selection of 16 or the truncated prefix of a warm-up's full ranking: k is never
read from such a count. Where k is known (the GGUF's ``expert_used_count``, ``--experts-used``)
or can be read from a count below the cap, selections are made; otherwise none are, and the
run says so (``v1.trace_quality.k_unknown``).
"""

from __future__ import annotations

import numpy as np

from ..formats.trace.records import MAX_EXPERTS

K_UNKNOWN_WARNING = (
    "experts used per token (k) is unknown, so no expert selections were made: the MoE records hold "
    "{recorded} ids, and the tracer records at most 16, so a selection cannot be told from a warm-up's "
    "truncated ranking; give the model's GGUF (--model PATH.gguf, whose expert_used_count is k) or "
    "--experts-used K, with --replace if the run is already ingested")


def index_ids(rec: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Ids in the index source (slot 1, int32) of each pass-starting GET_ROWS -> inp_embd in
    ``rec[starts]``: the tokens the pass evaluates; 0 where the record has no second source."""
    first = rec[starts]
    sizes = first["sources"]["size_bytes"][:, 1].astype(np.int64) // 4
    return np.where(first["num_sources"] >= 2, sizes, 0)


def infer_k(recorded: list[int], n_experts: int | None) -> int | None:
    """k read from the trace: the smallest id count of a pass below the tracer's cap that is not
    every expert of the layer (a warm-up of a small model); None when nothing says it."""
    usable = [r for r in recorded if r < MAX_EXPERTS and r != n_experts]
    return int(min(usable)) if usable else None


def incomplete_warning(pass_id: int, first: int, last: int) -> str:
    return (f"pass {pass_id} (records {first:,}-{last:,}) is incomplete: its MoE records stop before the "
            "last block (the trace ends inside it); it is not counted as a decode step")
