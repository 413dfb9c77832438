"""The compiled cache engine against the plain-Python reference, exactly, on random sequences;
the invariants every correct simulator obeys; and textbook examples with known answers.

Hypothesis's budget is small in `make test` (profile quick, tests/conftest.py);
HYPOTHESIS_PROFILE=fuzz runs thousands of examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.simulate import POLICIES, SCOPES, AccessSequence, capacity_from_budget, simulate
from warehouse.simulate.reference import simulate_reference
from warehouse.simulate.sequence import NEVER, next_uses

DEMAND = ("lru", "fifo", "lfu")  # policies that load only what is asked for, like belady


@st.composite
def cases(draw):
    """A random run: layers x experts, steps that each select a few distinct experts per layer
    (in a random rank order), item sizes that differ, training counts, and capacities."""
    n_layers = draw(st.integers(1, 3))
    n_experts = draw(st.integers(1, 6))
    n_steps = draw(st.integers(0, 14))
    steps, layers, experts = [], [], []
    for s in range(n_steps):
        for la in range(n_layers):
            chosen = draw(st.lists(st.integers(0, n_experts - 1), unique=True, max_size=min(n_experts, 4)))
            for e in chosen:
                steps.append(s)
                layers.append(la)
                experts.append(e)
    n_items = n_layers * n_experts
    sizes = draw(st.lists(st.integers(1, 1000), min_size=n_items, max_size=n_items))
    train = draw(st.lists(st.integers(0, 6), min_size=n_items, max_size=n_items))
    caps = draw(st.lists(st.integers(0, n_items + 2), min_size=1, max_size=5))
    seq = AccessSequence.from_selections(steps, layers, experts, n_layers, n_experts, n_steps, sizes)
    return seq, list(zip(layers, experts, strict=True)), sizes, train, caps


def _reference(seq, accesses, sizes, train, policy, cap, scope):
    item = lambda i: (i // seq.n_experts, i % seq.n_experts)  # noqa: E731
    return simulate_reference(
        accesses, policy, cap, scope, seq.n_layers,
        sizes={item(i): s for i, s in enumerate(sizes)},
        train_counts={item(i): c for i, c in enumerate(train)},
        all_items=[item(i) for i in range(seq.n_items)])


@given(cases(), st.sampled_from(POLICIES), st.sampled_from(SCOPES))
def test_engine_equals_reference(case, policy, scope):
    seq, accesses, sizes, train, caps = case
    got = simulate(seq, policy, caps, scope, np.array(train))
    for ci, cap in enumerate(caps):
        ref = _reference(seq, accesses, sizes, train, policy, cap, scope)
        layers = range(seq.n_layers)
        assert list(got.hits[ci]) == [ref.hits.get(la, 0) for la in layers], (policy, scope, cap)
        assert list(got.bytes_loaded[ci]) == [ref.bytes_loaded.get(la, 0) for la in layers]
        assert list(got.accesses) == [ref.accesses.get(la, 0) for la in layers]


@st.composite
def long_cases(draw):
    """Long sequences over few items (one access per step): long enough that lru renumbers its
    recency slots several times (every 4 x items accesses, at least 64)."""
    n_layers = draw(st.integers(1, 2))
    n_experts = draw(st.integers(1, 5))
    n_items = n_layers * n_experts
    items = draw(st.lists(st.integers(0, n_items - 1), min_size=64, max_size=400))
    caps = draw(st.lists(st.integers(0, n_items + 1), min_size=1, max_size=4))
    layers = [i // n_experts for i in items]
    experts = [i % n_experts for i in items]
    sizes = [7 + i for i in range(n_items)]
    seq = AccessSequence.from_selections(range(len(items)), layers, experts, n_layers, n_experts, len(items), sizes)
    return seq, list(zip(layers, experts, strict=True)), sizes, [n_items - i for i in range(n_items)], caps


@given(long_cases(), st.sampled_from(POLICIES), st.sampled_from(SCOPES))
def test_engine_equals_reference_on_long_sequences(case, policy, scope):
    seq, accesses, sizes, train, caps = case
    got = simulate(seq, policy, caps, scope, np.array(train))
    for ci, cap in enumerate(caps):
        ref = _reference(seq, accesses, sizes, train, policy, cap, scope)
        assert list(got.hits[ci]) == [ref.hits.get(la, 0) for la in range(seq.n_layers)], (policy, scope, cap)


@given(cases(), st.sampled_from(POLICIES), st.sampled_from(SCOPES), st.integers(1, 6000))
def test_budgets_hold_resident_bytes_below_the_budget(case, policy, scope, budget):
    seq, accesses, sizes, train, _ = case
    cap = capacity_from_budget(budget, np.array(sizes))
    ref = _reference(seq, accesses, sizes, train, policy, cap, scope)
    assert ref.max_resident_bytes <= budget
    got = simulate(seq, policy, [cap], scope, np.array(train))
    assert list(got.hits[0]) == [ref.hits.get(la, 0) for la in range(seq.n_layers)]
    assert got.bytes_loaded[0].sum() == sum(ref.bytes_loaded.values())


@given(cases(), st.sampled_from(SCOPES))
def test_belady_hits_at_least_every_demand_policy(case, scope):
    seq, _, _, train, caps = case
    best = simulate(seq, "belady", caps, scope).hits.sum(axis=1)
    for policy in DEMAND:
        assert (simulate(seq, policy, caps, scope, np.array(train)).hits.sum(axis=1) <= best).all(), policy


@given(cases(), st.sampled_from(SCOPES))
def test_lru_and_belady_hits_never_fall_as_capacity_grows(case, scope):
    seq = case[0]
    caps = np.arange(0, seq.n_items + 3)
    for policy in ("lru", "belady"):
        hits = simulate(seq, policy, caps, scope).hits.sum(axis=1)
        assert (np.diff(hits) >= 0).all(), policy


@given(cases(), st.sampled_from(POLICIES), st.sampled_from(SCOPES))
def test_hits_and_misses_add_up_to_the_accesses(case, policy, scope):
    seq, _, sizes, train, caps = case
    got = simulate(seq, policy, caps, scope, np.array(train))
    assert (got.hits + got.misses == got.accesses[None, :]).all()
    assert got.accesses.sum() == seq.n_accesses
    assert (got.hits >= 0).all() and (got.misses >= 0).all()
    assert got.access_bytes.sum() == sum(sizes[i] for i in seq.items)


@pytest.mark.parametrize("length", [3, 5, 17, 300])
def test_a_cycle_longer_than_the_cache_gives_lru_and_fifo_no_hit(length):
    items = np.tile(np.arange(length), 20)  # long enough to renumber lru's recency slots
    seq = AccessSequence(items.astype(np.int32), np.arange(len(items), dtype=np.int32), 1, length, len(items))
    caps = np.arange(0, length)
    assert simulate(seq, "lru", caps).hits.sum() == 0
    assert simulate(seq, "fifo", caps).hits.sum() == 0
    # with room for the whole cycle everything after the first round hits
    assert simulate(seq, "lru", [length]).hits.sum() == len(items) - length
    # belady keeps capacity-1 of the cycle and hits on them every round
    assert simulate(seq, "belady", [length - 1]).hits.sum() > 0


def test_the_textbook_reference_string():
    # Silberschatz, Operating System Concepts: this string with 3 frames gives 15 faults under
    # FIFO, 12 under LRU and 9 under OPT.
    refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
    seq = AccessSequence(np.array(refs, np.int32), np.arange(len(refs), dtype=np.int32), 1, 8, len(refs))
    faults = {p: len(refs) - int(simulate(seq, p, [3]).hits.sum()) for p in ("fifo", "lru", "belady")}
    assert faults == {"fifo": 15, "lru": 12, "belady": 9}


def test_lfu_and_static_by_hand():
    # a a b c a b c d, capacity 2, lfu: a, a hits (a:2), b, c evicts b (1 < 2), a hits (a:3),
    # b (b:2) evicts c (1), c (c:2) evicts b (2 < 3), d evicts c: 2 hits.
    refs = [0, 0, 1, 2, 0, 1, 2, 3]
    seq = AccessSequence(np.array(refs, np.int32), np.arange(8, dtype=np.int32), 1, 4, 8, np.array([1, 2, 3, 4]))
    assert simulate(seq, "lfu", [2]).hits.sum() == 2
    # static trained on counts (0:1, 1:5, 2:5, 3:0) keeps items 1 and 2: hits on 1, 2, 1, 2
    res = simulate(seq, "static", [2], train_counts=np.array([1, 5, 5, 0]))
    assert res.hits.sum() == 4
    assert res.bytes_loaded.sum() == 1 + 1 + 1 + 4  # the misses a a a d stream their bytes


def test_layer_scope_splits_the_capacity_evenly():
    # two layers, each cycling over 2 experts: a global cache of 3 items thrashes (a cycle of 4
    # through 3 slots), a per-layer split of 3 // 2 = 1 item each hits nothing either, 4 hits all.
    items = np.tile([0, 1, 2, 3], 10).astype(np.int32)
    seq = AccessSequence(items, np.repeat(np.arange(10), 4).astype(np.int32), 2, 2, 10)
    assert simulate(seq, "lru", [3], "global").hits.sum() == 0
    assert simulate(seq, "lru", [3], "layer").hits.sum() == 0
    assert simulate(seq, "lru", [4], "layer").hits.sum() == 40 - 4


def test_next_uses():
    items = np.array([3, 1, 3, 3, 2, 1])
    assert list(next_uses(items)) == [2, 5, 3, NEVER, NEVER, NEVER]


def test_capacity_from_budget_counts_the_largest_item():
    assert capacity_from_budget(1000, np.array([100, 250, 90])) == 4
    assert capacity_from_budget(249, np.array([100, 250, 90])) == 0
    with pytest.raises(ValueError):
        capacity_from_budget(1000, np.array([0, 0]))


def test_an_empty_sequence_has_no_accesses():
    seq = AccessSequence(np.zeros(0, np.int32), np.zeros(0, np.int32), 24, 32, 0, np.ones(24 * 32, np.int64))
    for policy in POLICIES:
        for scope in SCOPES:
            res = simulate(seq, policy, [0, 10, 1000], scope)
            assert res.hits.sum() == 0 and res.accesses.sum() == 0
    assert seq.working_set_items() == 0


@given(long_cases(), st.sampled_from(SCOPES))
def test_lru_linked_list_and_stack_distances_agree(case, scope):
    # a call with few capacities takes the linked-list path, one with many the stack distances
    seq = case[0]
    many = np.arange(0, seq.n_items + 2)
    sweep = simulate(seq, "lru", many, scope)
    for c in many:
        single = simulate(seq, "lru", [c], scope)
        assert (single.hits[0] == sweep.hits[c]).all() and (single.hit_bytes[0] == sweep.hit_bytes[c]).all()
