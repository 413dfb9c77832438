"""Layout plan: what each candidate order of a model's bytes costs per decode step (`moewh layout plan`)."""

import math

import altair as alt
import numpy as np
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

MAX_BARS = 1500
MIB = 1024 * 1024
LANES = ["embedding", "attention", "norm", "router", "expert", "expert_bias", "ffn", "output", "other"]

st.title("Layout plan")
st.caption("Each stored plan replays its runs' decode steps against candidate orders of the model's bytes "
           "(`moewh layout plan`): read extents (runs of touched bytes), pages and readahead windows per step. "
           "Bytes per step are the same in every order; fewer extents and pages mean fewer, larger reads.")

plans = query("layout_plans")
if plans.empty:
    st.info("No layout plan yet. Compute one with `moewh layout plan --model MODEL`.")
    st.stop()
labels = {r.plan_id: f"{r.plan_id} · {r.model_name or r.model_id} · {r.n_runs} runs · {r.created_at:%Y-%m-%d %H:%M}"
          for r in plans.itertuples()}
c1, c2 = st.columns([3, 2])
plan_id = c1.selectbox("Plan", list(plans["plan_id"]), format_func=labels.get, key="lp_plan")
plan = plans[plans["plan_id"] == plan_id].iloc[0]
c2.caption(f"page {ui.fmt_bytes(plan['page_bytes'])}, readahead {ui.fmt_bytes(plan['readahead_bytes'])}, "
           f"merge gap {ui.fmt_bytes(plan['merge_gap_bytes'])}")

runs = ui.runs()
plan_runs = query("layout_plan_run_ids", plan_id=plan_id)["run_id"].tolist()
runs = runs[runs["run_id"].isin(plan_runs)]
run_labels = ui.run_label(runs)
run_ids = st.multiselect("Runs", plan_runs, default=plan_runs, format_func=lambda r: run_labels.get(r, r),
                         key="lp_runs")
if not run_ids:
    st.info("Choose at least one run.")
    st.stop()

orders = query("layout_plan_orders", plan_id=plan_id, run_ids=run_ids)
st.subheader("Orders")
m = st.columns(len(orders))
for col, row in zip(m, orders.itertuples(), strict=True):
    ratio = row.extents_vs_file
    col.metric(f"{row.order_name}{' (in-sample)' if row.in_sample else ''}: extents per step",
               f"{row.mean_extents_per_step:,.0f}",
               None if ratio is None or math.isnan(ratio) or row.order_name == "file" else f"{ratio - 1:+.1%} vs file",
               delta_color="inverse")
st.dataframe(orders, hide_index=True, key="lp_orders")

st.subheader("Per decode step")
run_id = st.selectbox("Run", run_ids, format_func=lambda r: run_labels.get(r, r), key="lp_run")
steps = query("layout_plan_steps", plan_id=plan_id, run_id=run_id)
figure = st.radio("Figure", ["extents", "pages", "readahead_windows"], horizontal=True, key="lp_figure")
ui.chart(
    alt.Chart(steps).mark_line(point=True)
    .encode(x=alt.X("step:Q", title="decode step"), y=alt.Y(f"{figure}:Q", title=figure.replace("_", " ")),
            color=alt.Color("order_name:N", title="order"),
            tooltip=["order_name", "step", "extents", "pages", "readahead_windows",
                     alt.Tooltip("bytes:Q", format=",d")])
    .properties(height=320, title=f"{figure.replace('_', ' ')} per decode step")
    .interactive(bind_y=False)
)

st.subheader("The file in one order")
order = st.radio("Order", list(orders["order_name"]), horizontal=True, key="lp_order")
rows = query("layout_plan_map", plan_id=plan_id, order_name=order, run_ids=run_ids, group=1)
n_plain = int(rows["expert_id"].isna().sum())
group = 1
while n_plain + math.ceil((len(rows) - n_plain) / group) > MAX_BARS and group < len(rows):
    group *= 2
if group > 1:
    rows = query("layout_plan_map", plan_id=plan_id, order_name=order, run_ids=run_ids, group=group)
    st.caption(f"Expert slices drawn in runs of {group} neighbouring positions (colour: mean touches).")
n_steps = int(orders["n_steps"].max()) if len(orders) else 0
view = rows.assign(
    x0=rows["offset_start"] / MIB, x1=rows["offset_end"] / MIB, lane=rows["category"],
    size=rows["size_bytes"].map(ui.fmt_bytes), rate=rows["touches"] / n_steps if n_steps else 0.0,
    moved=rows["offset_start"] != rows["file_offset"],
)
span = float(view["x1"].max() - view["x0"].min()) if len(view) else 1.0
view = view.assign(x1=np.maximum(view["x1"], view["x0"] + span / 1500))
lanes = [c for c in LANES if c in set(view["lane"])] + sorted(set(view["lane"]) - set(LANES))
ui.chart(
    alt.Chart(view).mark_rect(stroke="white", strokeWidth=0.2)
    .encode(
        x=alt.X("x0:Q", title=f"offset in {order} order (MiB)", axis=alt.Axis(format=",.0f"),
                scale=alt.Scale(zero=False, nice=False)),
        x2="x1:Q",
        y=alt.Y("lane:N", title=None, sort=lanes),
        color=alt.condition("datum.touches > 0", alt.Color("rate:Q", title="touch rate",
                            scale=alt.Scale(scheme="inferno", reverse=True, type="sqrt", domain=[0, 1]),
                            legend=alt.Legend(format=".0%")), alt.value(ui.UNTOUCHED)),
        tooltip=[alt.Tooltip("name:N", title="row"), alt.Tooltip("layer_id:Q", title="layer"),
                 alt.Tooltip("expert_id:Q", title="original expert"), alt.Tooltip("category:N"),
                 alt.Tooltip("size:N"), alt.Tooltip("offset_start:Q", title="offset in this order", format=",d"),
                 alt.Tooltip("file_offset:Q", title="offset in the file", format=",d"),
                 alt.Tooltip("rate:Q", title="touch rate", format=".1%")],
    )
    .properties(height=60 + 40 * len(lanes), title=f"{order}: {len(view):,} bars, "
                f"{int(view['moved'].sum()):,} away from their file offset")
    .interactive(bind_y=False)
)
