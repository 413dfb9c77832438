"""The fast cache policies: compiled (numba) kernels, every capacity of a sweep from one call.

lru and static are stack algorithms whose "depth" of an access (the smallest capacity at which
it hits) does not depend on the capacity: one pass gives every capacity at once (LRU stack
distances through a Fenwick tree over recency slots; static ranks from the training order).
For one to three capacities lru runs a linked recency list per capacity instead (O(1)).
fifo, lfu and belady loop over the capacities inside compiled code, O(1) (fifo) or
O(log capacity) (lfu, belady: a binary heap keyed as the rules order evictions) per access.

The rules (README, "Cache simulation"): a miss inserts the item and evicts while over
capacity, never the item being inserted; capacity 0 caches nothing. static never inserts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .sequence import AccessSequence, next_uses

POLICIES = ("lru", "fifo", "lfu", "static", "belady")
SCOPES = ("global", "layer")
_ITEM_BITS = 21  # belady keys pack (next use, item): item ids below 2**21
_FEW_CAPACITIES = 3  # lru: up to this many capacities one linked-list pass each, else stack distances
_jit = numba.njit(cache=True, nogil=True)


@dataclass(frozen=True)
class CacheResult:
    """Hits of one policy for each capacity, per layer. Rows follow ``capacities``."""

    capacities: np.ndarray  # int64, items (the whole cache; scope layer splits it)
    hits: np.ndarray  # int64 [capacity, layer]
    hit_bytes: np.ndarray  # int64 [capacity, layer], bytes of the accesses that hit
    accesses: np.ndarray  # int64 [layer]
    access_bytes: np.ndarray  # int64 [layer], bytes of all accesses

    @property
    def misses(self) -> np.ndarray:
        return self.accesses[None, :] - self.hits

    @property
    def bytes_loaded(self) -> np.ndarray:
        """[capacity, layer]: every miss loads (or, for static, streams) the item's bytes."""
        return self.access_bytes[None, :] - self.hit_bytes


# ---- depth-based policies: one pass, every capacity ------------------------------------------

@_jit
def _fenwick_add(tree, i, v):
    n = len(tree) - 1
    while i <= n:
        tree[i] += v
        i += i & -i


@_jit
def _lru_depths(items, n_items, out):
    """LRU stack distance of each access into ``out`` (1 = the most recent item, 0 = a first
    access).

    Each item marks the recency slot of its last access in a Fenwick tree; the distance is the
    number of marked slots after it. Slots are renumbered when they run out, so the tree stays
    a few times the item count (in cache) however long the sequence is."""
    n = len(items)
    width = max(4 * n_items, 64)
    tree = np.zeros(width + 1, np.int32)
    last = np.zeros(n_items, np.int64)  # slot of the item's last access, 0 = none yet
    cur = 1
    live = 0
    for i in range(n):
        x = items[i]
        s = last[x]
        d = 0
        if s > 0:
            # marked slots after s = live - prefix(s); remove the mark at s on the way
            pre = 0
            j = s
            while j > 0:
                pre += tree[j]
                j -= j & -j
            d = live - pre + 1
            _fenwick_add(tree, s, -1)
            live -= 1
            last[x] = 0  # unmarked: a renumbering below must not mark it again
        out[i] = d
        if cur > width:
            order = np.argsort(last)
            tree[:] = 0
            cur = 1
            for j in range(n_items):
                y = order[j]
                if last[y] > 0:
                    last[y] = cur
                    _fenwick_add(tree, cur, 1)
                    cur += 1
        last[x] = cur
        _fenwick_add(tree, cur, 1)
        cur += 1
        live += 1
    return out


@_jit
def _tally_depths(depth, per_item, items, layer_of, sizes, n_layers, caps):
    """hits and hit bytes per (capacity, layer) from depths: an access hits when its depth
    (>= 1; 0 = never) is at most the capacity. ``depth`` is per access, or per item when
    ``per_item`` (static's ranks)."""
    dmax = 0
    for c in caps:
        dmax = max(dmax, c)
    hist = np.zeros((n_layers, dmax + 2), np.int64)
    hbytes = np.zeros((n_layers, dmax + 2), np.int64)
    for i in range(len(items)):
        d = depth[items[i]] if per_item else depth[i]
        if d <= 0 or d > dmax:
            d = dmax + 1
        la = layer_of[items[i]]
        hist[la, d] += 1
        hbytes[la, d] += sizes[items[i]]
    for la in range(n_layers):
        for d in range(1, dmax + 1):
            hist[la, d] += hist[la, d - 1]
            hbytes[la, d] += hbytes[la, d - 1]
    hits = np.zeros((len(caps), n_layers), np.int64)
    hb = np.zeros((len(caps), n_layers), np.int64)
    for ci in range(len(caps)):
        for la in range(n_layers):
            hits[ci, la] = hist[la, caps[ci]]
            hb[ci, la] = hbytes[la, caps[ci]]
    return hits, hb


# ---- capacity loops --------------------------------------------------------------------------

@_jit
def _fifo(items, layer_of, sizes, n_layers, caps):
    n_items = len(layer_of)
    hits = np.zeros((len(caps), n_layers), np.int64)
    hb = np.zeros((len(caps), n_layers), np.int64)
    for ci in range(len(caps)):
        cap = caps[ci]
        if cap == 0:
            continue
        resident = np.zeros(n_items, np.bool_)
        ring = np.empty(cap, np.int64)
        head = 0
        size = 0
        for i in range(len(items)):
            x = items[i]
            if resident[x]:
                hits[ci, layer_of[x]] += 1
                hb[ci, layer_of[x]] += sizes[x]
            elif size < cap:
                ring[size] = x
                size += 1
                resident[x] = True
            else:
                resident[ring[head]] = False
                ring[head] = x
                resident[x] = True
                head += 1
                if head == cap:
                    head = 0
    return hits, hb


@_jit
def _lru_list(items, layer_of, sizes, n_layers, caps):
    """lru at each capacity with a doubly linked recency list: O(1) per access, faster than
    stack distances when a call asks for a few capacities only."""
    n_items = len(layer_of)
    hits = np.zeros((len(caps), n_layers), np.int64)
    hb = np.zeros((len(caps), n_layers), np.int64)
    for ci in range(len(caps)):
        cap = caps[ci]
        if cap == 0:
            continue
        head = n_items  # sentinel: nxt[head] is the most recent, prv[head] the least recent
        nxt = np.full(n_items + 1, head, np.int64)
        prv = np.full(n_items + 1, head, np.int64)
        resident = np.zeros(n_items, np.bool_)
        size = 0
        for i in range(len(items)):
            x = items[i]
            if resident[x]:
                hits[ci, layer_of[x]] += 1
                hb[ci, layer_of[x]] += sizes[x]
                nxt[prv[x]] = nxt[x]
                prv[nxt[x]] = prv[x]
            elif size < cap:
                resident[x] = True
                size += 1
            else:
                old = prv[head]
                prv[head] = prv[old]
                nxt[prv[old]] = head
                resident[old] = False
                resident[x] = True
            first = nxt[head]
            nxt[x] = first
            prv[x] = head
            prv[first] = x
            nxt[head] = x
    return hits, hb


@_jit
def _sift_up(keys, heap, pos, i, sign):
    """Move heap[i] up while its key is below its parent's (times ``sign``: 1 for a min-heap)."""
    k = keys[i]
    x = heap[i]
    while i > 0:
        p = (i - 1) >> 1
        if sign * keys[p] <= sign * k:
            break
        keys[i] = keys[p]
        heap[i] = heap[p]
        pos[heap[i]] = i
        i = p
    keys[i] = k
    heap[i] = x
    pos[x] = i


@_jit
def _sift_down(keys, heap, pos, i, size, sign):
    k = keys[i]
    x = heap[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and sign * keys[c + 1] < sign * keys[c]:
            c += 1
        if sign * keys[c] >= sign * k:
            break
        keys[i] = keys[c]
        heap[i] = heap[c]
        pos[heap[i]] = i
        i = c
    keys[i] = k
    heap[i] = x
    pos[x] = i


@_jit
def _lfu(items, layer_of, sizes, n_layers, caps):
    """Min-heap on (accesses since the start, last access): the root is the item to evict."""
    n_items = len(layer_of)
    hits = np.zeros((len(caps), n_layers), np.int64)
    hb = np.zeros((len(caps), n_layers), np.int64)
    for ci in range(len(caps)):
        cap = caps[ci]
        if cap == 0:
            continue
        keys = np.empty(cap, np.int64)
        heap = np.empty(cap, np.int64)
        pos = np.full(n_items, -1, np.int64)
        count = np.zeros(n_items, np.int64)
        size = 0
        for i in range(len(items)):
            x = items[i]
            count[x] += 1
            key = (count[x] << 32) | i
            p = pos[x]
            if p >= 0:
                hits[ci, layer_of[x]] += 1
                hb[ci, layer_of[x]] += sizes[x]
                keys[p] = key  # count and time only grow: the item sinks
                _sift_down(keys, heap, pos, p, size, 1)
            elif size < cap:
                keys[size] = key
                heap[size] = x
                pos[x] = size
                size += 1
                _sift_up(keys, heap, pos, size - 1, 1)
            else:
                pos[heap[0]] = -1
                keys[0] = key
                heap[0] = x
                pos[x] = 0
                _sift_down(keys, heap, pos, 0, size, 1)
    return hits, hb


@_jit
def _belady(items, layer_of, sizes, n_layers, caps, nxt):
    """Max-heap of keys (next use << 21 | (mask - item)): the root is the resident item used
    farthest in the future (never = after the last access), the lower item among the never
    used again. The item is part of its key, so the heap holds keys only."""
    n_items = len(layer_of)
    hits = np.zeros((len(caps), n_layers), np.int64)
    hb = np.zeros((len(caps), n_layers), np.int64)
    mask = (1 << 21) - 1
    n = len(items)
    for ci in range(len(caps)):
        cap = caps[ci]
        if cap == 0:
            continue
        keys = np.empty(cap, np.int64)
        pos = np.full(n_items, -1, np.int64)
        size = 0
        for i in range(n):
            x = items[i]
            nu = nxt[i]
            if nu > n:
                nu = n
            key = (nu << 21) | (mask - x)
            p = pos[x]
            if p >= 0:
                hits[ci, layer_of[x]] += 1
                hb[ci, layer_of[x]] += sizes[x]
                # its next use was now, the nearest of all: the new one is later, so it rises
                while p > 0:
                    q = (p - 1) >> 1
                    if keys[q] >= key:
                        break
                    keys[p] = keys[q]
                    pos[mask - (keys[p] & mask)] = p
                    p = q
                keys[p] = key
                pos[x] = p
                continue
            if size < cap:
                p = size
                size += 1
                while p > 0:
                    q = (p - 1) >> 1
                    if keys[q] >= key:
                        break
                    keys[p] = keys[q]
                    pos[mask - (keys[p] & mask)] = p
                    p = q
            else:
                pos[mask - (keys[0] & mask)] = -1
                p = 0
                while True:
                    c = 2 * p + 1
                    if c >= size:
                        break
                    if c + 1 < size and keys[c + 1] > keys[c]:
                        c += 1
                    if keys[c] <= key:
                        break
                    keys[p] = keys[c]
                    pos[mask - (keys[p] & mask)] = p
                    p = c
            keys[p] = key
            pos[x] = p
    return hits, hb


# ---- the entry point -------------------------------------------------------------------------

def static_order(train_counts: np.ndarray, n_experts: int, scope: str) -> np.ndarray:
    """Items in the order static keeps them: most training activations first, ties to the
    lower layer, then the lower expert (the lower item id). Scope layer orders within each
    layer (the result lists layer 0's order, then layer 1's, ...)."""
    counts = np.asarray(train_counts, dtype=np.int64)
    ids = np.arange(len(counts))
    if scope == "layer":
        return np.lexsort((ids, -counts, ids // n_experts))
    return np.lexsort((ids, -counts))


def static_ranks(train_counts: np.ndarray, n_experts: int, scope: str) -> np.ndarray:
    """Per item its 1-based place in static's order (within its layer for scope layer): the
    item is resident exactly when its rank is at most the capacity."""
    order = static_order(train_counts, n_experts, scope)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    if scope == "layer":
        rank -= (np.arange(len(order)) // n_experts) * n_experts
    return rank


def _one_cache(seq: AccessSequence, policy: str, caps: np.ndarray, ranks) -> tuple[np.ndarray, np.ndarray]:
    items = seq.items
    layer_of = np.arange(seq.n_items, dtype=np.int64) // seq.n_experts
    sizes = seq.sizes if seq.sizes is not None else np.zeros(seq.n_items, np.int64)
    caps = np.minimum(caps, seq.n_items).astype(np.int64)  # more room than items changes nothing
    n_items, n_layers = seq.n_items, seq.n_layers
    if policy == "lru" and len(caps) <= _FEW_CAPACITIES:
        return _lru_list(items, layer_of, sizes, n_layers, caps)
    if policy == "lru":
        depth = _lru_depths(items, n_items, np.empty(len(items), np.int64))
        return _tally_depths(depth, False, items, layer_of, sizes, n_layers, caps)
    if policy == "static":
        return _tally_depths(ranks, True, items, layer_of, sizes, n_layers, caps)
    if policy == "fifo":
        return _fifo(items, layer_of, sizes, n_layers, caps)
    if n_items >= 1 << _ITEM_BITS:
        raise ValueError(f"{n_items} items: the heap keys hold item ids below 2**{_ITEM_BITS}")
    if policy == "lfu":
        return _lfu(items, layer_of, sizes, n_layers, caps)
    return _belady(items, layer_of, sizes, n_layers, caps, next_uses(items, n_items))


def simulate(seq: AccessSequence, policy: str, capacities, scope: str = "global",
             train_counts: np.ndarray | None = None) -> CacheResult:
    """Hits of ``policy`` at every capacity (items) of ``capacities``.

    Scope ``layer`` gives each layer its own cache of ``capacity // n_layers`` items.
    ``train_counts`` (activations per item in the training runs) is static's resident order;
    other policies ignore it.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; scopes: {', '.join(SCOPES)}")
    caps = np.asarray(capacities, dtype=np.int64).reshape(-1)
    if (caps < 0).any():
        raise ValueError("capacities are at least 0 items")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; policies: {', '.join(POLICIES)}")
    per_item = np.bincount(seq.items, minlength=seq.n_items).astype(np.int64)
    accesses = per_item.reshape(seq.n_layers, seq.n_experts).sum(axis=1)
    sizes = seq.sizes if seq.sizes is not None else np.zeros(seq.n_items, np.int64)
    access_bytes = (per_item * sizes).reshape(seq.n_layers, seq.n_experts).sum(axis=1)
    ranks = None
    if policy == "static":
        counts = np.zeros(seq.n_items, np.int64) if train_counts is None else np.asarray(train_counts, np.int64)
        ranks = static_ranks(counts, seq.n_experts, scope)
    if scope == "global":
        hits, hit_bytes = _one_cache(seq, policy, caps, ranks)
    else:
        hits = np.zeros((len(caps), seq.n_layers), np.int64)
        hit_bytes = np.zeros_like(hits)
        per_layer = caps // max(seq.n_layers, 1)
        for la in range(seq.n_layers):
            if accesses[la] == 0:
                continue
            h, hb = _one_cache(seq.layer_part(la), policy, per_layer, ranks)
            hits[:, la] = h[:, la]
            hit_bytes[:, la] = hb[:, la]
    return CacheResult(caps, hits, hit_bytes, accesses, access_bytes)
