"""Token timeline: decode step × expert for one layer of one run, warm-up passes marked."""

import altair as alt
import pandas as pd
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

st.title("Token timeline")
st.caption("Which experts each pass selected in one layer. Colour is the router's rank (0 = first "
           "choice); grey columns are warm-up passes, which evaluate every expert and select none.")

runs = ui.filter_runs(ui.runs(), key="tl")
c1, c2 = st.columns([2, 1])
run_id = ui.pick_run(runs, key="tl_run", where=c1)
if run_id is None:
    st.stop()
shape = query("run_shape", run_id=run_id)
if shape.empty or pd.isna(shape["n_layers"].iloc[0]):
    st.info("This run has no expert selections and no model, so it has no layers to show.")
    st.stop()
n_layers, n_experts = int(shape["n_layers"].iloc[0]), int(shape["n_experts"].iloc[0])
layer_id = c2.selectbox("Layer", list(range(n_layers)), key="tl_layer")

passes = query("timeline_passes", run_id=run_id)
sel = query("timeline_selections", run_id=run_id, layer_id=layer_id)

m1, m2, m3, m4 = st.columns(4)
m1.metric("Passes", len(passes))
m2.metric("Warm-up passes", int(passes["is_warmup"].sum()))
m3.metric("Decode steps", int(shape["n_steps"].iloc[0]))
m4.metric("Distinct experts in this layer", int(sel["expert_id"].nunique()))

if passes.empty:
    st.info("This run has no passes.")
    st.stop()

# One chart, so that the phase row and the expert rows share the x axis exactly: the y axis is
# a band per expert plus a top band "pass" showing each pass's phase.
rows = ["pass"] + [str(e) for e in range(n_experts)]
yscale = alt.Scale(domain=rows)
xscale = alt.Scale(domain=[-0.5, float(passes["pass_id"].max()) + 0.5], nice=False)
xaxis = alt.Axis(tickMinStep=1, format="d", title="pass (execution order)")
kinds = passes.assign(x0=passes.pass_id - 0.5, x1=passes.pass_id + 0.5, row="pass",
                      kind=passes.phase.where(~passes.is_warmup, "warm-up"))
layers = [
    alt.Chart(kinds[kinds["is_warmup"]]).mark_rect(color="#9e9e9e", opacity=0.3)
    .encode(x=alt.X("x0:Q", scale=xscale, axis=xaxis), x2="x1:Q",
            tooltip=[alt.Tooltip("pass_id:Q", title="warm-up pass"), "token_id:Q"]),
    alt.Chart(kinds).mark_rect(stroke="white", strokeWidth=0.5)
    .encode(x=alt.X("x0:Q", scale=xscale, axis=xaxis), x2="x1:Q",
            y=alt.Y("row:N", scale=yscale, title="expert", axis=alt.Axis(labelFontSize=9)),
            color=alt.Color("kind:N", title="pass", scale=alt.Scale(
                domain=["warm-up", "PROMPT", "GENERATE", "UNKNOWN"],
                range=["#9e9e9e", "#f58518", "#4c78a8", "#e45756"]), legend=alt.Legend(orient="bottom")),
            tooltip=["pass_id:Q", "kind:N", "token_id:Q", "n_records:Q", "n_batch_tokens:Q"]),
]
if not sel.empty:
    cells = sel.assign(x0=sel.pass_id - 0.5, x1=sel.pass_id + 0.5, row=sel.expert_id.astype(str))
    layers.append(
        alt.Chart(cells).mark_rect(stroke="white", strokeWidth=0.3)
        .encode(
            x=alt.X("x0:Q", scale=xscale, axis=xaxis), x2="x1:Q",
            y=alt.Y("row:N", scale=yscale, title="expert"),
            color=alt.Color("rank:O", title="router rank", scale=alt.Scale(scheme="viridis"),
                            legend=alt.Legend(orient="bottom")),
            tooltip=["step:Q", "pass_id:Q", "token_id:Q", "phase:N", "expert_id:Q", "rank:Q"],
        )
    )
timeline = (alt.layer(*layers).resolve_scale(color="independent")
            .properties(height=16 * (n_experts + 1) + 40, title=f"Layer {layer_id}: selected experts per pass"))
ui.chart(timeline)
if sel.empty:
    st.info("No selections in this layer.")

st.subheader("Selections")
st.dataframe(sel, hide_index=True, key="tl_sel")
st.subheader("Stickiness per layer")
st.caption("repeat probability: chance that an expert selected at one step is selected again at the next; "
           "baseline k/n is what uniform random routing gives. From v1.expert_stickiness.")
st.dataframe(query("stickiness_run", run_id=run_id), hide_index=True, key="tl_sticky")
