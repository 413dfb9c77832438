"""The access sequence of one run, as the cache simulators read it.

An item is one expert of one layer, numbered ``layer * n_experts + expert``: ascending item
ids are exactly the tie order the rules use (lower layer first, then lower expert id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

NEVER = np.iinfo(np.int64).max  # next use of an item that is never accessed again


@dataclass(frozen=True)
class AccessSequence:
    """Every access of a run in order. ``items`` and ``steps`` have one entry per access."""

    items: np.ndarray  # int32 item id per access
    steps: np.ndarray  # int32 decode step per access
    n_layers: int
    n_experts: int
    n_steps: int  # decode steps of the run (a step may have no accesses)
    sizes: np.ndarray | None = None  # int64 bytes per item (n_layers * n_experts), None if unknown

    def __post_init__(self) -> None:
        if self.sizes is not None and len(self.sizes) != self.n_items:
            raise ValueError(f"sizes has {len(self.sizes)} entries for {self.n_items} items")

    @property
    def n_items(self) -> int:
        return self.n_layers * self.n_experts

    @property
    def n_accesses(self) -> int:
        return len(self.items)

    @property
    def layers(self) -> np.ndarray:
        return (self.items // self.n_experts).astype(np.int32)

    @classmethod
    def from_selections(cls, steps, layers, experts, n_layers: int, n_experts: int, n_steps: int,
                        sizes=None) -> AccessSequence:
        """From selection rows already in access order (step, layer, rank), one per distinct
        expert of a step and layer; rows outside the layer x expert grid are left out."""
        steps = np.asarray(steps, dtype=np.int64)
        layers = np.asarray(layers, dtype=np.int64)
        experts = np.asarray(experts, dtype=np.int64)
        keep = (layers >= 0) & (layers < n_layers) & (experts >= 0) & (experts < n_experts)
        items = (layers[keep] * n_experts + experts[keep]).astype(np.int32)
        return cls(items, steps[keep].astype(np.int32), n_layers, n_experts, n_steps,
                   None if sizes is None else np.asarray(sizes, dtype=np.int64))

    def layer_part(self, layer: int) -> AccessSequence:
        """The accesses of one layer, in order (scope ``layer``: each layer its own cache)."""
        mask = self.layers == layer
        return AccessSequence(self.items[mask], self.steps[mask], self.n_layers, self.n_experts,
                              self.n_steps, self.sizes)

    def working_set_items(self) -> int:
        """The most distinct items any one step touches (n_layers x k for a complete trace)."""
        if not len(self.items):
            return 0
        # accesses of a step are distinct items (one per distinct expert of each layer)
        return int(np.bincount(self.steps).max())


@numba.njit(cache=True, nogil=True)
def _next_uses(items, n_items, out):
    seen = np.full(n_items, NEVER, np.int64)
    for i in range(len(items) - 1, -1, -1):
        out[i] = seen[items[i]]
        seen[items[i]] = i
    return out


def next_uses(items: np.ndarray, n_items: int | None = None) -> np.ndarray:
    """For each access, the index of the next access of the same item, or NEVER (one
    backward pass)."""
    items = np.asarray(items, dtype=np.int64)
    if n_items is None:
        n_items = int(items.max()) + 1 if len(items) else 0
    return _next_uses(items, n_items, np.empty(len(items), np.int64))


def capacity_from_budget(budget_bytes: int, sizes: np.ndarray) -> int:
    """Items a budget holds: floor(budget / item size). When items differ in size the largest
    counts, so that the resident bytes never exceed the budget whichever items are resident."""
    largest = int(np.max(sizes)) if len(sizes) else 0
    if largest <= 0:
        raise ValueError("item sizes must be positive to turn a byte budget into items")
    return int(budget_bytes) // largest
