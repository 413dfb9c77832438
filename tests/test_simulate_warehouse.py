"""Simulations stored in the warehouse against the reference simulator fed by an independent,
plain-Python reading of the known truth (tests/views_warehouse.py): the access sequence from
the generated passes, the item sizes from the generated layout, the training counts from the
training runs. Also: replacing a simulation's rows, deleting a run, and the real reference
trace (warm-up passes only) giving 0 accesses."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tests.views_warehouse import Run, Truth, build_truth, insert
from warehouse.db.store import open_store
from warehouse.simulate.reference import simulate_reference
from warehouse.simulate.runner import simulate_cache, simulate_predictors

POLICIES = ("lru", "fifo", "lfu", "static", "belady")
BUDGETS = [3000, 9000, 20000, 40000]
SLOTS = [1, 3, 6, 50]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "w.duckdb"
    truth = build_truth()
    store = open_store(path)
    insert(store.con, truth)
    yield store, truth
    store.close()


def rows(con, sql, params=None):
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ---- the independent reading of the truth ----------------------------------------------------

def accesses(run: Run) -> list[tuple[int, int]]:
    """Decode steps in order, layers ascending, the distinct experts in rank order."""
    out = []
    for p in run.steps:
        for layer in sorted(p.selections):
            seen: list[int] = []
            for e in p.selections[layer]:
                if e not in seen:
                    seen.append(e)
            out += [(layer, e) for e in seen]
    return out


def grid(run: Run) -> tuple[int, int]:
    if run.model:
        return run.model.n_layers, run.model.n_experts
    acc = accesses(run)
    return max(la for la, _ in acc) + 1, max(e for _, e in acc) + 1


def item_sizes(run: Run) -> dict[tuple[int, int], int] | None:
    if run.model is None:
        return None
    sizes: Counter = Counter()
    for t in run.model.tensors:
        if t.expert_id is not None and t.category in ("expert", "expert_bias"):
            sizes[(t.layer_id, t.expert_id)] += t.size_bytes
    return dict(sizes)


def activations(runs: list[Run]) -> Counter:
    return Counter(a for r in runs for a in accesses(r))


def expected(run: Run, policy: str, capacity: int, scope: str, train: list[Run]):
    n_layers, n_experts = grid(run)
    return simulate_reference(accesses(run), policy, capacity, scope, n_layers, item_sizes(run),
                              activations(train), [(la, e) for la in range(n_layers) for e in range(n_experts)])


def check(con, truth: Truth, sim_id: str, runs: list[str], scope: str, budgets, slots, training) -> int:
    got = {(r["run_id"], r["policy"], r["budget_bytes"] if budgets else r["capacity_items"]): r
           for r in rows(con, "select * from v1.cache_results where sim_id = $s", {"s": sim_id})}
    layers = {(r["run_id"], r["policy"], r["budget_bytes"] if budgets else r["capacity_items"], r["layer_id"]): r
              for r in rows(con, "select * from v1.cache_layer_results where sim_id = $s", {"s": sim_id})}
    n = 0
    for run_id in runs:
        run = truth.runs[run_id]
        train = training(run)
        n_layers, _ = grid(run)
        sizes = item_sizes(run)
        acc = accesses(run)
        steps = len(run.steps)
        for key in budgets or slots:
            cap = key // max(sizes.values()) if budgets else key
            best = expected(run, "belady", cap, scope, train)
            for policy in POLICIES:
                ref = expected(run, policy, cap, scope, train)
                r = got[(run_id, policy, key)]
                hits = sum(ref.hits.values())
                assert r["capacity_items"] == cap
                assert (r["n_accesses"], r["hits"], r["misses"]) == (len(acc), hits, len(acc) - hits), (run_id, policy, key)
                assert r["n_steps"] == steps and r["n_layers"] == n_layers
                assert r["belady_hits"] == sum(best.hits.values())
                assert math.isclose(r["hit_rate"], hits / len(acc))
                assert math.isclose(r["regret"], (sum(best.hits.values()) - hits) / len(acc), abs_tol=1e-15)
                assert r["working_set_items"] == max(Counter(i for i, p in enumerate(run.steps)
                                                             for la in p.selections
                                                             for _ in set(p.selections[la])).values())
                if sizes is None:
                    assert r["bytes_loaded"] is None and r["bytes_loaded_per_step"] is None
                else:
                    assert r["bytes_loaded"] == sum(ref.bytes_loaded.values())
                    assert math.isclose(r["bytes_loaded_per_step"], r["bytes_loaded"] / steps)
                    assert ref.max_resident_bytes <= (key if budgets else math.inf)
                assert r["in_sample"] == ((run in train) if policy == "static" else None)
                for la in range(n_layers):
                    lr = layers[(run_id, policy, key, la)]
                    assert lr["hits"] == ref.hits.get(la, 0) and lr["n_accesses"] == ref.accesses.get(la, 0)
                    assert lr["belady_hits"] == best.hits.get(la, 0)
                    assert lr["layer_capacity_items"] == (cap // n_layers if scope == "layer" else None)
                    if sizes is not None:
                        assert lr["bytes_loaded"] == ref.bytes_loaded.get(la, 0)
                n += 1
    assert len(got) == n
    return n


def test_budgets_global_scope_self_trained(wh):
    store, truth = wh
    runs = [r for r in truth.runs if truth.runs[r].model]
    out = simulate_cache(store, runs, budgets=BUDGETS, scope="global")
    assert out.run_ids == sorted(runs)
    assert check(store.con, truth, out.sim_id, runs, "global", BUDGETS, None, lambda r: [r]) == len(runs) * 20
    assert rows(store.con, "select distinct train from v1.cache_results where sim_id = $s", {"s": out.sim_id}) == \
        [{"train": "self"}]


def test_slots_layer_scope_trained_on_a_domain(wh):
    store, truth = wh
    out = simulate_cache(store, None, slots=SLOTS, scope="layer", train_domain="code")
    every = sorted(truth.runs)
    assert out.run_ids == every  # slots need no sizes: the run without a model is simulated too

    def training(run: Run) -> list[Run]:
        model = run.model.model_id if run.model else None
        return [t for t in truth.runs.values() if t.domain == "code" and
                (t.model.model_id if t.model else None) == model]

    check(store.con, truth, out.sim_id, every, "layer", None, SLOTS, training)


def test_budgets_skip_a_run_without_a_model_unless_it_is_named(wh):
    from warehouse.errors import UsageError

    store, _ = wh
    out = simulate_cache(store, None, budgets=[9000], policies=("lru",))
    assert "run-x1" not in out.run_ids and any("run-x1" in s for s in out.skipped)
    with pytest.raises(UsageError, match="run-x1 has no model"):
        simulate_cache(store, ["run-x1"], budgets=[9000])


def test_the_same_simulation_again_replaces_its_rows(wh):
    store, truth = wh
    count = "select count(*) from {} where sim_id = $s"
    first = simulate_cache(store, ["run-a1", "run-b1"], slots=[2, 4], policies=("lru", "belady"))
    before = [store.con.execute(count.format(t), {"s": first.sim_id}).fetchone()[0]
              for t in ("v1.cache_results", "v1.cache_layer_results")]
    assert before == [2 * 2 * 2, 2 * 2 * (3 + 2)]
    again = simulate_cache(store, ["run-a1", "run-b1"], slots=[2, 4], policies=("lru", "belady"))
    assert again.sim_id == first.sim_id
    assert [store.con.execute(count.format(t), {"s": first.sim_id}).fetchone()[0]
            for t in ("v1.cache_results", "v1.cache_layer_results")] == before
    more = simulate_cache(store, ["run-a1"], slots=[4, 5], policies=("lru",))
    assert more.sim_id == first.sim_id  # same scope, unit and training: new capacities join it
    assert store.con.execute(count.format("v1.cache_results"), {"s": first.sim_id}).fetchone()[0] == 8 + 1


def test_explicit_training_runs_mark_static_in_and_out_of_sample(wh):
    store, truth = wh
    out = simulate_cache(store, ["run-a1", "run-a3"], slots=[4], policies=("static",), train=["run-a1", "run-a2"])
    got = {r["run_id"]: r for r in rows(store.con, "select * from v1.cache_results where sim_id = $s",
                                        {"s": out.sim_id})}
    train = [truth.runs["run-a1"], truth.runs["run-a2"]]
    for run_id, in_sample in (("run-a1", True), ("run-a3", False)):
        ref = expected(truth.runs[run_id], "static", 4, "global", train)
        assert got[run_id]["hits"] == sum(ref.hits.values())
        assert got[run_id]["in_sample"] is in_sample
        assert got[run_id]["train"] == "run-a1,run-a2"


# ---- predictors -------------------------------------------------------------------------------

def _top(scores: dict[int, int], k: int) -> set[int]:
    ranked = sorted((e for e, s in scores.items() if s > 0), key=lambda e: (-scores[e], e))
    return set(ranked[:k])


def expected_predictors(run: Run, train: list[Run]) -> dict[str, tuple[int, float, float, float | None]]:
    n_layers, n_experts = grid(run)
    sizes = item_sizes(run)
    sel = [{la: set(p.selections.get(la, [])) for la in range(n_layers)} for p in run.steps]
    train_sel = [{la: set(p.selections.get(la, [])) for la in range(n_layers)} for t in train for p in t.steps]
    counts = Counter((la, e) for s in train_sel for la in s for e in s[la])
    trans = Counter((la, a, b) for s in train_sel for la in range(1, n_layers) for a in s[la - 1] for b in s[la])
    out = {}
    for name in ("prev-token", "static", "transition", "oracle"):
        recalls, precisions, wasted = [], [], 0
        for t, s in enumerate(sel):
            for la in range(n_layers):
                if name == "oracle":
                    p = s[la]
                elif name == "prev-token":
                    p = sel[t - 1][la] if t > 0 else set()
                elif name == "static":
                    p = _top({e: counts[(la, e)] for e in range(n_experts)}, run.k)
                else:
                    p = _top({e: sum(trans[(la, a, e)] for a in s[la - 1]) for e in range(n_experts)}, run.k) \
                        if la > 0 else set()
                if not s[la] or not p:
                    continue
                recalls.append(len(p & s[la]) / len(s[la]))
                precisions.append(len(p & s[la]) / len(p))
                if sizes:
                    wasted += sum(sizes[(la, e)] for e in p - s[la])
        out[name] = (len(recalls), sum(recalls) / len(recalls), sum(precisions) / len(precisions),
                     wasted / len(sel) if sizes else None)
    return out


def test_predictors_against_a_recount(wh):
    store, truth = wh
    for kw, training in (({}, lambda r: [r]),
                         ({"train_domain": "math"}, lambda r: [t for t in truth.runs.values() if t.domain == "math"
                                                               and t.model is r.model])):
        runs = ["run-a1", "run-a2", "run-b1"] + (["run-x1"] if not kw else [])
        out = simulate_predictors(store, runs, **kw)
        got = {(r["run_id"], r["predictor"]): r for r in rows(
            store.con, "select * from v1.predictor_results where sim_id = $s", {"s": out.sim_id})}
        assert len(got) == 4 * len(runs)
        for run_id in runs:
            run = truth.runs[run_id]
            for name, (n, recall, precision, wasted) in expected_predictors(run, training(run)).items():
                r = got[(run_id, name)]
                assert r["n_predictions"] == n, (run_id, name)
                assert math.isclose(r["recall"], recall) and math.isclose(r["precision"], precision), (run_id, name)
                if wasted is None:
                    assert r["wasted_bytes_per_step"] is None
                else:
                    assert math.isclose(r["wasted_bytes_per_step"], wasted, abs_tol=1e-9), (run_id, name)
                assert r["in_sample"] == ((run in training(run)) if name in ("static", "transition") else None)
    assert got[("run-a1", "oracle")]["recall"] == 1.0


def test_deleting_a_run_deletes_its_simulations(wh, tmp_path):
    from warehouse.ingest.traces import delete_run

    store, _ = wh
    simulate_cache(store, ["run-a4"], slots=[2])
    simulate_predictors(store, ["run-a4"])
    with store.transaction() as con:
        delete_run(con, "run-a4")
    for view in ("v1.cache_results", "v1.cache_layer_results", "v1.predictor_results"):
        assert store.con.execute(f"select count(*) from {view} where run_id = 'run-a4'").fetchone()[0] == 0


def test_the_real_reference_trace_gives_no_accesses(tmp_path):
    from tests.conftest import DATA
    from warehouse.ingest.models import ingest_layout_file
    from warehouse.ingest.traces import ingest_trace
    from warehouse.paths import DATA_DIR

    store = open_store(tmp_path / "real.duckdb")
    with store.transaction() as con:
        model_id = ingest_layout_file(con, DATA / "gpt-oss-20b" / "memory-map.json", "gpt-oss-20b").model_id
        ingest_trace(con, DATA_DIR / "gpt-oss-20b" / "tensor_trace.bin", model_id=model_id, name="real",
                     experts_used=4)
    out = simulate_cache(store, ["real"], budgets=[2 << 30])
    res = rows(store.con, "select * from v1.cache_results where sim_id = $s", {"s": out.sim_id})
    assert len(res) == 5
    for r in res:
        assert (r["n_steps"], r["n_accesses"], r["hits"], r["bytes_loaded"]) == (0, 0, 0, 0)
        assert r["hit_rate"] is None and r["regret"] is None and r["bytes_loaded_per_step"] is None
        assert r["capacity_items"] > 0  # the layout gives the sizes even without a decode step
    simulate_predictors(store, ["real"])
    assert all(r["n_predictions"] == 0 for r in rows(store.con, "select * from v1.predictor_results"))
    store.close()
