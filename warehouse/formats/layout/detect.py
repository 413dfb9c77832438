"""Telling the old pipeline's layout files (gguf-dump CSV, memory-map.json) apart by content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ...errors import InputError
from ..files import read_regular
from ..jsonfile import strip_bom
from . import gguf_dump_csv as layout_csv
from . import memory_map
from .entries import LegacyLayout


def read_layout_file(path: str | os.PathLike) -> LegacyLayout:
    """Decode a gguf-dump CSV or a memory-map.json, recognised by content, not by file name."""
    path = Path(path)
    data = read_regular(path, "layout")
    # The old dumper's preamble itself starts "GGUF file: ...", so a model file is recognised by
    # its binary version field after the magic, not by the magic alone.
    if data[:4] == b"GGUF" and b"\0" in data[4:8]:
        raise InputError(path, "this is a GGUF model file, not a layout file; use `moewh ingest model`", offset=0)
    fingerprint = hashlib.sha256(data).hexdigest()
    stripped = strip_bom(data).lstrip()
    if stripped[:1] == b"{":
        return memory_map.decode(path, data, fingerprint)
    if layout_csv.find_header(strip_bom(data)) is not None:
        return layout_csv.decode(path, strip_bom(data), fingerprint)
    raise InputError(path, "neither a memory-map.json (no JSON object) nor a gguf-dump CSV (no header line "
                     f"{layout_csv.HEADER_PREFIX!r}...)", offset=0)
