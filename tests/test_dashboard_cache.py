"""The Cache page under Streamlit's AppTest: its figures against v1.cache_results,
v1.cache_layer_results and v1.predictor_results, summed here with pandas; the cliff against the
item sizes recounted from the base tensors table."""

from __future__ import annotations

import os

import dashboard_warehouse as dw
import duckdb
import pandas as pd
import pytest

from tests.test_dashboard_pages import charts, frame, open_page
from warehouse.db.store import open_store
from warehouse.simulate.runner import simulate_cache, simulate_predictors

BUDGETS = [256 << 20, 1 << 30, 2 << 30, 4 << 30]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dash-cache") / "warehouse.duckdb")
    dw.build(path)
    with open_store(path) as store:
        simulate_cache(store, None, budgets=BUDGETS)
        simulate_cache(store, None, slots=[24, 96, 192], scope="layer")
        simulate_predictors(store, None)
    con = duckdb.connect(path, read_only=True)
    views = {v: con.sql(f"select * from v1.{v}").df() for v in ("cache_results", "cache_layer_results",
                                                                "predictor_results", "runs")}
    views["tensors"] = con.sql("select * from main.tensors").df()
    con.close()
    old = os.environ.get("MOEWH_DB")
    os.environ["MOEWH_DB"] = path
    yield path, views
    if old is None:
        os.environ.pop("MOEWH_DB", None)
    else:
        os.environ["MOEWH_DB"] = old


def _summed(results: pd.DataFrame, sim_id: str, runs: list[str]) -> pd.DataFrame:
    rows = results[(results["sim_id"] == sim_id) & results["run_id"].isin(runs)].copy()
    rows["capacity"] = rows["budget_bytes"].fillna(rows["capacity_items"]).astype("int64")
    g = rows.groupby(["policy", "capacity"])[["hits", "n_accesses", "belady_hits"]].sum().reset_index()
    g["hit_rate"] = g["hits"] / g["n_accesses"]
    g["regret"] = (g["belady_hits"] - g["hits"]) / g["n_accesses"]
    return g


def _shown(at) -> pd.DataFrame:
    return frame(at, "policy", "capacity", "hit_rate", "regret")


def _compare(shown: pd.DataFrame, want: pd.DataFrame) -> None:
    got = shown.set_index(["policy", "capacity"]).sort_index()
    want = want.set_index(["policy", "capacity"]).sort_index()
    assert list(got.index) == list(want.index)
    assert (got["hits"].astype(int) == want["hits"]).all()
    assert (got["n_accesses"].astype(int) == want["n_accesses"]).all()
    assert ((got["hit_rate"] - want["hit_rate"]).abs() < 1e-12).all()
    assert ((got["regret"] - want["regret"]).abs() < 1e-12).all()


def test_budget_curves_metrics_cliff_and_heatmap(warehouse):
    _, v = warehouse
    at = open_page("8_cache")
    res = v["cache_results"]
    sim_id = res[(res["scope"] == "global") & (res["capacity_unit"] == "bytes")]["sim_id"].iloc[0]
    first = sorted(v["runs"][v["runs"]["run_id"].isin(res["run_id"])].itertuples(), key=lambda r: (r.run_name, r.run_id))
    run = next(r.run_id for r in first if res[res["run_id"] == r.run_id]["n_accesses"].max() > 0)
    want = _summed(res, sim_id, [run])
    _compare(_shown(at), want)
    top = want[want["capacity"] == max(BUDGETS)].set_index("policy")
    for m in at.metric:
        assert m.value == f"{top.loc[m.label, 'hit_rate']:.1%}"
    assert {m.label for m in at.metric} == {"lru", "fifo", "lfu", "static", "belady"}
    # the cliff: one step's distinct items times the largest item (expert slices + split biases)
    t = v["tensors"]
    items = t[t["category"].isin(["expert", "expert_bias"]) & t["expert_id"].notna()]
    item_bytes = items.groupby(["model_id", "layer_id", "expert_id"])["size_bytes"].sum().max()
    ws = res[(res["sim_id"] == sim_id) & (res["run_id"] == run)]["working_set_items"].max()
    assert ws == 24 * 4
    layered = [c for c in charts(at) if "layer" in c["spec"]]
    (curves,) = [c for c in layered if any("hit_rate" in f and "policy" in f and "regret" in f for f in c["data"])]
    rules = [f for f in curves["data"] if "label" in f]
    assert len(rules) == 1 and abs(rules[0]["x"].iloc[0] - ws * item_bytes / 2**30) < 1e-9
    # the per-layer heatmap: lru by default
    (heat,) = [c for c in charts(at) if c["spec"].get("mark", {}).get("type") == "rect"]
    data = heat["data"][0]
    lr = v["cache_layer_results"]
    lr = lr[(lr["sim_id"] == sim_id) & (lr["run_id"] == run) & (lr["policy"] == "lru")]
    assert len(data) == len(lr) == 24 * len(BUDGETS)
    merged = data.merge(lr, left_on=["layer_id", "capacity"], right_on=["layer_id", "budget_bytes"])
    assert len(merged) == len(lr) and ((merged["hit_rate_x"] - merged["hit_rate_y"]).abs() < 1e-12).all()
    # the predictor table: the view's rows of this run
    pr = frame(at, "predictor", "recall", "precision")
    want_p = v["predictor_results"][v["predictor_results"]["run_id"] == run]
    assert sorted(pr["predictor"]) == sorted(want_p["predictor"])
    for row in pr.itertuples():
        w = want_p[want_p["predictor"] == row.predictor].iloc[0]
        assert abs(row.recall - w["recall"]) < 1e-12 and abs(row.precision - w["precision"]) < 1e-12


def test_layer_scope_with_several_runs_sums_them(warehouse):
    _, v = warehouse
    res = v["cache_results"]
    sim_id = res[res["scope"] == "layer"]["sim_id"].iloc[0]
    runs = sorted(res[(res["sim_id"] == sim_id) & (res["n_accesses"] > 0)]["run_id"].unique())[:3]
    at = open_page("8_cache", cache_scope="layer", cache_runs=runs)
    _compare(_shown(at), _summed(res, sim_id, runs))
    (curves,) = [c for c in charts(at) if "layer" in c["spec"]
                 and any("hit_rate" in f and "regret" in f for f in c["data"])]
    rules = [f for f in curves["data"] if "label" in f]
    assert rules[0]["x"].iloc[0] == res[(res["sim_id"] == sim_id) & res["run_id"].isin(runs)]["working_set_items"].max()


def test_without_simulations_the_page_says_what_to_run(tmp_path):
    path = str(tmp_path / "w.duckdb")
    dw.build(path)
    old = os.environ.get("MOEWH_DB")
    os.environ["MOEWH_DB"] = path
    try:
        at = open_page("8_cache")
        assert "moewh simulate" in at.info[0].value
    finally:
        if old is None:
            os.environ.pop("MOEWH_DB", None)
        else:
            os.environ["MOEWH_DB"] = old
