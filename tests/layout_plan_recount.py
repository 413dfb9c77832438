"""An independent recount of the layout planner, in plain Python, from the issue's definitions.

No NumPy and nothing of warehouse.layout.plan: rows are dicts, orders are lists of pieces
(a piece is a list of rows that sit back to back; every piece starts on the alignment), and a
step's figures come from walking its touched rows in offset order.
"""

from __future__ import annotations

from collections import Counter


def _group(row) -> int:
    if row["layer_id"] is not None:
        return 1
    return 0 if row["category"] == "embedding" else 2


def _tensors(rows):
    """Whole tensors (lists of their rows in file order), in file order of their first byte."""
    by_base: dict[str, list] = {}
    for r in sorted(rows, key=lambda r: r["offset_start"]):
        by_base.setdefault(r["base_name"], []).append(r)
    return sorted(by_base.values(), key=lambda t: t[0]["offset_start"])


def pieces(rows, order: str, perms: dict[int, list[int]] | None = None):
    tensors = _tensors(rows)
    blockwise = sorted(tensors, key=lambda t: (_group(t[0]), t[0]["layer_id"] or 0, t[0]["offset_start"]))
    if order == "layer":
        return blockwise
    if order in ("hot-first", "coact"):
        out = []
        for t in blockwise:
            if t[0]["expert_id"] is None:
                out.append(t)
            else:
                place = {e: j for j, e in enumerate(perms[t[0]["layer_id"]])}
                out.append(sorted(t, key=lambda r: place[r["expert_id"]]))
        return out
    if order == "expert-major":
        out = []
        blocks: dict[tuple, list] = {}
        for t in blockwise:
            blocks.setdefault((_group(t[0]), t[0]["layer_id"]), []).append(t)
        for key in sorted(blocks, key=lambda k: (k[0], k[1] or 0)):
            ts = blocks[key]
            out += [t for t in ts if t[0]["expert_id"] is None]
            expert_rows = [r for t in ts if t[0]["expert_id"] is not None for r in t]
            for e in sorted({r["expert_id"] for r in expert_rows}):
                out += [[r] for r in sorted(expert_rows, key=lambda r: r["offset_start"]) if r["expert_id"] == e]
        return out
    raise ValueError(order)


def offsets(rows, order: str, data_offset: int, alignment: int, perms=None) -> dict[str, int]:
    if order == "file":
        return {r["tensor_name"]: r["offset_start"] for r in rows}
    out, cursor = {}, data_offset
    for piece in pieces(rows, order, perms):
        while (cursor - data_offset) % alignment:
            cursor += 1
        for r in piece:
            out[r["tensor_name"]] = cursor
            cursor += r["size_bytes"]
    return out


def hot_first(selections_by_step, n_layers: int, n_experts: int) -> dict[int, list[int]]:
    """selections_by_step: list of {layer: set(experts)}."""
    acts = {la: Counter() for la in range(n_layers)}
    for sel in selections_by_step:
        for la, es in sel.items():
            acts[la].update(set(es))
    return {la: sorted(range(n_experts), key=lambda e: (-acts[la][e], e)) for la in range(n_layers)}


def coact(selections_by_step, n_layers: int, n_experts: int) -> dict[int, list[int]]:
    out = {}
    for la in range(n_layers):
        acts, co = Counter(), Counter()
        for sel in selections_by_step:
            es = sorted(set(sel.get(la, ())))
            acts.update(es)
            for i, a in enumerate(es):
                for b in es[i + 1:]:
                    co[(a, b)] += 1
                    co[(b, a)] += 1
        chain = [min(range(n_experts), key=lambda e: (-acts[e], e))]
        while len(chain) < n_experts:
            last = chain[-1]
            rest = [e for e in range(n_experts) if e not in chain]
            chain.append(min(rest, key=lambda e: (-co[(last, e)], -acts[e], e)))
        out[la] = chain
    return out


def step_figures(touched_rows, new_offset: dict[str, int], page: int, readahead: int, merge_gap: int,
                 read: dict[str, int] | None = None) -> dict:
    """bytes, extents, pages and readahead windows of one step (rows of 0 bytes ignored).

    ``read``: bytes read of rows read only in part (the token embedding's gathered rows),
    taken from the row's start, since which rows is not recorded."""
    read = read or {}

    def nbytes(r):
        return min(read.get(r["tensor_name"], r["size_bytes"]), r["size_bytes"])

    spans = sorted((new_offset[r["tensor_name"]], new_offset[r["tensor_name"]] + nbytes(r))
                   for r in touched_rows if r["size_bytes"] > 0)
    extents, end = 0, None
    for s, e in spans:
        if end is None or s - end > merge_gap:
            extents += 1
        end = e if end is None else max(end, e)

    def units(size):
        seen = set()
        for s, e in spans:
            seen.update(range(s // size, (e - 1) // size + 1))
        return len(seen)

    return {"bytes": sum(nbytes(r) for r in touched_rows), "extents": extents,
            "pages": units(page), "windows": units(readahead)}


def union_units(spans, size: int) -> int:
    """Distinct size-aligned units overlapped, by merging unit intervals (for large files)."""
    total, lo, hi = 0, None, None
    for a, b in sorted((s // size, (e - 1) // size) for s, e in spans if e > s):
        if hi is None or a > hi:
            if hi is not None:
                total += hi - lo + 1
            lo, hi = a, b
        else:
            hi = max(hi, b)
    return total + (hi - lo + 1 if hi is not None else 0)


def percentile(values, q: float) -> float:
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])
