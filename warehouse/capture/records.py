"""Op records collected by the eval callback -> 1024-byte tracer records (``RECORD_DTYPE``).

The same array feeds the warehouse's trace ingest (records, sources, record_experts, passes,
selections) and ``--trace-out``'s ``tensor_trace.bin``, so the old pipeline reads a capture as
it read the research fork's tracer. The format's own limits apply to that file and to those
tables, not to the token-level routing captured beside them: a record keeps at most 16 ids,
and only the first token's ids of a batch; names are cut to 127 bytes; sizes wrap at 4 GiB.
Op codes are those of the trace's op table (``ggml-2026-01``), mapped by op name from the
running ggml (whose enum differs); an op the table lacks gets code 255 (reported on ingest as
an unknown op code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..formats.trace import op_tables
from ..formats.trace.records import MAX_EXPERTS, MAX_SOURCES, RECORD_DTYPE

OP_TABLE = op_tables.DEFAULT_TABLE


def op_codes(table: str = OP_TABLE) -> dict[str, int]:
    return {name: code for code, name in enumerate(op_tables.names(table))}


def to_records(collected: list[tuple]) -> np.ndarray:
    """``Collector.records`` tuples -> a ``RECORD_DTYPE`` array (timestamps made non-zero).

    Filled column by column: a capture holds a few hundred records per generated token.
    """
    n = len(collected)
    rec = np.zeros(n, RECORD_DTYPE)
    if not n:
        return rec
    ts, token, layer, thread, op, phase, names, sources, ids = zip(*collected, strict=True)
    rec["timestamp_ns"] = np.maximum(np.array(ts, np.uint64), 1)
    rec["token_id"] = token
    rec["layer_id"] = layer
    rec["thread_id"] = thread
    rec["operation_type"] = op
    rec["phase"] = phase
    rec["dst_name"] = np.array([name[:127] for name in names], "S128")
    counts = np.array([min(len(s), MAX_SOURCES) for s in sources], np.int64)
    rec["num_sources"] = counts
    rows = np.repeat(np.arange(n), counts)
    slots = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    flat = [src for s in sources for src in s[:MAX_SOURCES]]
    if flat:
        sname, ptr, size, slayer, ms, value, idx = zip(*flat, strict=True)
        src = rec["sources"]
        src["name"][rows, slots] = np.array([x[:127] for x in sname], "S128")
        src["tensor_ptr"][rows, slots] = np.array(ptr, np.uint64)
        src["size_bytes"][rows, slots] = size
        src["layer_id"][rows, slots] = slayer
        src["memory_source"][rows, slots] = ms
        src["disk_offset_or_buffer_id"][rows, slots] = np.array(value, np.uint64)
        src["tensor_idx"][rows, slots] = idx
    for i, got in enumerate(ids):
        if got is not None:
            k = min(len(got), MAX_EXPERTS)
            rec["expert_ids"][i, :k] = got[:k]
            rec["num_experts"][i] = k
    return rec


def write_trace(path: str | Path, records: np.ndarray) -> Path:
    """Write ``records`` as a ``tensor_trace.bin`` (no header, no zero tail)."""
    path = Path(path)
    records.astype(RECORD_DTYPE, copy=False).tofile(path)
    return path
