"""The expert permutation a repacked GGUF records: ``moewh.expert_permutation.N`` per block N.

``moewh layout repack --order hot-first|coact`` renumbers each block's experts; the value of
``moewh.expert_permutation.N`` is a string of comma-separated original expert ids, one per
position: position j of block N holds original expert ids[j]. Model ingest names and
numbers a repacked file's expert slices by their original ids, and trace ingest maps the
selections of a trace of the repacked model back to them, so that both speak of the same
experts as the original model's layout and traces.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError

PERMUTATION_KEY = "moewh.expert_permutation."


def parse_permutation(text: str, n_experts: int) -> list[int]:
    """The ids of one value; raises ValueError unless it lists each of 0..n_experts-1 once."""
    try:
        ids = [int(x) for x in str(text).split(",")]
    except ValueError:
        ids = []
    if sorted(ids) != list(range(n_experts)):
        raise ValueError(f"{str(text)[:80]!r} is not a permutation of the {n_experts} expert ids")
    return ids


def file_permutations(values: dict[str, object], n_layers: int, n_experts: int, path) -> np.ndarray | None:
    """(n_layers, n_experts) original ids per position from a file's metadata ``values`` (key ->
    value; other keys ignored), identity for blocks without a key; None if the file has none."""
    keys = {k: v for k, v in values.items() if k.startswith(PERMUTATION_KEY)}
    if not keys:
        return None
    perms = np.tile(np.arange(n_experts, dtype=np.int64), (n_layers, 1))
    for key, value in keys.items():
        layer = key[len(PERMUTATION_KEY):]
        if not layer.isdigit() or int(layer) >= n_layers:
            raise InputError(path, f"metadata {key!r}: the model has no block {layer}")
        try:
            perms[int(layer)] = parse_permutation(value, n_experts)
        except ValueError as exc:
            raise InputError(path, f"metadata {key!r}: {exc}") from None
    return perms
