"""A plain-Python cache simulator written straight from the rules, one access at a time.

Slow on purpose (lists, sets and min() over the residents): it exists so that the compiled
engine can be compared with something obviously right. It never shares code with the engine.

Rules: items are (layer, expert). A miss inserts the item (static: streams it and keeps the
fixed set) and evicts while over capacity, never the item being inserted; capacity 0 caches
nothing. lru evicts the least recently used, fifo the earliest inserted, lfu the fewest
accesses since the start (resident or not; ties to the least recently used), belady the item
whose next access is farthest (never = infinitely far; ties to the lower layer, then the lower
expert). Scope layer gives each layer its own cache of capacity // n_layers items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class ReferenceResult:
    hits: dict[int, int] = field(default_factory=dict)  # layer -> hits
    accesses: dict[int, int] = field(default_factory=dict)  # layer -> accesses
    bytes_loaded: dict[int, int] = field(default_factory=dict)  # layer -> bytes of misses
    max_resident_bytes: int = 0  # largest sum of resident item sizes (all caches) seen
    hit_flags: list[bool] = field(default_factory=list)  # one per access


def _next_access(accesses, i, item):
    for j in range(i + 1, len(accesses)):
        if accesses[j] == item:
            return j
    return math.inf


def simulate_reference(accesses: list[tuple[int, int]], policy: str, capacity: int, scope: str,
                       n_layers: int, sizes: dict[tuple[int, int], int] | None = None,
                       train_counts: dict[tuple[int, int], int] | None = None,
                       all_items: list[tuple[int, int]] | None = None) -> ReferenceResult:
    """Simulate one cache (or one per layer) over ``accesses``, a list of (layer, expert).

    ``all_items`` is every item of the model (static picks its resident set among them);
    ``train_counts`` the training activations per item; ``sizes`` bytes per item.
    """
    sizes = sizes or {}
    res = ReferenceResult()
    if scope == "global":
        caches = {None: capacity}
    else:
        caches = {layer: capacity // n_layers for layer in range(n_layers)}

    def cache_of(item):
        return None if scope == "global" else item[0]

    resident: dict[object, list] = {c: [] for c in caches}  # lfu/lru/fifo/belady: list of items
    inserted_at: dict[tuple[int, int], int] = {}
    last_used: dict[tuple[int, int], int] = {}
    uses: dict[tuple[int, int], int] = {}

    if policy == "static":
        counts = train_counts or {}
        for c, cap in caches.items():
            candidates = [it for it in (all_items or []) if c is None or it[0] == c]
            candidates.sort(key=lambda it: (-counts.get(it, 0), it[0], it[1]))
            resident[c] = candidates[:cap]

    for i, item in enumerate(accesses):
        c = cache_of(item)
        cap = caches[c]
        layer = item[0]
        res.accesses[layer] = res.accesses.get(layer, 0) + 1
        res.hits.setdefault(layer, 0)
        res.bytes_loaded.setdefault(layer, 0)
        uses[item] = uses.get(item, 0) + 1
        hit = item in resident[c]
        res.hit_flags.append(hit)
        if hit:
            res.hits[layer] += 1
        else:
            res.bytes_loaded[layer] += sizes.get(item, 0)
            if policy != "static" and cap > 0:
                resident[c].append(item)
                inserted_at[item] = i
                while len(resident[c]) > cap:
                    others = [r for r in resident[c] if r != item]
                    if policy == "lru":
                        victim = min(others, key=lambda r: last_used[r])
                    elif policy == "fifo":
                        victim = min(others, key=lambda r: inserted_at[r])
                    elif policy == "lfu":
                        victim = min(others, key=lambda r: (uses[r], last_used[r]))
                    elif policy == "belady":
                        victim = max(others, key=lambda r: (_next_access(accesses, i, r), -r[0], -r[1]))
                    else:
                        raise ValueError(f"unknown policy {policy!r}")
                    resident[c].remove(victim)
        last_used[item] = i
        held = sum(sizes.get(r, 0) for rs in resident.values() for r in rs)
        res.max_resident_bytes = max(res.max_resident_bytes, held)
    return res
