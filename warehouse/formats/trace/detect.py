"""Which trace format a path holds, decided from its content (file names are only a hint).

- a folder: per-token JSON export (``token-*.json`` in it or in its ``traces/``), or an old
  experiment run folder holding ``tensor_trace.bin``;
- a file starting with ``{``: one per-token JSON file;
- otherwise packed records: 1024-byte or legacy 256-byte, whichever layout makes the first
  used records plausible (phase, source and expert counts in range, NUL-terminated names).

A GGUF model, random bytes, an empty or all-zero file is refused with an ``InputError`` that
says what the file looks like instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError
from ..files import check_regular
from ..jsonfile import strip_bom
from .legacy import LEGACY_RECORD_DTYPE
from .records import RECORD_DTYPE, RECORD_SIZE, find_extent
from .token_json import token_files

TRACE_1024 = "trace-1024"
TRACE_256 = "trace-256"
TOKEN_JSON = "token-json"
FORMATS = (TRACE_1024, TRACE_256, TOKEN_JSON)
_PROBE_RECORDS = 8


@dataclass(frozen=True)
class Detected:
    format: str
    path: Path  # the file (binary) or the folder of token files (JSON)
    files: tuple[Path, ...] = ()  # JSON token files in order


def _printable(raw: bytes) -> bool:
    text = raw.split(b"\0", 1)[0]
    return b"\0" in raw and all(0x20 <= b < 0x7F for b in text)


def _problems(rec: np.void) -> str | None:
    """First reason ``rec`` is not a plausible trace record under its dtype, or None.

    Strict on purpose (printable names, zeroed unused slots): it only decides the layout from
    the first few records; later records are decoded leniently and flagged, not refused.
    """
    raw = rec.tobytes()
    if rec["phase"] > 1:
        return f"phase {rec['phase']} is not 0 or 1"
    if rec["num_sources"] > 4:
        return f"num_sources {rec['num_sources']} is more than 4"
    if "num_experts" in rec.dtype.names and rec["num_experts"] > 16:
        return f"num_experts {rec['num_experts']} is more than 16"
    if any(raw[19:24]):
        return "padding after num_sources is not zero"
    name_len = rec.dtype["dst_name"].itemsize
    if not _printable(raw[24 : 24 + name_len]):
        return "dst_name is not a NUL-terminated printable name"
    for slot in range(4):
        src = rec["sources"][slot]
        if slot < rec["num_sources"]:
            if not _printable(src.tobytes()[: src.dtype["name"].itemsize]):
                return f"source {slot} name is not a NUL-terminated printable name"
            if src["memory_source"] > 1:
                return f"source {slot} memory_source {src['memory_source']} is not 0 or 1"
        elif any(src.tobytes()):
            return f"source slot {slot} is beyond num_sources but not empty"
    return None


def _probe(path: Path, dtype: np.dtype) -> tuple[int, int, str | None]:
    """(used records probed, how many are plausible, first problem) under ``dtype``."""
    extent = find_extent(path, dtype.itemsize)
    probed = good = 0
    first_problem = None
    for a, b in extent.data_ranges:
        n = min(b - a, 4096)
        chunk = np.fromfile(path, dtype=dtype, count=n, offset=a * dtype.itemsize)
        for i in np.flatnonzero(chunk["timestamp_ns"] != 0)[: _PROBE_RECORDS - probed]:
            problem = _problems(chunk[i])
            probed += 1
            if problem is None:
                good += 1
            elif first_problem is None:
                first_problem = f"record {a + i} (byte offset {(a + i) * dtype.itemsize}): {problem}"
        if probed >= _PROBE_RECORDS:
            break
    return probed, good, first_problem


def detect(path: str | os.PathLike) -> Detected:
    path = Path(path)
    if path.is_dir():
        for folder in (path, path / "traces"):
            if folder.is_dir():
                files = token_files(folder)
                if files:
                    return Detected(TOKEN_JSON, folder, tuple(files))
        if os.path.lexists(path / "tensor_trace.bin"):
            return detect(path / "tensor_trace.bin")
        raise InputError(path, "folder holds no tensor_trace.bin and no traces/token-*.json")
    size = check_regular(path, "trace").st_size
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(path, "empty file, not a trace")
    if head.startswith(b"GGUF"):
        raise InputError(path, "this is a GGUF model file, not a trace; give it with --model", offset=0)
    if strip_bom(head).lstrip()[:1] == b"{":
        return Detected(TOKEN_JSON, path.parent, (path,))
    scores = []
    reasons = []
    for fmt, dtype in ((TRACE_1024, RECORD_DTYPE), (TRACE_256, LEGACY_RECORD_DTYPE)):
        if size < dtype.itemsize:
            reasons.append(f"shorter than one {dtype.itemsize}-byte record")
            continue
        probed, good, problem = _probe(path, dtype)
        if not probed:
            reasons.append(f"as {dtype.itemsize}-byte records, no used record (every timestamp is 0)")
        elif 2 * good < probed:
            reasons.append(f"as {dtype.itemsize}-byte records, {problem}")
        else:
            scores.append((good / probed, fmt))
    if not scores:
        raise InputError(path, "not a trace: " + "; ".join(reasons))
    # The better-fitting layout wins; on a tie, the current format (a 1024-byte file is a
    # multiple of 256 bytes too), unless the size only fits the legacy one.
    scores.sort(key=lambda s: (s[0], s[1] == TRACE_1024 and not size % RECORD_SIZE), reverse=True)
    return Detected(scores[0][1], path)
