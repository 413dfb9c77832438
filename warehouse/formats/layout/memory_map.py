"""The old pipeline's memory-map.json::

    {model_name, total_size_bytes, metadata: {n_layers, n_vocab, n_embd, n_tensors},
     tensors: [{name, offset_start, offset_end, size_bytes, shape, category, layer_id,
                component, component_type, expert_id?}]}

Offsets are absolute. Expert weights are split into ``NAME[e]`` entries; expert biases are not.
The file's own category/component labels are not kept: the warehouse derives its own from the
tensor name, the same way for every layout source.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ..jsonfile import parse_json
from ..limits import INT32_MAX, INT64_MAX, MAX_EXPERTS, MAX_LAYER
from .entries import LayoutEntry, LegacyLayout, split_name


def _is_int(v, maximum: int = INT64_MAX) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v <= maximum


def decode(path: Path, data: bytes, fingerprint: str) -> LegacyLayout:
    doc = parse_json(path, data, "memory-map.json")
    if not isinstance(doc, dict) or not isinstance(doc.get("tensors"), list):
        raise InputError(path, "not a memory-map.json: no \"tensors\" list at the top level")

    facts: dict[str, int] = {}
    if _is_int(doc.get("total_size_bytes")) and doc["total_size_bytes"] >= 0:
        facts["file_size_bytes"] = doc["total_size_bytes"]
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        for key in ("n_layers", "n_vocab", "n_embd"):
            if _is_int(meta.get(key), INT32_MAX) and meta[key] >= 0:
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
                raise InputError(path, f"tensor {name!r}: {key} is {_short(t.get(key))}, not an integer in "
                                 f"[0, 2^63)", record=i)
        if t["offset_end"] - t["offset_start"] != t["size_bytes"]:
            raise InputError(path, f"tensor {name!r}: offset_end - offset_start = "
                             f"{t['offset_end'] - t['offset_start']} but size_bytes = {t['size_bytes']}", record=i)
        shape = t.get("shape")
        dims = None
        if shape is not None:
            if not isinstance(shape, list) or len(shape) > 4 or not all(_is_int(d) and d >= 0 for d in shape):
                raise InputError(path, f"tensor {name!r}: shape {_short(shape)} is not a list of at most 4 sizes",
                                 record=i)
            dims = tuple(shape)
        layer = t.get("layer_id")
        if layer is not None and (not _is_int(layer, MAX_LAYER) or layer < -1):
            raise InputError(path, f"tensor {name!r}: layer_id {_short(layer)} is not an integer in [-1, {MAX_LAYER}]",
                             record=i)
        _, expert = split_name(name)
        if expert is None and t.get("expert_id") is not None:
            if not _is_int(t["expert_id"], MAX_EXPERTS - 1) or t["expert_id"] < 0:
                raise InputError(path, f"tensor {name!r}: expert_id {_short(t['expert_id'])} is not an integer in "
                                 f"[0, {MAX_EXPERTS})", record=i)
            expert = t["expert_id"]
        entries.append(LayoutEntry(name, t["offset_start"], t["size_bytes"],
                                   None if layer is None or layer < 0 else layer, dims, expert, i))
    if not entries:
        raise InputError(path, "memory-map.json lists no tensors")
    model_name = doc.get("model_name") if isinstance(doc.get("model_name"), str) and doc["model_name"].strip() else None
    return LegacyLayout("memory-map-json", path, len(data), fingerprint, entries, facts, model_name)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
