"""Which trace format a path holds, decided from its content (file names are only a hint).

- a folder: per-token JSON export (``token-*.json`` in it or in its ``traces/``), or an old
  experiment run folder holding ``tensor_trace.bin``;
- a file starting with ``{``: one per-token JSON file;
- otherwise packed records: 1024-byte or legacy 256-byte. Each layout is scored over the
  first records of the file: the share of record slots that hold a plausible record (phase,
  source and expert counts in range, NUL-terminated printable names, a timestamp near the
  others). Read under the wrong layout, a trace shows junk records and empty slots between
  used ones (a real tracer leaves none), so the right layout scores near 1. When both or
  neither layout fits clearly, the file is refused and ``--format`` decides.

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
from .reading import read_slots
from .records import RECORD_DTYPE, find_extent
from .token_json import token_files

TRACE_1024 = "trace-1024"
TRACE_256 = "trace-256"
TOKEN_JSON = "token-json"
FORMATS = (TRACE_1024, TRACE_256, TOKEN_JSON)
_PROBE_SLOTS = 2048  # record slots read per layout
_PROBE_RECORDS = 256  # used records checked one by one
_MIN_SCORE = 0.5  # below it a layout does not fit
_MIN_MARGIN = 0.25  # the winner must beat the other layout by this much
_SHORT_GAP = 7  # empty slots: a 1024-byte record is 4 legacy slots, a legacy record 1/4 of one
_TIMESTAMP_SPREAD_NS = 1 << 46  # about 20 hours around the median: one tracing session


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

    Strict on purpose (printable names): it only decides the layout; records are decoded
    leniently and flagged, not refused. Unused source slots may hold leftovers (the tracer
    does not always clear them), so they are not looked at.
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
    return None


@dataclass(frozen=True)
class Score:
    fmt: str
    score: float  # plausible records / (used records + empty slots between them) in the probe
    probed: int  # used records checked
    problem: str | None  # the first implausible record, for the message


def _probe(path: Path, fmt: str, dtype: np.dtype) -> Score:
    extent = find_extent(path, dtype.itemsize)
    slots = []
    with open(path, "rb") as f:
        for a, b in extent.data_ranges:
            n = min(b - a, _PROBE_SLOTS - sum(len(c) for _, c in slots))
            if n <= 0:
                break
            slots.append((a, read_slots(f.fileno(), path, dtype, a, n)))
    used = [(a + int(i), c[i]) for a, c in slots for i in np.flatnonzero(c["timestamp_ns"] != 0)]
    if not used:
        return Score(fmt, 0.0, 0, None)
    used = used[:_PROBE_RECORDS]
    median = int(np.median([int(r["timestamp_ns"]) for _, r in used]))
    good, first_problem = 0, None
    for slot, rec in used:
        problem = _problems(rec)
        if problem is None and abs(int(rec["timestamp_ns"]) - median) > _TIMESTAMP_SPREAD_NS:
            problem = f"timestamp {int(rec['timestamp_ns'])} is far from the others (median {median})"
        if problem is None:
            good += 1
        elif first_problem is None:
            first_problem = f"record {slot} (byte offset {slot * dtype.itemsize}): {problem}"
    # Short runs of empty slots between used records are what a wrong layout shows (the rest of
    # a larger record); the holes a tracer leaves are long runs and no evidence either way.
    gaps = np.diff([slot for slot, _ in used]) - 1
    empty = int(gaps[(gaps > 0) & (gaps <= _SHORT_GAP)].sum())
    if empty and first_problem is None:
        first_problem = f"{empty} empty record slots between the first {len(used)} used records"
    return Score(fmt, good / (len(used) + empty), len(used), first_problem)


def detect(path: str | os.PathLike, fmt: str | None = None) -> Detected:
    """The format of ``path``; ``fmt`` (one of ``FORMATS``) forces one instead of detecting it."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(path, f"unknown trace format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == TOKEN_JSON and not path.is_dir():
        check_regular(path, "trace")
        return Detected(TOKEN_JSON, path.parent, (path,))
    if path.is_dir():
        for folder in (path, path / "traces"):
            if folder.is_dir():
                files = token_files(folder)
                if files:
                    return Detected(TOKEN_JSON, folder, tuple(files))
        if os.path.lexists(path / "tensor_trace.bin"):
            return detect(path / "tensor_trace.bin", fmt)
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
    if fmt is not None:
        return Detected(fmt, path)
    if strip_bom(head).lstrip()[:1] == b"{":
        return Detected(TOKEN_JSON, path.parent, (path,))
    fits, reasons = [], []
    for candidate, dtype in ((TRACE_1024, RECORD_DTYPE), (TRACE_256, LEGACY_RECORD_DTYPE)):
        if size < dtype.itemsize:
            reasons.append(f"shorter than one {dtype.itemsize}-byte record")
            continue
        s = _probe(path, candidate, dtype)
        if not s.probed:
            reasons.append(f"as {dtype.itemsize}-byte records, no used record (every timestamp is 0)")
        elif s.score < _MIN_SCORE:
            reasons.append(f"as {dtype.itemsize}-byte records, {s.problem}")
        else:
            fits.append(s)
    if not fits:
        raise InputError(path, "not a trace: " + "; ".join(reasons))
    fits.sort(key=lambda s: s.score, reverse=True)
    if len(fits) > 1 and fits[0].score - fits[1].score < _MIN_MARGIN:
        raise InputError(path, "cannot tell the record layout: " + ", ".join(
            f"{s.fmt} fits {s.score:.0%} of the probed records" for s in fits) + "; give --format "
            + " or --format ".join(s.fmt for s in fits))
    return Detected(fits[0].fmt, path)
