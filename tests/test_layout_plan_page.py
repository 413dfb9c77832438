"""The Layout plan page under Streamlit's AppTest: its figures recounted from the base tables
the plan wrote (layout_plan_steps, layout_plan_offsets), never from the views the page reads."""

from __future__ import annotations

import os

import dashboard_warehouse as dw
import duckdb
import pytest
from test_dashboard_pages import charts, frame, open_page

from warehouse.db.store import open_store
from warehouse.layout.plan import ORDERS, Params
from warehouse.layout.plan_store import plan_model, store_plan


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("plan-page") / "warehouse.duckdb")
    dw.build(path)
    old = os.environ.get("MOEWH_DB")
    os.environ["MOEWH_DB"] = path
    with open_store(path) as store:
        plan = plan_model(store.con, dw.MODEL_ID, None, None, list(ORDERS), Params(), ["code-1"])
        with store.transaction() as con:
            store_plan(con, plan)
    con = duckdb.connect(path, read_only=True)
    truth = {t: con.sql(f"select * from main.{t}").df() for t in ("layout_plan_steps", "layout_plan_offsets", "runs")}
    con.close()
    yield path, plan.plan_id, truth
    if old is None:
        os.environ.pop("MOEWH_DB", None)
    else:
        os.environ["MOEWH_DB"] = old


def test_orders_table_and_step_chart_equal_the_stored_steps(planned):
    _, plan_id, truth = planned
    at = open_page("9_layout_plan")
    assert not at.error, [e.value for e in at.error]
    orders = frame(at, "order_name", "mean_extents_per_step", "extents_vs_file")
    steps = truth["layout_plan_steps"]
    want = steps.groupby("order_name")[["extents", "pages"]].mean()
    assert list(orders["order_name"]) == list(ORDERS)
    for row in orders.itertuples():
        assert row.mean_extents_per_step == pytest.approx(want.loc[row.order_name, "extents"], rel=1e-12)
        assert row.mean_pages_per_step == pytest.approx(want.loc[row.order_name, "pages"], rel=1e-12)
        assert row.extents_vs_file == pytest.approx(want.loc[row.order_name, "extents"] / want.loc["file", "extents"])
        assert row.in_sample == (row.order_name in ("hot-first", "coact"))  # code-1 trained them and is shown
    (line,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "line"]
    first_run = sorted(truth["layout_plan_steps"]["run_id"].unique())[0]
    drawn = line["data"][0].sort_values(["order_name", "step"])
    mine = steps[steps["run_id"] == first_run].sort_values(["order_name", "step"])
    assert drawn["extents"].tolist() == mine["extents"].tolist()


@pytest.mark.parametrize("order", ["layer", "coact"])
def test_file_map_draws_the_rows_at_their_offsets_in_the_order(planned, order):
    _, _, truth = planned
    at = open_page("9_layout_plan", lp_order=order)
    (fmap,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
    bars = fmap["data"][0]
    offs = truth["layout_plan_offsets"]
    offs = offs[offs["order_name"] == order]
    # 4923 rows of GPT-OSS-20B are merged into at most 1500 bars: every bar spans its rows' offsets
    assert len(bars) <= 1500
    assert bars["offset_start"].min() == offs["offset_start"].min()
    assert bars["offset_end"].max() == offs["offset_end"].max()
    assert bars["size_bytes"].sum() == (offs["offset_end"] - offs["offset_start"]).sum()
    dense = offs[~offs["tensor_name"].str.contains(r"\[")].set_index("tensor_name")["offset_start"]
    got = bars.set_index("name")["offset_start"]
    assert all(got[n] == dense[n] for n in dense.index)


def test_without_a_plan_the_page_says_how_to_make_one(tmp_path, monkeypatch):
    path = str(tmp_path / "w.duckdb")
    dw.build(path)
    monkeypatch.setenv("MOEWH_DB", path)
    at = open_page("9_layout_plan")
    assert any("moewh layout plan" in i.value for i in at.info)
