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
    """``Collector.records`` tuples -> a ``RECORD_DTYPE`` array (timestamps made non-zero)."""
    rec = np.zeros(len(collected), RECORD_DTYPE)
    for i, (ts, token, layer, thread, op, phase, name, sources, ids) in enumerate(collected):
        r = rec[i]
        r["timestamp_ns"] = ts or 1
        r["token_id"] = token
        r["layer_id"] = layer
        r["thread_id"] = thread
        r["operation_type"] = op
        r["phase"] = phase
        r["dst_name"] = name[:127]
        r["num_sources"] = min(len(sources), MAX_SOURCES)
        for j, (sname, ptr, size, slayer, ms, value, idx) in enumerate(sources[:MAX_SOURCES]):
            s = r["sources"][j]
            s["name"] = sname[:127]
            s["tensor_ptr"] = ptr
            s["size_bytes"] = size
            s["layer_id"] = slayer
            s["memory_source"] = ms
            s["disk_offset_or_buffer_id"] = value
            s["tensor_idx"] = idx
        if ids is not None:
            n = min(len(ids), MAX_EXPERTS)
            r["expert_ids"][:n] = ids[:n]
            r["num_experts"] = n
    return rec


def write_trace(path: str | Path, records: np.ndarray) -> Path:
    """Write ``records`` as a ``tensor_trace.bin`` (no header, no zero tail)."""
    path = Path(path)
    records.astype(RECORD_DTYPE, copy=False).tofile(path)
    return path
