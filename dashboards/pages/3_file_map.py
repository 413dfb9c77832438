"""File map: the model file along its byte offsets, each tensor and expert slice coloured by use."""

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

# Above this many bars the chart merges expert slices into their whole tensors.
MAX_BARS = 1500
MIB = 1024 * 1024
def merge_factor(view) -> int:
    """Smallest power of two g such that merging g consecutive expert slices keeps bars <= MAX_BARS."""
    n_plain = int(view["expert_id"].isna().sum())
    n_slices = len(view) - n_plain
    group = 1
    while n_plain + math.ceil(n_slices / group) > MAX_BARS and group < max(n_slices, 1):
        group *= 2
    return group


LANES = ["embedding", "attention", "norm", "router", "expert", "expert_bias", "ffn", "output", "other"]

st.title("File map")
st.caption("The model file drawn along its bytes, one lane per tensor category (zoomed to a layer: one lane per "
           "expert tensor, gate / up / down). Colour: read share, the bytes of the tensor or expert slice the "
           "chosen decode steps read over its bytes times the steps (the token embedding is read a row per "
           "token); grey: never touched. Pick one run and one decode step to see the slices its selection lit. "
           "Drag to pan, scroll to zoom. Address: /file_map?run=RUN&step=N&layer=L opens a step directly.")
# Bookmarkable: ?run=, ?step= and ?layer= set the pickers' starting values.
asked = st.query_params

models = query("models")
if models.empty:
    st.info("No model layout in the warehouse yet (`moewh ingest model FILE.gguf`).")
    st.stop()
names = dict(zip(models["model_id"], models["model_name"], strict=True))
c1, c2, c3 = st.columns([2, 2, 1])
model_id = c1.selectbox("Model", list(models["model_id"]), format_func=lambda m: names.get(m, m), key="fm_model")
model = models[models["model_id"] == model_id].iloc[0]

runs = ui.runs()
runs = ui.filter_runs(runs[runs["model_id"] == model_id], key="fm")
labels = ui.run_label(runs)
asked_run = next((r for r in runs["run_id"] if asked.get("run") in (r, labels.get(r))), None) \
    if asked.get("run") else None
run_ids = c2.multiselect("Runs (touch counts are summed)", list(runs["run_id"]),
                         default=[asked_run] if asked_run else list(runs["run_id"]),
                         format_func=lambda r: labels.get(r, r), key="fm_runs")
order = c3.radio("Order", ["file", "layer"], horizontal=True, key="fm_order",
                 help="file: bytes where they sit in the file; layer: the same bytes laid out block by block")

n_layers = 0 if pd.isna(model["n_layers"]) else int(model["n_layers"])
z0, z1, z2 = st.columns([1, 1, 3])
layer_options = ["whole file"] + list(range(n_layers))
asked_layer = asked.get("layer")
layer = z1.selectbox("Zoom to layer", layer_options, key="fm_layer",
                     index=int(asked_layer) + 1 if asked_layer and asked_layer.isdigit()
                     and int(asked_layer) < n_layers else 0)
# The token picker: one decode step of one run, or all steps of the chosen runs.
run_steps = int(query("runs_steps", run_ids=run_ids or [""])["n_steps"].iloc[0])
step_options = ["all steps"] + (list(range(run_steps)) if len(run_ids) == 1 else [])
asked_step = asked.get("step")
step = z0.selectbox("Decode step", step_options, key="fm_step",
                    index=int(asked_step) + 1 if asked_step and asked_step.isdigit()
                    and int(asked_step) + 1 < len(step_options) else 0,
                    disabled=len(run_ids) != 1,
                    help="Choose exactly one run to pick one of its decode steps (tokens).")
step = None if step == "all steps" else int(step)

rows = query("file_map", model_id=model_id, run_ids=run_ids or [""], group=1, step=step)
if rows.empty:
    st.info("This model has no layout rows.")
    st.stop()
hi_all = int(rows["offset_end"].max())
if layer == "whole file":
    lo, hi = z2.slider("Byte range (MiB)", 0.0, float(math.ceil(hi_all / MIB)),
                       (0.0, float(math.ceil(hi_all / MIB))), step=1.0,
                       key="fm_range", disabled=order == "layer",
                       help="Narrow the range to see each expert slice (file order only).")
    lo, hi = int(lo * MIB), int(hi * MIB)
    in_view = (rows["offset_end"] > lo) & (rows["offset_start"] < hi) if order == "file" else rows["size_bytes"] >= 0
else:
    in_view = rows["layer_id"] == layer
view = rows[in_view]

group = merge_factor(view)
if group > 1:
    merged = query("file_map", model_id=model_id, run_ids=run_ids or [""], group=group, step=step)
    view = merged[merged["base_name"].isin(set(view["base_name"]))]
    if order == "file" and layer == "whole file":
        view = view[(view["offset_end"] > lo) & (view["offset_start"] < hi)]
    st.caption(f"{int(in_view.sum()):,} layout rows: expert slices drawn in runs of {group} consecutive experts "
               f"(colour = mean touches per slice). Zoom to a layer or a narrower byte range to see each slice.")

n_steps = 1 if step is not None else run_steps
if layer != "whole file":
    # A layer's tensors sit in several places of the file (experts first, then the rest), so a
    # zoomed layer is packed: its rows back to back in the chosen order, other bytes skipped.
    view = view.sort_values("offset_start" if order == "file" else "layer_order_start")
    start = view["size_bytes"].cumsum() - view["size_bytes"]
    xtitle = f"bytes of layer {layer} in {order} order, other tensors skipped (MiB)"
    xdomain = None
elif order == "file":
    start = view["offset_start"]
    xtitle = "file offset (MiB)"
    xdomain = [lo / MIB, hi / MIB]
else:
    start = view["layer_order_start"]
    xtitle = "position in layer order (MiB)"
    xdomain = None
view = view.assign(
    x0=start / MIB,
    x1=(start + view["size_bytes"]) / MIB,
    size=view["size_bytes"].map(ui.fmt_bytes),
    range=view["offset_start"].map("{:,}".format) + " – " + view["offset_end"].map("{:,}".format),
    # zoomed to a layer, each expert tensor (gate, up, down, and their biases) gets its own lane
    lane=view["category"] if layer == "whole file" else np.where(
        view["category"].isin(["expert", "expert_bias"]),
        view["component"] + np.where(view["category"] == "expert_bias", " bias", ""), view["category"]),
    rate=view["bytes_read"] / (view["size_bytes"] * n_steps).where(view["size_bytes"] > 0) if n_steps else 0.0,
)
# Rows too small for a pixel (norms, biases) are drawn at least 1/1500 of the span wide so they
# stay visible; the tooltip keeps their true offsets.
span = float(view["x1"].max() - view["x0"].min()) if len(view) else 1.0
view = view.assign(x1=np.maximum(view["x1"], view["x0"] + span / 1500))
lanes = [c for c in LANES if c in set(view["lane"])] + sorted(set(view["lane"]) - set(LANES))
if layer != "whole file":
    lanes = sorted(lanes, key=lambda c: (not c.startswith("ffn_"), c))
tooltip = [alt.Tooltip("name:N", title="tensor"), alt.Tooltip("layer_id:Q", title="layer"),
           alt.Tooltip("expert_id:Q", title="expert"), alt.Tooltip("category:N"),
           alt.Tooltip("ggml_type:N", title="type"), alt.Tooltip("size:N"),
           alt.Tooltip("range:N", title="offsets [start, end)"),
           alt.Tooltip("touches:Q", title="touches" if group == 1 else "touches per slice", format=",.4~f"),
           alt.Tooltip("bytes_read:Q", title="bytes read", format=",d"),
           alt.Tooltip("rate:Q", title="read share (of its bytes x steps)", format=".3%")]
if group > 1:
    tooltip[2:3] = [alt.Tooltip("expert_id:Q", title="first expert"), alt.Tooltip("expert_last:Q", title="last expert")]
    tooltip.append(alt.Tooltip("rows_touched:Q", title="slices touched"))
    tooltip.append(alt.Tooltip("touches_total:Q", title="touches, all slices", format=",d"))
# Colour is the read share, the bytes of the row the chosen decode steps read over its bytes
# times the steps, on a square-root scale: dense tensors are read whole at every step (1), an
# expert slice sits near k/n, the token embedding near 0 (a row per token), and the slices'
# differences must stay visible beside them.
scale = alt.Scale(scheme="inferno", reverse=True, type="sqrt", domain=[0, 1])
touched = "datum.touches > 0"
chart = (
    alt.Chart(view)
    .mark_rect(stroke="white", strokeWidth=0.2)
    .encode(
        x=alt.X("x0:Q", title=xtitle, axis=alt.Axis(format=",.0f"),
                scale=alt.Scale(zero=False, nice=False, **({"domain": xdomain} if xdomain else {}))),
        x2="x1:Q",
        y=alt.Y("lane:N", title=None, sort=lanes),
        color=alt.condition(touched, alt.Color("rate:Q", title="read share", scale=scale,
                                               legend=alt.Legend(format=".0%")),
                            alt.value(ui.UNTOUCHED)),
        tooltip=tooltip,
    )
    .properties(height=60 + 40 * len(lanes),
                title=f"{names.get(model_id, model_id)}: {len(view):,} bars"
                      + (f", decode step {step}" if step is not None else ""))
    .interactive(bind_y=False)
)
ui.chart(chart)

m1, m2, m3, m4 = st.columns(4)
m1.metric("Bars drawn", f"{len(view):,}")
m2.metric("Bytes shown", ui.fmt_bytes(view["size_bytes"].sum()))
m3.metric("Bytes touched", ui.fmt_bytes(view["bytes_touched"].sum()))
m4.metric("Touches", f"{int(view['touches_total'].sum()):,}")

st.subheader("Rows")
st.dataframe(view[["name", "layer_id", "expert_id", "category", "ggml_type", "offset_start", "offset_end",
                   "size_bytes", "touches_total"]].sort_values("offset_start"),
             hide_index=True, key="fm_rows")
