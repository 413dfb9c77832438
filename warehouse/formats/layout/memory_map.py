"""The old pipeline's memory-map.json::

    {model_name, total_size_bytes, metadata: {n_layers, n_vocab, n_embd, n_tensors},
     tensors: [{name, offset_start, offset_end, size_bytes, shape, category, layer_id,
                component, component_type, expert_id?}]}

Offsets are absolute. Expert weights are split into ``NAME[e]`` entries; expert biases are not.
The file's own category/component labels are not kept: the warehouse derives its own from the
tensor name, the same way for every layout source.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import InputError
from .entries import LayoutEntry, LegacyLayout, split_name


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def decode(path: Path, data: bytes, fingerprint: str) -> LegacyLayout:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", offset=exc.start) from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc.msg}", offset=exc.pos) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tensors"), list):
        raise InputError(path, "not a memory-map.json: no \"tensors\" list at the top level")

    facts: dict[str, int] = {}
    if _is_int(doc.get("total_size_bytes")):
        facts["file_size_bytes"] = doc["total_size_bytes"]
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        for key in ("n_layers", "n_vocab", "n_embd"):
            if _is_int(meta.get(key)):
                facts[key] = meta[key]

    entries: list[LayoutEntry] = []
    for i, t in enumerate(doc["tensors"]):
        if not isinstance(t, dict):
            raise InputError(path, "tensor entry is not an object", record=i)
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(path, "tensor entry has no name", record=i)
        for key in ("offset_start", "offset_end", "size_bytes"):
            if not _is_int(t.get(key)) or t[key] < 0:
                raise InputError(path, f"tensor {name!r}: {key} is {t.get(key)!r}, not a non-negative integer",
                                 record=i)
        if t["offset_end"] - t["offset_start"] != t["size_bytes"]:
            raise InputError(path, f"tensor {name!r}: offset_end - offset_start = "
                             f"{t['offset_end'] - t['offset_start']} but size_bytes = {t['size_bytes']}", record=i)
        shape = t.get("shape")
        dims = None
        if shape is not None:
            if not isinstance(shape, list) or len(shape) > 4 or not all(_is_int(d) and d >= 0 for d in shape):
                raise InputError(path, f"tensor {name!r}: shape {shape!r} is not a list of at most 4 sizes",
                                 record=i)
            dims = tuple(shape)
        layer = t.get("layer_id")
        if layer is not None and (not _is_int(layer) or layer < -1):
            raise InputError(path, f"tensor {name!r}: layer_id {layer!r} is not an integer", record=i)
        _, expert = split_name(name)
        if expert is None and _is_int(t.get("expert_id")):
            expert = t["expert_id"]
        entries.append(LayoutEntry(name, t["offset_start"], t["size_bytes"],
                                   None if layer is None or layer < 0 else layer, dims, expert, i))
    if not entries:
        raise InputError(path, "memory-map.json lists no tensors")
    model_name = doc.get("model_name") if isinstance(doc.get("model_name"), str) and doc["model_name"].strip() else None
    return LegacyLayout("memory-map-json", path, len(data), fingerprint, entries, facts, model_name)
