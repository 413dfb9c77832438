"""What a layout file of the old pipeline decodes to: its entries and the facts it states.

Both formats list tensors (or expert slices ``NAME[e]``) with absolute offsets and sizes but
lack the ggml type and most model facts; ``LegacyLayout.facts`` holds what the file does say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# At most 9 digits: a longer index is no expert slice (and int() of it could not fail on length).
_SLICE = re.compile(r"^(?P<base>.+)\[(?P<e>\d{1,9})\]$")


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
    model_name: str | None = None  # the model the file describes, where it says (memory-map.json)


def split_name(name: str) -> tuple[str, int | None]:
    """``blk.0.ffn_up_exps.weight[7]`` -> (``blk.0.ffn_up_exps.weight``, 7)."""
    m = _SLICE.match(name)
    return (m.group("base"), int(m.group("e"))) if m else (name, None)
