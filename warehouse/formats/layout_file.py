"""Layout files of the old pipeline (gguf-dump CSV, memory-map.json): what they decode to, and
telling them apart by content.

Both formats list tensors (or expert slices ``NAME[e]``) with absolute offsets and sizes but
lack the ggml type and most model facts; ``LegacyLayout.facts`` holds what the file does say.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class LayoutEntry:
    name: str  # as written: a tensor name or NAME[e]
    offset_start: int
    size_bytes: int
    layer_id: int | None
    dims: tuple[int, ...] | None  # ne0, ne1, ... of this entry; None when the file has no shape
    expert_id: int | None  # from NAME[e] (or the file's own expert_id field)
    record: int  # line number (CSV) or index in "tensors" (JSON), for error messages


@dataclass
class LegacyLayout:
    kind: str  # 'gguf-dump-csv' | 'memory-map-json'
    path: Path
    file_size: int  # of the layout file itself
    fingerprint: str  # sha256 hex of the file's bytes
    entries: list[LayoutEntry]
    # Facts the file states: file_size_bytes, data_offset, alignment, n_layers, n_vocab, n_embd,
    # n_tensors. Absent keys are unknown.
    facts: dict[str, int] = field(default_factory=dict)


def read_layout_file(path: str | os.PathLike) -> LegacyLayout:
    """Decode a gguf-dump CSV or a memory-map.json, recognised by content, not by file name."""
    from . import layout_csv, memory_map

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    # The old dumper's preamble itself starts "GGUF file: ...", so a model file is recognised by
    # its binary version field after the magic, not by the magic alone.
    if data[:4] == b"GGUF" and b"\0" in data[4:8]:
        raise InputError(path, "this is a GGUF model file, not a layout file; use `moewh ingest model`", offset=0)
    fingerprint = hashlib.sha256(data).hexdigest()
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        return memory_map.decode(path, data, fingerprint)
    if layout_csv.find_header(data) is not None:
        return layout_csv.decode(path, data, fingerprint)
    raise InputError(path, "neither a memory-map.json (no JSON object) nor a gguf-dump CSV (no header line "
                     f"{layout_csv.HEADER_PREFIX!r}...)", offset=0)
