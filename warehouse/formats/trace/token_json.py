"""The old parser's per-token JSON export (trace-format spec section 3), both directions.

``traces/token-NNNNN.json`` files hold the decoded records of one token label each. Reading
them re-encodes every entry into the 1024-byte ``RECORD_DTYPE`` (zero padding, unused slots
zeroed, ``tensor_idx`` "none" because the export dropped it), so a JSON export and the binary
trace it came from give the same records, the same rows and the same run_id. Op names are
turned into codes with the run's op table; a name the table does not know gets code 255,
which the warehouse reports as an unknown op code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ...errors import InputError
from ..jsonfile import read_json
from .op_tables import names as op_names
from .records import (
    MAX_EXPERTS,
    MAX_SOURCES,
    MEMORY_SOURCES,
    NO_LAYER,
    NO_TENSOR_IDX,
    PHASES,
    RECORD_DTYPE,
)

UNKNOWN_OP_CODE = 255
TOKEN_FILE_RE = re.compile(r"^token-(\d{1,9})\.json$")


def token_files(folder: str | os.PathLike) -> list[Path]:
    """``token-*.json`` files of a ``traces/`` folder in token order."""
    found = []
    for p in Path(folder).iterdir():
        m = TOKEN_FILE_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _layer(v) -> int:
    return NO_LAYER if v is None else int(v)


def _pointer(v) -> int:
    return int(v, 16) if isinstance(v, str) else int(v or 0)


def _name(s) -> bytes:
    return ("" if s is None else str(s)).encode("utf-8")[:127]


def load_entries(path: str | os.PathLike) -> list[dict]:
    doc = read_json(path, "per-token JSON trace")
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise InputError(path, "not a per-token JSON trace: no 'entries' list")
    return doc["entries"]


def entries_to_records(path, entries: list[dict], op_table: str) -> np.ndarray:
    """Per-token JSON entries -> ``RECORD_DTYPE`` records, byte-compatible with the tracer."""
    try:
        return _convert(entries, op_table)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        bad = _first_bad_entry(entries, op_table)
        raise InputError(path, f"malformed per-token JSON entry (missing or invalid field {exc})", record=bad) from None


def _first_bad_entry(entries: list[dict], op_table: str) -> int | None:
    """Index of the first entry that cannot be converted (only looked for once conversion failed)."""
    for i, e in enumerate(entries):
        try:
            _convert([e], op_table)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
            return i
    return None


def _convert(entries: list[dict], op_table: str) -> np.ndarray:
    codes = {name: code for code, name in enumerate(op_names(op_table))}
    phases = {name: i for i, name in enumerate(PHASES)}
    mem = {name: i for i, name in enumerate(MEMORY_SOURCES)}
    out = np.zeros(len(entries), dtype=RECORD_DTYPE)
    out["timestamp_ns"] = [e["timestamp_ns"] for e in entries]
    out["token_id"] = [e["token_id"] for e in entries]
    out["layer_id"] = [_layer(e.get("layer_id")) for e in entries]
    out["thread_id"] = [int(e.get("thread_id") or 0) & 0xFFFF for e in entries]
    out["operation_type"] = [codes.get(e["operation_type"], UNKNOWN_OP_CODE) for e in entries]
    out["phase"] = [phases.get(e.get("phase"), 2) for e in entries]
    out["num_sources"] = [min(int(e.get("num_sources", len(e.get("sources") or ()))), 255) for e in entries]
    out["dst_name"] = [_name(e.get("dst_name")) for e in entries]
    out["num_experts"] = [min(int(e.get("num_experts") or 0), 255) for e in entries]
    for i, e in enumerate(entries):
        ids = (e.get("expert_ids") or [])[:MAX_EXPERTS]
        if ids:
            out["expert_ids"][i, : len(ids)] = ids
        srcs = out["sources"][i]
        for j, s in enumerate((e.get("sources") or [])[:MAX_SOURCES]):
            ms = mem.get(s.get("memory_source"), 2)
            srcs[j] = (
                _name(s.get("name")),
                _pointer(s.get("tensor_ptr")),
                int(s.get("size_bytes") or 0) & 0xFFFFFFFF,
                _layer(s.get("layer_id")),
                ms,
                b"\0",
                int((s.get("disk_offset") if ms == 0 else s.get("buffer_id")) or 0),
                NO_TENSOR_IDX,
                b"\0" * 4,
            )
    return out


def records_to_entries(rec: np.ndarray, op_table: str, first_entry_ts: int | None = None) -> list[dict]:
    """``RECORD_DTYPE`` records -> JSON entries as the old parser exported them."""
    ops = op_names(op_table)
    t0 = int(rec["timestamp_ns"][0]) if first_entry_ts is None and len(rec) else (first_entry_ts or 0)
    entries = []
    for i, r in enumerate(rec.tolist()):
        ts, token, layer, thread, op, phase, nsrc, _, dst, sources, ids, nexp, _ = r
        out_sources = []
        for s in sources[: min(nsrc, MAX_SOURCES)].tolist():
            name, ptr, size, slayer, ms, _, value, _, _ = s
            d = {
                "name": name.split(b"\0", 1)[0].decode("utf-8", "replace"),
                "tensor_ptr": hex(ptr),
                "size_bytes": size,
                "layer_id": None if slayer == NO_LAYER else slayer,
                "memory_source": MEMORY_SOURCES[min(ms, 2)],
            }
            d["disk_offset" if ms == 0 else "buffer_id"] = value
            out_sources.append(d)
        entries.append(
            {
                "entry_id": i,
                "timestamp_ns": ts,
                "timestamp_relative_ms": round((ts - t0) / 1e6, 3),
                "token_id": token,
                "layer_id": None if layer == NO_LAYER else layer,
                "thread_id": thread,
                "phase": PHASES[min(phase, 2)],
                "operation_type": ops[op] if op < len(ops) else f"UNKNOWN_{op}",
                "dst_name": dst.split(b"\0", 1)[0].decode("utf-8", "replace"),
                "num_sources": nsrc,
                "sources": out_sources,
                "expert_ids": ids[: min(nexp, MAX_EXPERTS)].tolist(),
                "num_experts": nexp,
            }
        )
    return entries


def token_document(token_id: int, entries: list[dict]) -> dict:
    ts = [e["timestamp_ns"] for e in entries]
    return {
        "token_id": token_id,
        "metadata": {
            "total_entries": len(entries),
            "duration_ms": round((max(ts) - min(ts)) / 1e6, 3) if ts else 0.0,
            "timestamp_start_ns": min(ts) if ts else 0,
            "format_version": "1024-byte",
        },
        "entries": entries,
    }
