"""The safetensors container, parsed directly (no dependency): an 8-byte little-endian header
length N, N bytes of JSON (``{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
{...}}``, offsets relative to the end of the header), then the raw little-endian data."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from .problems import RoutingInputError

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def sniff(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n < 100_000_000 and head[8:9] == b"{"


def load(path: Path) -> dict[str, np.ndarray]:
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8:
        raise RoutingInputError(path, "byte offset 0", "shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise RoutingInputError(path, "byte offset 0", f"header length {n} runs past the file's {len(data)} bytes")
    try:
        header = json.loads(data[8:8 + n])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RoutingInputError(path, "byte offset 8", f"header is not JSON: {exc}") from None
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise RoutingInputError(path, f"key {name}", "needs dtype (F32, F16, ...), shape and data_offsets") from None
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * dtype.itemsize or begin < 0 or base + end > len(data):
            raise RoutingInputError(path, f"key {name}", f"data_offsets [{begin}, {end}] do not hold {shape} of "
                                    f"{info['dtype']} inside the file")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=base + begin).reshape(shape)
    return out
