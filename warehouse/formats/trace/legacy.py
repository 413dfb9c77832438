"""Legacy 256-byte trace records (trace-format spec section 2) and their conversion.

Older tracer builds wrote a 48-byte header and four 52-byte sources, with names cut to 19
(dst 23) characters and no expert ids. They used the older op table ("ggml-2025-legacy").
Chunks are converted into the 1024-byte ``RECORD_DTYPE`` so one writer serves both formats;
op codes are kept as recorded and named with the run's op table.
"""

from __future__ import annotations

import numpy as np

from .records import MAX_SOURCES, RECORD_DTYPE

LEGACY_RECORD_SIZE = 256

LEGACY_SOURCE_DTYPE = np.dtype(
    [
        ("name", "S20"),
        ("tensor_ptr", "<u8"),
        ("size_bytes", "<u4"),
        ("layer_id", "<u2"),
        ("memory_source", "u1"),
        ("_pad0", "V1"),
        ("disk_offset_or_buffer_id", "<u8"),
        ("tensor_idx", "<u4"),
        ("_pad1", "V4"),
    ]
)
LEGACY_RECORD_DTYPE = np.dtype(
    [
        ("timestamp_ns", "<u8"),
        ("token_id", "<u4"),
        ("layer_id", "<u2"),
        ("thread_id", "<u2"),
        ("operation_type", "u1"),
        ("phase", "u1"),
        ("num_sources", "u1"),
        ("_pad0", "V5"),
        ("dst_name", "S24"),
        ("sources", LEGACY_SOURCE_DTYPE, (MAX_SOURCES,)),
    ]
)
assert LEGACY_SOURCE_DTYPE.itemsize == 52 and LEGACY_RECORD_DTYPE.itemsize == LEGACY_RECORD_SIZE

_HEADER = ("timestamp_ns", "token_id", "layer_id", "thread_id", "operation_type", "phase", "num_sources", "dst_name")
_SOURCE = ("name", "tensor_ptr", "size_bytes", "layer_id", "memory_source", "disk_offset_or_buffer_id", "tensor_idx")


def to_records(legacy: np.ndarray) -> np.ndarray:
    """Legacy records -> ``RECORD_DTYPE`` (no expert ids; names keep their cut length)."""
    out = np.zeros(len(legacy), dtype=RECORD_DTYPE)
    for name in _HEADER:
        out[name] = legacy[name]
    for name in _SOURCE:
        out["sources"][name] = legacy["sources"][name]
    return out


def from_records(rec: np.ndarray) -> np.ndarray:
    """``RECORD_DTYPE`` -> legacy records: names cut to 19 (dst 23) bytes, expert ids dropped."""
    out = np.zeros(len(rec), dtype=LEGACY_RECORD_DTYPE)
    for name in _HEADER:
        out[name] = rec[name].astype("S23") if name == "dst_name" else rec[name]
    for name in _SOURCE:
        if name == "name":
            out["sources"][name] = rec["sources"][name].astype("S19")
        else:
            out["sources"][name] = rec["sources"][name]
    return out
