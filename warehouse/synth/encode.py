"""Trace encoders: write decoded records (``RECORD_DTYPE`` arrays) in every tracer format.

- ``write_records``: 1024-byte records, optionally as part of a larger stream (append).
- ``write_legacy``: 256-byte records of the older tracer (names cut, no expert ids), op codes
  renumbered from the 2026 table into the legacy table by name.
- ``write_token_json``: the old parser's per-token JSON export, one file per token label.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..formats.trace import op_tables
from ..formats.trace.legacy import from_records
from ..formats.trace.records import RECORD_DTYPE
from ..formats.trace.token_json import records_to_entries, token_document


def write_records(f, rec: np.ndarray) -> None:
    """Append 1024-byte records to the open binary file ``f``."""
    assert rec.dtype == RECORD_DTYPE
    f.write(rec.tobytes())


def legacy_op_codes(codes: np.ndarray, table: str = op_tables.DEFAULT_TABLE) -> np.ndarray:
    """Renumber op codes of ``table`` into the legacy table; ops it lacks become 255."""
    src = op_tables.names(table)
    legacy = op_tables.names(op_tables.LEGACY_TABLE)
    lut = np.full(256, 255, dtype=np.uint8)
    for code, name in enumerate(src):
        if name in legacy:
            lut[code] = legacy.index(name)
    return lut[codes]


def legacy_records(rec: np.ndarray, table: str = op_tables.DEFAULT_TABLE) -> np.ndarray:
    """The same records as an older tracer build wrote them.

    Ops the older ggml did not have (ADD_ID, GLU, SET_ROWS, ...) are left out: those graphs
    did not contain them.
    """
    codes = legacy_op_codes(rec["operation_type"], table)
    keep = codes != 255
    out = from_records(rec[keep])
    out["operation_type"] = codes[keep]
    return out


def write_legacy(path: str | os.PathLike, rec: np.ndarray, table: str = op_tables.DEFAULT_TABLE) -> np.ndarray:
    """Write ``rec`` as 256-byte records; returns the legacy records written."""
    out = legacy_records(rec, table)
    Path(path).write_bytes(out.tobytes())
    return out


def write_token_json(folder: str | os.PathLike, rec: np.ndarray, table: str = op_tables.DEFAULT_TABLE) -> list[Path]:
    """Write ``rec`` as ``folder/token-NNNNN.json`` files, one per run of equal token labels."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokens = rec["token_id"]
    cuts = np.flatnonzero(np.diff(tokens.astype(np.int64)) != 0) + 1
    written = []
    for part in np.split(np.arange(len(rec)), cuts):
        if not len(part):
            continue
        token = int(tokens[part[0]])
        path = folder / f"token-{token:05d}.json"
        if path.exists():
            raise FileExistsError(f"{path}: token label {token} appears twice, not in one run of records")
        entries = records_to_entries(rec[part], table)
        path.write_text(json.dumps(token_document(token, entries), indent=1))
        written.append(path)
    return written
