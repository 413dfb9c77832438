"""Hostile inputs built byte by byte (the gguf package's writer refuses to write most of them),
and a way to run `moewh` in a child process under an address-space limit."""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

_U32, _U64 = "<I", "<Q"
GGUF_UINT32, GGUF_UINT64, GGUF_STRING = 4, 10, 8


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(_U64, len(raw)) + raw


def raw_gguf(path: Path, kvs: list[tuple[str, int, bytes]], tensors: list[tuple[str, tuple[int, ...], int, int]],
             alignment: int = 32, data_bytes: int = 0) -> Path:
    """A GGUF v3 file from parts: kvs (key, value type, packed value), tensors (name, dims, ggml
    type, offset), then padding to ``alignment`` and ``data_bytes`` zero bytes of data."""
    out = bytearray(b"GGUF" + struct.pack(_U32, 3) + struct.pack(_U64, len(tensors)) + struct.pack(_U64, len(kvs)))
    for key, vtype, value in kvs:
        out += _str(key) + struct.pack(_U32, vtype) + value
    for name, dims, gtype, offset in tensors:
        out += _str(name) + struct.pack(_U32, len(dims)) + b"".join(struct.pack(_U64, d) for d in dims)
        out += struct.pack(_U32, gtype) + struct.pack(_U64, offset)
    out += bytes(-len(out) % alignment) + bytes(data_bytes)
    path.write_bytes(bytes(out))
    return path


def kv_u32(key: str, value: int) -> tuple[str, int, bytes]:
    return key, GGUF_UINT32, struct.pack(_U32, value)


def kv_u64(key: str, value: int) -> tuple[str, int, bytes]:
    return key, GGUF_UINT64, struct.pack(_U64, value)


def kv_str(key: str, value: str) -> tuple[str, int, bytes]:
    return key, GGUF_STRING, _str(value)


def moewh_limited(args: list[str], limit_bytes: int, env: dict | None = None, timeout: float = 120):
    """`python -m warehouse ARGS` with RLIMIT_AS = ``limit_bytes``: a decoder that builds what a
    header claims hits MemoryError (or is killed) instead of taking the machine's memory."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    # glibc reserves 64 MB of address space per malloc arena, up to 8 per core: cap them so that
    # the limit means the same on a 2-core laptop and a 64-core server.
    env = dict(os.environ if env is None else env, MALLOC_ARENA_MAX="2")
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True,
                          preexec_fn=limit, env=env, timeout=timeout)
