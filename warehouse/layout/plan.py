"""Profile-guided file layout: replay decode steps against candidate byte orders of a model.

Pure library over plain arrays (no database): ``Layout`` holds a model's layout rows (as
``v1.tensors`` lists them), ``Steps`` the rows each decode step touched (the expert slices its
selection touches, as ``v1.expert_slice_accesses`` counts them, and the dense tensors it read,
as ``v1.pass_tensor_reads`` does). ``order_offsets`` places every row at a new offset for one
candidate order; ``score`` replays the steps against it.

The orders (every one but ``file`` packs the rows from the data section's start, each whole
tensor starting on the model's alignment as GGUF writers place them; an expert-major slice is
its own piece and so starts aligned too):

- ``file``: today's offsets, unchanged;
- ``layer``: every tensor of block 0, then block 1, ... in file order inside a block; tensors
  outside blocks keep their file order, embeddings before block 0 and the rest after the last;
- ``expert-major``: blocks as in ``layer``; inside a block its dense tensors first, then the
  gate, up and down slices and the split biases of expert 0 (in file order), then of expert 1, ...;
- ``hot-first``: ``layer`` order with the slices inside every expert tensor of a block
  permuted: experts by descending activations (decode steps that selected them) in the
  training runs, ties by expert id;
- ``coact``: ``layer`` order with the slices permuted by a greedy nearest-neighbour chain
  on the training runs' co-activation counts: start at the layer's hottest expert, then
  repeatedly append the unplaced expert co-selected most often with the last one placed (ties:
  more activations, then lower id).

A permutation ``perm`` lists, for each new position j of a layer, the original expert id
placed there (``perm[j] = e``); ``moewh layout repack`` writes the same permutations.

Per step, with the touched rows sorted by their new offset (rows of 0 bytes ignored):
bytes touched (the same in every order; a tensor the step read only in part, the token
embedding's GET_ROWS, counts the bytes read, as v1.pass_tensor_reads.read_bytes, and is placed
as that many bytes from the row's start, since which rows were gathered is not recorded), read extents (maximal runs of touched rows, two
merged when the gap between them is at most ``merge_gap`` bytes), pages (distinct ``page``-
aligned pages of the file the rows overlap) and readahead windows (the same with ``readahead``).
Per run: their mean, p50 and p95 over the run's steps (linear interpolation, as NumPy and
``v1.run_bytes``), and the distinct bytes of every row touched at least once (a row only
ever read in part: the bytes read over the run, at most the row, as ``v1.run_bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ORDERS = ("file", "layer", "expert-major", "hot-first", "coact")
TRAINED_ORDERS = ("hot-first", "coact")
NONE = -1  # layer_id / expert_id of a row outside blocks / not an expert slice


@dataclass(frozen=True)
class Layout:
    """A model's layout rows (one per tensor or expert slice), in any order."""

    tensor_name: np.ndarray  # object (str)
    base_name: np.ndarray  # object (str): the whole tensor a slice belongs to
    layer_id: np.ndarray  # int64, NONE outside blocks
    expert_id: np.ndarray  # int64, NONE for rows that are not expert slices
    category: np.ndarray  # object (str)
    offset: np.ndarray  # int64, absolute file offset
    size: np.ndarray  # int64, bytes
    data_offset: int  # where packed orders start
    alignment: int
    n_experts: int

    @classmethod
    def from_rows(cls, rows, data_offset: int | None, alignment: int | None, n_experts: int | None) -> Layout:
        """From (tensor_name, base_name, layer_id, expert_id, category, offset_start, size_bytes) rows."""
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        ints = [np.array([NONE if v is None else v for v in c], dtype=np.int64) for c in cols[2:4]]
        offset = np.array(cols[5], dtype=np.int64)
        experts = ints[1][ints[1] >= 0]
        return cls(
            tensor_name=np.array(cols[0], dtype=object), base_name=np.array(cols[1], dtype=object),
            layer_id=ints[0], expert_id=ints[1], category=np.array(cols[4], dtype=object), offset=offset,
            size=np.array(cols[6], dtype=np.int64),
            data_offset=int(data_offset if data_offset is not None else (offset.min() if len(offset) else 0)),
            alignment=int(alignment or 1),
            n_experts=int(n_experts or (experts.max() + 1 if len(experts) else 0)),
        )

    def __len__(self) -> int:
        return len(self.offset)

    @property
    def n_layers(self) -> int:
        return int(self.layer_id.max()) + 1 if len(self) and self.layer_id.max() >= 0 else 0


@dataclass
class Steps:
    """Decode steps and the layout rows each touched, as a step × row boolean matrix."""

    run_ids: list[str]  # the runs, indexed by run_index
    run_index: np.ndarray  # int64 per step, sorted
    step: np.ndarray  # int64 per step: v1.decode_steps.step
    touched: np.ndarray  # bool, (n_steps, n_rows)
    # touched rows a step read only part of (the token embedding's gathered rows): step index,
    # row, bytes read; sorted by step, then row
    partial: tuple[np.ndarray, np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)))

    @property
    def n_steps(self) -> int:
        return len(self.step)


@dataclass
class Selections:
    """Expert selections of decode steps: one entry per (step, layer, expert) selected."""

    step_index: np.ndarray  # int64, index into a Steps' steps
    layer_id: np.ndarray  # int64
    expert_id: np.ndarray  # int64


def build_steps(layout: Layout, run_ids: list[str], run_index: np.ndarray, step: np.ndarray,
                dense: tuple, selections: Selections) -> Steps:
    """The touched matrix: ``dense`` = (step_index, row index[, bytes read]) of the dense tensors
    read (bytes read below the row's size: a partial read, v1.pass_tensor_reads.read_bytes; a
    row listed twice at a step counts once, at the larger amount read); every selected (layer,
    expert) touches every row of that layer and expert id."""
    n_steps, n_rows = len(step), len(layout)
    if len(selections.step_index) and layout.n_experts:
        touched = _selected_rows(n_steps, layout, selections)
    else:
        touched = np.zeros((n_steps, n_rows), dtype=bool)
    d_step, d_row = np.asarray(dense[0], np.int64), np.asarray(dense[1], np.int64)
    touched[d_step, d_row] = True
    partial = (np.zeros(0, np.int64),) * 3
    if len(dense) > 2 and len(d_step):
        partial = _partial_reads(layout, d_step, d_row, np.asarray(dense[2], np.int64))
    return Steps(run_ids, np.asarray(run_index, dtype=np.int64), np.asarray(step, dtype=np.int64), touched, partial)


def _selected_rows(n_steps: int, layout: Layout, selections: Selections) -> np.ndarray:
    """The rows of every selected (layer, expert) as a step x row matrix: a step x key grid of
    the (layer, expert) keys the layout's expert rows have, then one gather of its columns
    (every other row gathers a column of False)."""
    n_exp = layout.n_experts
    rows = np.flatnonzero(layout.expert_id >= 0)
    key_of_row = layout.layer_id[rows] * n_exp + layout.expert_id[rows]
    keys = np.unique(key_of_row)
    grid = np.zeros((n_steps, len(keys) + 1), dtype=bool)
    if len(keys):
        sel_key = selections.layer_id * n_exp + selections.expert_id
        col = np.minimum(np.searchsorted(keys, sel_key), len(keys) - 1)
        found = keys[col] == sel_key  # a selection no expert row has touches nothing
        grid[selections.step_index[found], col[found]] = True
    col_of_row = np.full(len(layout), len(keys), dtype=np.int64)
    col_of_row[rows] = np.searchsorted(keys, key_of_row)
    return np.take(grid, col_of_row, axis=1)


def _partial_reads(layout: Layout, d_step: np.ndarray, d_row: np.ndarray, read: np.ndarray) -> tuple:
    """(step index, row, bytes read) of the rows a step read only in part, sorted by step, then row."""
    cut = read < layout.size[d_row]
    c_step, c_row, c_read = d_step[cut], d_row[cut], read[cut]
    # a row also read whole at that step (only the few rows ever read in part can be) is whole
    part_row = np.zeros(len(layout), dtype=bool)
    part_row[c_row] = True
    maybe = ~cut & part_row[d_row]
    n_rows = len(layout)
    key = c_step * n_rows + c_row
    keep = ~np.isin(key, d_step[maybe] * n_rows + d_row[maybe])
    c_step, c_row, c_read, key = c_step[keep], c_row[keep], c_read[keep], key[keep]
    order = np.lexsort((c_read, c_row, c_step))
    key = key[order]
    largest = np.r_[key[1:] != key[:-1], True] if len(key) else np.zeros(0, dtype=bool)
    return c_step[order][largest], c_row[order][largest], c_read[order][largest]


# ---- training: per-layer permutations ----------------------------------------------------


def _selected(sel: Selections, n_layers: int, n_experts: int) -> np.ndarray:
    """(n_steps, n_layers, n_experts) bool: was the expert selected at that step and layer."""
    n_steps = int(sel.step_index.max()) + 1 if len(sel.step_index) else 0
    grid = np.zeros((n_steps, n_layers, n_experts), dtype=bool)
    grid[sel.step_index, sel.layer_id, sel.expert_id] = True
    return grid


def activation_counts(sel: Selections, n_layers: int, n_experts: int) -> np.ndarray:
    """(n_layers, n_experts): decode steps that selected each expert (one per step and layer)."""
    return _selected(sel, n_layers, n_experts).sum(axis=0, dtype=np.int64)


def coactivation_counts(sel: Selections, n_layers: int, n_experts: int) -> np.ndarray:
    """(n_layers, n_experts, n_experts): decode steps in which both experts were selected."""
    grid = _selected(sel, n_layers, n_experts).astype(np.float32)
    # exact: counts stay far below 2^24
    return np.rint(np.einsum("sle,slf->lef", grid, grid, optimize=True)).astype(np.int64)


def hot_first_permutation(acts: np.ndarray) -> np.ndarray:
    """Per layer: experts by descending activations, ties by lower id."""
    return np.argsort(-acts, axis=1, kind="stable")


def coact_permutation(acts: np.ndarray, co: np.ndarray) -> np.ndarray:
    """Per layer: the greedy co-activation chain described in the module doc."""
    n_layers, n_exp = acts.shape
    perms = np.empty((n_layers, n_exp), dtype=np.int64)
    for layer in range(n_layers):
        a, c = acts[layer], co[layer].copy()
        np.fill_diagonal(c, -1)
        placed = np.zeros(n_exp, dtype=bool)
        # score: co-selections first, then activations, then lower id (via a tiny negative id term)
        tie = a * (n_exp + 1) - np.arange(n_exp)
        cur = int(np.argmax(tie))
        for j in range(n_exp):
            perms[layer, j] = cur
            placed[cur] = True
            if j == n_exp - 1:
                break
            score = np.where(placed, -1, c[cur]).astype(np.float64)
            best = score.max()
            cand = np.flatnonzero((score == best) & ~placed)
            cur = int(cand[np.argmax(tie[cand])])
    return perms


def train(sel: Selections, n_layers: int, n_experts: int) -> dict[str, np.ndarray]:
    """The permutations of the trained orders, from the training runs' selections."""
    acts = activation_counts(sel, n_layers, n_experts)
    return {"hot-first": hot_first_permutation(acts),
            "coact": coact_permutation(acts, coactivation_counts(sel, n_layers, n_experts))}


def identity_permutation(n_layers: int, n_experts: int) -> np.ndarray:
    return np.tile(np.arange(n_experts, dtype=np.int64), (n_layers, 1))


# ---- orders ------------------------------------------------------------------------------


def _tensor_start(layout: Layout) -> np.ndarray:
    """Per row: the smallest offset among the rows of its whole tensor (the tensor's place)."""
    names, inverse = np.unique(layout.base_name.astype(str), return_inverse=True)
    start = np.full(len(names), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, inverse, layout.offset)
    return start[inverse]


def _block_group(layout: Layout) -> np.ndarray:
    """0 before the blocks (embeddings), 1 inside blocks, 2 after them (output, output norm)."""
    outside = layout.layer_id < 0
    before = outside & (layout.category == "embedding")
    return np.where(before, 0, np.where(outside, 2, 1))


def _sequence(layout: Layout, name: str, perms: np.ndarray | None) -> np.ndarray:
    """Row indices in the new order."""
    group, layer = _block_group(layout), np.maximum(layout.layer_id, 0)
    tstart = _tensor_start(layout)
    is_exp = layout.expert_id >= 0
    if name == "layer":
        return np.lexsort((layout.offset, tstart, layer, group))
    if name == "expert-major":
        # dense tensors of a block first (key -1), then per expert its slices in file order
        ekey = np.where(is_exp, layout.expert_id, -1)
        pos = np.where(is_exp, tstart, layout.offset)
        return np.lexsort((layout.offset, pos, ekey, layer, group))
    if name in TRAINED_ORDERS:
        if perms is None:
            raise ValueError(f"order {name} needs a permutation per layer")
        inv = np.argsort(perms, axis=1)  # inv[layer, e] = new position of expert e
        newpos = np.where(is_exp, inv[layer, np.maximum(layout.expert_id, 0)], 0)
        return np.lexsort((layout.offset, newpos, tstart, layer, group))
    raise ValueError(f"unknown order {name!r}; orders: {', '.join(ORDERS)}")


def order_offsets(layout: Layout, name: str, perms: np.ndarray | None = None) -> np.ndarray:
    """The new absolute offset of every row under order ``name``."""
    if name == "file":
        return layout.offset.copy()
    seq = _sequence(layout, name, perms)
    new = np.empty(len(layout), dtype=np.int64)
    align, base = layout.alignment, layout.data_offset
    cursor, prev_base = base, None
    bases, sizes = layout.base_name, layout.size
    for i in seq.tolist():
        # slices of one tensor stay back to back; every other row starts a piece of its own
        if bases[i] != prev_base:
            cursor = base + -(-(cursor - base) // align) * align
        new[i] = cursor
        cursor += int(sizes[i])
        prev_base = bases[i]
    return new


# ---- scoring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    page: int = 4096
    readahead: int = 128 * 1024
    merge_gap: int = 4096

    def __post_init__(self) -> None:
        if self.page <= 0 or self.readahead <= 0 or self.merge_gap < 0:
            raise ValueError("page and readahead must be positive, merge_gap not negative")


@dataclass
class StepScores:
    """Per step of a ``Steps``: the figures of one order."""

    bytes: np.ndarray
    extents: np.ndarray
    pages: np.ndarray
    windows: np.ndarray


@dataclass
class _Entries:
    """What the replay of every order shares: the touched entries (step, row of positive size).

    Every order touches the same rows at a step, only in another byte order, so the entries'
    count per step, where each step's entries start and the bytes per step are worked out once.
    The 10^7-entry working arrays are kept for the next order too: a fresh one costs more in
    page faults than the arithmetic done on it."""

    width: int  # rows of positive size (rows of 0 bytes are ignored)
    counts: np.ndarray  # int64 per step: its entries
    seg_start: np.ndarray  # int64 per step with entries: where its entries start
    nonempty: np.ndarray  # bool per step: it has entries
    first: np.ndarray  # bool per entry: the first of its step
    base: np.ndarray  # int64 per entry: step index * width, its step's start in a flattened matrix
    bytes: np.ndarray  # int64 per step
    scratch: dict = field(default_factory=dict)

    def buffer(self, name: str, shape: tuple, dtype) -> np.ndarray:
        a = self.scratch.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self.scratch[name] = np.empty(shape, dtype)
        return a


def _entries(layout: Layout, steps: Steps) -> _Entries:
    kept = np.flatnonzero(layout.size > 0)
    width = len(kept)
    touched = steps.touched if width == len(layout) else np.take(steps.touched, kept, axis=1)
    counts = np.count_nonzero(touched, axis=1).astype(np.int64)
    ends = np.cumsum(counts)
    nonempty = counts > 0
    seg_start = (ends - counts)[nonempty]
    first = np.zeros(int(ends[-1]) if len(ends) else 0, dtype=bool)
    first[seg_start] = True
    base = np.repeat(np.arange(len(counts), dtype=np.int64) * width, counts)
    e = _Entries(width, counts, seg_start, nonempty, first, base, np.zeros(len(counts), np.int64))
    flat = np.flatnonzero(touched)
    size_entry = layout.size[kept][flat - base]
    hit = _partial_hits(layout, steps, kept, flat, width)
    size_entry[hit] = steps.partial[2]
    e.bytes = _per_step(size_entry, e)
    return e


def _partial_hits(layout: Layout, steps: Steps, seq: np.ndarray, flat: np.ndarray, width: int) -> np.ndarray:
    """Entries (indices into ``flat``, the touched matrix's columns in ``seq`` order) of the
    steps' partial reads."""
    p_step, p_row, _ = steps.partial
    if not len(p_step):
        return np.zeros(0, np.int64)
    pos_of_row = np.full(len(layout), -1, np.int64)
    pos_of_row[seq] = np.arange(len(seq))
    return np.searchsorted(flat, p_step * width + pos_of_row[p_row])


def _per_step(values: np.ndarray, e: _Entries) -> np.ndarray:
    """Sum of ``values`` (one per entry) over each step's entries."""
    out = np.zeros(len(e.counts), np.int64)
    if len(e.seg_start):
        out[e.nonempty] = np.add.reduceat(values, e.seg_start, dtype=np.int64)
    return out


def _gather(table: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.take(table, index, out=out, mode="clip")  # the indices are valid; "clip" writes out unbuffered


def score(layout: Layout, steps: Steps, new_offset: np.ndarray, params: Params) -> StepScores:
    """Replay every step against ``new_offset`` (see the module doc for the definitions)."""
    return _replay(layout, steps, new_offset, params, _entries(layout, steps))


def _replay(layout: Layout, steps: Steps, new_offset: np.ndarray, params: Params, e: _Entries) -> StepScores:
    seq = np.argsort(new_offset, kind="stable")
    seq = seq[layout.size[seq] > 0]
    starts = new_offset[seq]
    ends = starts + layout.size[seq]
    identity = len(seq) == len(layout) and bool((seq == np.arange(len(seq))).all())
    if identity:
        cols = steps.touched
    else:
        cols = np.take(steps.touched, seq, axis=1, out=e.buffer("cols", (steps.n_steps, len(seq)), bool))
    # flat indices of the column-permuted matrix: touched rows sorted by (step, new offset)
    scol = np.flatnonzero(cols)
    hit = _partial_hits(layout, steps, seq, scol, e.width)
    np.subtract(scol, e.base, out=scol)  # the row's position in the new order
    if len(ends) >= 2 and not (starts[1:] >= ends[:-1]).all():
        return _replay_overlapping(starts, ends, steps, scol, hit, params, e)
    # a sound layout: a step's previous touched row ends before this one starts, and the rows'
    # ends (so their last units) rise with their starts
    n, first = len(scol), e.seg_start
    # a partial read is taken as p_bytes from the row's start: which rows of the token
    # embedding were gathered is not recorded, so only their amount is known
    by_entry = np.argsort(hit, kind="stable")
    hit, hit_end = hit[by_entry], starts[scol[hit[by_entry]]] + steps.partial[2][by_entry]
    after_hit = hit + 1
    after_hit = after_hit[(after_hit < n)]
    after_hit = after_hit[~e.first[after_hit]]
    # merged into the step's previous touched row p (gap at most merge_gap): ends[p] >=
    # starts[j] - merge_gap, so p at or after the first row ending there (ends rise)
    reach = np.searchsorted(ends, starts - params.merge_gap, side="left")
    merged = e.buffer("merged", (n,), bool)
    if n:
        near = _gather(reach, scol[1:], e.buffer("near", (n - 1,), np.int64))
        np.greater_equal(scol[:-1], near, out=merged[1:])
    merged[first] = False
    merged[after_hit] = starts[scol[after_hit]] - hit_end[np.searchsorted(hit, after_hit - 1, side="right") - 1] <= params.merge_gap
    # around a partial read (or at negative offsets) a row may add no unit: clamp there
    clamp = np.r_[hit, after_hit]
    if len(starts) and starts[0] < 0:
        clamp = np.arange(n)
    counts = []
    last, floor = e.buffer("last", (n,), np.int64), e.buffer("floor", (n,), np.int64)
    for unit in (params.page, params.readahead):
        # new units of a row: last - max(first - 1, the previous touched row's last unit),
        # with unit indices per row once per order, then gathers instead of 10^7 divisions
        first_unit = starts // unit - 1
        _gather((ends - 1) // unit, scol, last)
        last[hit] = (hit_end - 1) // unit
        _gather(first_unit, scol, floor)
        np.maximum(floor[1:], last[:-1], out=floor[1:])
        floor[first] = np.maximum(first_unit[scol[first]], -1)  # no previous row
        added = np.subtract(last, floor, out=floor)
        added[clamp] = np.maximum(added[clamp], 0)
        counts.append(_per_step(added, e))
    return StepScores(bytes=e.bytes.copy(), extents=e.counts - _per_step(merged, e), pages=counts[0],
                      windows=counts[1])


def _new_units(first, last, prev_last) -> np.ndarray:
    """Units (pages, windows) a row overlaps that no earlier touched row of its step did."""
    return np.maximum(0, last - np.maximum(first, prev_last + 1) + 1)


def _replay_overlapping(starts: np.ndarray, ends: np.ndarray, steps: Steps, scol: np.ndarray, hit: np.ndarray,
                        params: Params, e: _Entries) -> StepScores:
    """``_replay`` for a broken layout whose rows overlap: a running maximum of the ends of a
    step's touched rows, so no byte counts twice."""
    srow = np.repeat(np.arange(len(e.counts), dtype=np.int64), e.counts)
    e_entry = ends[scol]
    if len(hit):
        e_entry[hit] = starts[scol[hit]] + steps.partial[2]
    first = e.first
    key = srow * (int(ends.max()) + 1)
    prev_end = np.empty(len(srow), dtype=np.int64)
    prev_end[1:] = (np.maximum.accumulate(key + e_entry) - key)[:-1]
    prev_end[first] = -1
    new_extent = first | (starts[scol] - prev_end > params.merge_gap)
    counts = []
    for unit in (params.page, params.readahead):
        f_row, l_row = starts // unit, (ends - 1) // unit
        last = l_row[scol]
        if len(hit):
            last[hit] = (e_entry[hit] - 1) // unit
        prev_last = np.where(first, -1, (prev_end - 1) // unit)
        counts.append(_per_step(_new_units(f_row[scol], last, prev_last), e))
    return StepScores(bytes=e.bytes.copy(), extents=_per_step(new_extent, e), pages=counts[0], windows=counts[1])


# ---- the plan ----------------------------------------------------------------------------


@dataclass
class RunResult:
    run_id: str
    order_name: str
    in_sample: bool
    n_steps: int
    mean_bytes_per_step: float
    mean_extents_per_step: float
    p50_extents_per_step: float
    p95_extents_per_step: float
    mean_pages_per_step: float
    p50_pages_per_step: float
    p95_pages_per_step: float
    mean_readahead_windows_per_step: float
    p95_readahead_windows_per_step: float
    distinct_bytes: int


@dataclass
class Plan:
    orders: list[str]
    params: Params
    offsets: dict[str, np.ndarray]  # order -> new offset per layout row
    permutations: dict[str, np.ndarray]  # trained order -> (n_layers, n_experts)
    steps: dict[str, StepScores]
    results: list[RunResult] = field(default_factory=list)


def _stats(values: np.ndarray, bounds: np.ndarray) -> list[tuple[float, float, float]]:
    """(mean, p50, p95) of ``values`` over each run's steps ``bounds[i]:bounds[i + 1]``: the
    percentiles of every run of one length at once (NumPy's own, along an axis)."""
    v = values.astype(np.float64)
    a, n = bounds[:-1], np.diff(bounds)
    p50, p95 = np.full(len(n), np.nan), np.full(len(n), np.nan)
    for length in np.unique(n[n > 0]).tolist():
        runs = np.flatnonzero(n == length)
        block = v[a[runs, None] + np.arange(length)]
        p50[runs], p95[runs] = np.percentile(block, 50, axis=1), np.percentile(block, 95, axis=1)
    return [(float(v[i:j].mean()) if j > i else float("nan"), float(m), float(h))
            for i, j, m, h in zip(a.tolist(), bounds[1:].tolist(), p50.tolist(), p95.tolist(), strict=True)]


def distinct_bytes(layout: Layout, steps: Steps) -> np.ndarray:
    """Per run of ``steps``: bytes of the rows touched by at least one of its steps; a row only
    ever read in part counts the bytes read over the run, at most the row (as v1.run_bytes)."""
    out = np.zeros(len(steps.run_ids), dtype=np.int64)
    if not steps.n_steps:
        return out
    p_step, p_row, p_bytes = steps.partial
    whole = steps.touched
    if len(p_step):
        whole = whole.copy()
        whole[p_step, p_row] = False
    bounds = np.flatnonzero(np.r_[True, steps.run_index[1:] != steps.run_index[:-1]])
    any_whole = np.logical_or.reduceat(whole, bounds, axis=0)
    out[steps.run_index[bounds]] = any_whole.astype(np.int64) @ layout.size
    if len(p_step):
        runs = np.searchsorted(bounds, p_step, side="right") - 1  # block of the step's run
        read = np.zeros(any_whole.shape, np.int64)
        np.add.at(read, (runs, p_row), p_bytes)
        read = np.where(any_whole, 0, np.minimum(read, layout.size))
        out[steps.run_index[bounds]] += read.sum(axis=1)
    return out


def make_plan(layout: Layout, steps: Steps, orders: list[str], params: Params,
              training: Selections | None, in_sample_runs: set[str]) -> Plan:
    """Score ``orders`` over ``steps``; the trained orders learn from ``training``."""
    unknown = [o for o in orders if o not in ORDERS]
    if unknown:
        raise ValueError(f"unknown order {unknown[0]!r}; orders: {', '.join(ORDERS)}")
    n_layers, n_exp = layout.n_layers, layout.n_experts
    perms: dict[str, np.ndarray] = {}
    if any(o in TRAINED_ORDERS for o in orders):
        empty = Selections(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        perms = train(training or empty, n_layers, n_exp)
    offsets = {o: order_offsets(layout, o, perms.get(o)) for o in orders}
    entries = _entries(layout, steps)
    per_step = {o: _replay(layout, steps, offsets[o], params, entries) for o in orders}
    distinct = distinct_bytes(layout, steps)
    plan = Plan(list(orders), params, offsets, {o: perms[o] for o in orders if o in perms}, per_step)
    bounds = np.r_[np.flatnonzero(np.r_[True, steps.run_index[1:] != steps.run_index[:-1]]), steps.n_steps] \
        if steps.n_steps else np.zeros(1, np.int64)
    for o in orders:
        sc = per_step[o]
        stats = zip(_stats(sc.extents, bounds), _stats(sc.pages, bounds), _stats(sc.windows, bounds), strict=True)
        for a, b, (ext, pg, win) in zip(bounds[:-1].tolist(), bounds[1:].tolist(), stats, strict=True):
            ri = int(steps.run_index[a])
            run_id = steps.run_ids[ri]
            plan.results.append(RunResult(
                run_id=run_id, order_name=o, in_sample=o in TRAINED_ORDERS and run_id in in_sample_runs,
                n_steps=b - a, mean_bytes_per_step=float(sc.bytes[a:b].mean()),
                mean_extents_per_step=ext[0], p50_extents_per_step=ext[1], p95_extents_per_step=ext[2],
                mean_pages_per_step=pg[0], p50_pages_per_step=pg[1], p95_pages_per_step=pg[2],
                mean_readahead_windows_per_step=win[0], p95_readahead_windows_per_step=win[2],
                distinct_bytes=int(distinct[ri]),
            ))
    return plan
