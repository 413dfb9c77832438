"""The layout planner against an independent plain-Python recount (tests/layout_plan_recount.py).

A closed-form case (four rows, figures by hand), the view tests' synthetic warehouse (two
models, warm-ups, a repeated expert id, a bias kept whole), and the demo (the GPT-OSS-20B
replica with its synthetic runs).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from layout_plan_recount import coact, hot_first, offsets, percentile, step_figures, union_units
from layout_samples import shared_replica

from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store
from warehouse.layout import plan as lp
from warehouse.layout.plan_store import plan_model, store_plan

PARAMS = dict(page=256, readahead=2048, merge_gap=64)


def test_closed_form_extents_pages_and_windows():
    # rows: a [1000,1100) b [1100,1200) c [1300,1400) d [5000,5000) (empty)
    rows = [("a", "a", None, None, "attention", 1000, 100), ("b", "b", None, None, "attention", 1100, 100),
            ("c", "c", None, None, "attention", 1300, 100), ("d", "d", None, None, "attention", 5000, 0)]
    layout = lp.Layout.from_rows(rows, 1000, 1, 0)
    empty = lp.Selections(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    # step 0 touches a and c (gap 200), step 1 touches a, b, d, step 2 nothing
    steps = lp.build_steps(layout, ["r"], np.zeros(3, np.int64), np.arange(3),
                           (np.array([0, 0, 1, 1, 1]), np.array([0, 2, 0, 1, 3])), empty)
    for gap, ext0 in ((199, 2), (200, 1)):
        sc = lp.score(layout, steps, layout.offset, lp.Params(page=128, readahead=4096, merge_gap=gap))
        assert sc.extents.tolist() == [ext0, 1, 0]
        assert sc.bytes.tolist() == [200, 200, 0]
        # pages of 128: a = 1000..1099 -> 7, 8; c = 1300..1399 -> 10; a+b = 1000..1199 -> 7, 8, 9
        assert sc.pages.tolist() == [3, 3, 0]
        assert sc.windows.tolist() == [1, 1, 0]
    # a partial read (the embedding's gathered rows) counts its bytes from the row's start:
    # b read 30 of 100 bytes at steps 0 and 1 -> [1100, 1130): page 8 only; b's distinct bytes 60
    part = lp.build_steps(layout, ["r"], np.zeros(3, np.int64), np.arange(3),
                          (np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), np.array([100, 30, 30, 100])), empty)
    sc = lp.score(layout, part, layout.offset, lp.Params(page=128, readahead=4096, merge_gap=0))
    assert sc.bytes.tolist() == [130, 130, 0]
    assert sc.extents.tolist() == [1, 2, 0]  # a+b back to back; b's 30 bytes end 170 before c
    assert sc.pages.tolist() == [2, 2, 0]  # {7, 8}; {8} and c's {10}
    assert lp.distinct_bytes(layout, part).tolist() == [100 + 60 + 100]


def _truth_db(db_path, alignment=32):
    truth = build_truth()
    with open_store(db_path) as store:
        insert(store.con, truth)
        # real files align their tensors; the synthetic models say nothing of it
        store.con.execute("update models set alignment = ?, data_offset = ?", [alignment, 512])
    return truth


def _rows(con, model_id):
    cols = ["tensor_name", "base_name", "expert_id", "layer_id", "category", "offset_start", "size_bytes"]
    return [dict(zip(cols, r, strict=True)) for r in con.execute(
        f"select {', '.join(cols)} from v1.tensors where model_id = ?", [model_id]).fetchall()]


def _touched(model, rows, p):
    """Rows a decode step touched, from the generator's truth: the dense tensors it read (and the
    expert bias it read whole where the layout keeps it whole) plus the selected experts' slices."""
    names = set(p.dense_reads) | {f"blk.{la}.ffn_gate_exps.bias" for la in p.selections}
    out = [r for r in rows if r["tensor_name"] in names and r["expert_id"] is None]
    for la, es in p.selections.items():
        out += [r for r in rows if r["layer_id"] == la and r["expert_id"] in set(es)]
    return out


@pytest.mark.parametrize("split", [False, True])
def test_synthetic_runs_equal_the_recount(db_path, split):
    truth = _truth_db(db_path)
    model = truth.models["model-a"]
    scored = ["run-a3", "run-a4", "run-a1"] if split else ["run-a1", "run-a2", "run-a3", "run-a4", "run-a5"]
    train = ["run-a1", "run-a2"] if split else scored
    with open_store(db_path) as store:
        run = plan_model(store.con, "model-a", scored, None, list(lp.ORDERS), lp.Params(**PARAMS),
                         train if split else None)
        with store.transaction() as con:
            store_plan(con, run)
        rows = _rows(store.con, "model-a")
        got_steps = {(r, o, s): (b, e, p, w) for r, o, s, b, e, p, w in store.con.execute(
            "select run_id, order_name, step, bytes, extents, pages, readahead_windows from v1.layout_plan_steps "
            "where plan_id = ?", [run.plan_id]).fetchall()}
        got_runs = {(r[0], r[1]): r[2:] for r in store.con.execute(
            "select run_id, order_name, in_sample, n_steps, mean_bytes_per_step, mean_extents_per_step, "
            "p95_extents_per_step, mean_pages_per_step, mean_readahead_windows_per_step, distinct_bytes "
            "from v1.layout_plans where plan_id = ?", [run.plan_id]).fetchall()}
        view_bytes = dict(store.con.execute("select run_id, mean_step_bytes from v1.run_bytes").fetchall())
        got_perm = store.con.execute("select order_name, layer_id, list(expert_id order by position) "
                                     "from v1.layout_plan_permutations where plan_id = ? group by all",
                                     [run.plan_id]).fetchall()
    train_sel = [{la: set(es) for la, es in p.selections.items()} for r in train for p in truth.runs[r].steps]
    perms = {"hot-first": hot_first(train_sel, model.n_layers, model.n_experts),
             "coact": coact(train_sel, model.n_layers, model.n_experts)}
    assert {(o, la): list(p) for o, la, p in got_perm} == \
        {(o, la): perms[o][la] for o in perms for la in range(model.n_layers)}
    assert perms["hot-first"] != perms["coact"]  # the two orders really differ here
    new = {o: offsets(rows, o, 512, 32, perms.get(o)) for o in lp.ORDERS}
    for o in lp.ORDERS[1:]:  # packed orders: every row inside the data section, no two overlapping
        spans = sorted((new[o][r["tensor_name"]], r["size_bytes"]) for r in rows)
        assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:], strict=False))
    assert len(got_runs) == len(scored) * len(lp.ORDERS)
    for run_id in scored:
        steps = truth.runs[run_id].steps
        touched = [_touched(model, rows, p) for p in steps]
        distinct = {r["tensor_name"]: r["size_bytes"] for t in touched for r in t}
        for o in lp.ORDERS:
            figs = [step_figures(t, new[o], **{"page": PARAMS["page"], "readahead": PARAMS["readahead"],
                                               "merge_gap": PARAMS["merge_gap"]}) for t in touched]
            for s, f in enumerate(figs):
                assert got_steps[(run_id, o, s)] == (f["bytes"], f["extents"], f["pages"], f["windows"]), (run_id, o, s)
            in_sample, n_steps, mean_bytes, mean_ext, p95_ext, mean_pages, mean_win, dist = got_runs[(run_id, o)]
            assert n_steps == len(steps)
            assert in_sample == (o in lp.TRAINED_ORDERS and run_id in train)
            assert mean_bytes == pytest.approx(view_bytes[run_id], rel=1e-12)
            assert mean_bytes == pytest.approx(sum(f["bytes"] for f in figs) / len(figs), rel=1e-12)
            assert mean_ext == pytest.approx(sum(f["extents"] for f in figs) / len(figs), rel=1e-12)
            assert p95_ext == pytest.approx(percentile([f["extents"] for f in figs], 0.95), rel=1e-12)
            assert mean_pages == pytest.approx(sum(f["pages"] for f in figs) / len(figs), rel=1e-12)
            assert mean_win == pytest.approx(sum(f["windows"] for f in figs) / len(figs), rel=1e-12)
            assert dist == sum(distinct.values())


def test_a_plan_again_replaces_itself(db_path):
    _truth_db(db_path)
    with open_store(db_path) as store:
        for _ in range(2):
            run = plan_model(store.con, "model-b", None, None, ["file", "coact"], lp.Params(**PARAMS), None)
            with store.transaction() as con:
                store_plan(con, run)
        n = store.con.execute("select count(*) from v1.layout_plans").fetchone()[0]
        n_runs = store.con.execute("select count(*) from v1.runs where model_id = 'model-b'").fetchone()[0]
    assert n == 2 * n_runs


# ---- the demo: GPT-OSS-20B replica and its synthetic runs ------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    replica = shared_replica(tmp_path_factory)
    db = str(tmp_path_factory.mktemp("plan-demo") / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOEWH_CACHE", str(replica.parent))
        from warehouse.demo import ingest_demo

        with open_store(db) as store:
            ingest_demo(store)
    return db


@pytest.mark.slow
def test_demo_equals_the_recount(demo):
    params = lp.Params()  # 4 KiB pages, 128 KiB readahead, 4 KiB merge gap
    with open_store(demo, read_only=True) as store:
        con = store.con
        model_id, data_offset, alignment = con.execute(
            "select model_id, data_offset, alignment from v1.models").fetchone()
        runs = [r[0] for r in con.execute("select run_id from v1.runs where domain in ('code', 'math') "
                                          "order by run_id").fetchall()]
        plan = plan_model(con, model_id, runs, None, list(lp.ORDERS), params, [runs[0]])
        rows = _rows(con, model_id)
        by_name = {r["tensor_name"]: r for r in rows}
        sel = {}
        for run_id, step, layer, expert in con.execute(
                "select run_id, step, layer_id, expert_id from v1.step_experts where run_id in (?, ?)", runs).fetchall():
            sel.setdefault((run_id, step), {}).setdefault(layer, set()).add(expert)
        dense, read = {}, {}
        for run_id, step, name, nbytes in con.execute(
                "select run_id, step, tensor_name, read_bytes from v1.pass_tensor_reads where run_id in (?, ?)",
                runs).fetchall():
            dense.setdefault((run_id, step), set()).add(name)
            read.setdefault((run_id, step), {})[name] = nbytes
        view_bytes = dict(con.execute("select run_id, mean_step_bytes from v1.run_bytes").fetchall())
        view_distinct = dict(con.execute("select run_id, distinct_bytes from v1.run_bytes").fetchall())
    train_sel = [s for (r, _), s in sorted(sel.items()) if r == runs[0]]
    perms = {"hot-first": hot_first(train_sel, 24, 32), "coact": coact(train_sel, 24, 32)}
    assert {o: {la: list(plan.plan.permutations[o][la]) for la in range(24)} for o in perms} == perms
    expert_rows = {}
    for r in rows:
        if r["expert_id"] is not None:
            expert_rows.setdefault((r["layer_id"], r["expert_id"]), []).append(r)
    steps = plan.steps
    for o in lp.ORDERS:
        new = offsets(rows, o, data_offset, alignment, perms.get(o))
        assert {n: int(x) for n, x in zip(plan.layout.tensor_name, plan.plan.offsets[o], strict=True)} == new
        sc = plan.plan.steps[o]
        for i in range(0, steps.n_steps, 17):  # every 17th step of both runs
            key = (steps.run_ids[steps.run_index[i]], int(steps.step[i]))
            touched = [by_name[n] for n in dense.get(key, ())]
            touched += [r for la, es in sel.get(key, {}).items() for e in es for r in expert_rows[(la, e)]]
            part = read.get(key, {})
            assert any(part[n] < by_name[n]["size_bytes"] for n in part)  # the embedding's gathered rows
            spans = [(new[r["tensor_name"]], new[r["tensor_name"]] + min(part.get(r["tensor_name"], r["size_bytes"]),
                                                                       r["size_bytes"])) for r in touched]
            figs = step_figures(touched, new, page=1 << 62, readahead=1 << 62, merge_gap=params.merge_gap, read=part)
            assert (sc.bytes[i], sc.extents[i]) == (figs["bytes"], figs["extents"]), (o, key)
            assert sc.pages[i] == union_units(spans, params.page), (o, key)
            assert sc.windows[i] == union_units(spans, params.readahead), (o, key)
    for res in plan.plan.results:
        assert res.mean_bytes_per_step == pytest.approx(view_bytes[res.run_id], rel=1e-12)
        assert res.distinct_bytes == view_distinct[res.run_id]
        assert res.in_sample == (res.order_name in lp.TRAINED_ORDERS and res.run_id == runs[0])
        assert not math.isnan(res.p95_extents_per_step)
    # the demo's routing is skewed: grouping an expert's slices (expert-major) needs fewer extents
    by = {(r.run_id, r.order_name): r for r in plan.plan.results}
    assert all(by[(r, "expert-major")].mean_extents_per_step < by[(r, "file")].mean_extents_per_step for r in runs)
