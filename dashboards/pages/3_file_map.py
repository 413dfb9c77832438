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
st.caption("The model file drawn along its bytes, one lane per tensor category. Colour: touch rate, the "
           "fraction of the chosen runs' decode steps that touched the tensor or expert slice; grey: never "
           "touched. Drag to pan, scroll to zoom; pick a layer or a byte range to see every expert slice.")

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
run_ids = c2.multiselect("Runs (touch counts are summed)", list(runs["run_id"]), default=list(runs["run_id"]),
                         format_func=lambda r: labels.get(r, r), key="fm_runs")
order = c3.radio("Order", ["file", "layer"], horizontal=True, key="fm_order",
                 help="file: bytes where they sit in the file; layer: the same bytes laid out block by block")

n_layers = 0 if pd.isna(model["n_layers"]) else int(model["n_layers"])
z1, z2 = st.columns([1, 3])
layer = z1.selectbox("Zoom to layer", ["whole file"] + list(range(n_layers)), key="fm_layer")

rows = query("file_map", model_id=model_id, run_ids=run_ids or [""], group=1)
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
    merged = query("file_map", model_id=model_id, run_ids=run_ids or [""], group=group)
    view = merged[merged["base_name"].isin(set(view["base_name"]))]
    if order == "file" and layer == "whole file":
        view = view[(view["offset_end"] > lo) & (view["offset_start"] < hi)]
    st.caption(f"{int(in_view.sum()):,} layout rows: expert slices drawn in runs of {group} consecutive experts "
               f"(colour = mean touches per slice). Zoom to a layer or a narrower byte range to see each slice.")

n_steps = int(query("runs_steps", run_ids=run_ids or [""])["n_steps"].iloc[0])
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
    lane=view["category"],
    rate=view["touches"] / n_steps if n_steps else 0.0,
)
# Rows too small for a pixel (norms, biases) are drawn at least 1/1500 of the span wide so they
# stay visible; the tooltip keeps their true offsets.
span = float(view["x1"].max() - view["x0"].min()) if len(view) else 1.0
view = view.assign(x1=np.maximum(view["x1"], view["x0"] + span / 1500))
lanes = [c for c in LANES if c in set(view["lane"])] + sorted(set(view["lane"]) - set(LANES))
tooltip = [alt.Tooltip("name:N", title="tensor"), alt.Tooltip("layer_id:Q", title="layer"),
           alt.Tooltip("expert_id:Q", title="expert"), alt.Tooltip("category:N"),
           alt.Tooltip("ggml_type:N", title="type"), alt.Tooltip("size:N"),
           alt.Tooltip("range:N", title="offsets [start, end)"),
           alt.Tooltip("touches:Q", title="touches" if group == 1 else "touches per slice", format=",.4~f"),
           alt.Tooltip("rate:Q", title="touch rate (of decode steps)", format=".1%")]
if group > 1:
    tooltip[2:3] = [alt.Tooltip("expert_id:Q", title="first expert"), alt.Tooltip("expert_last:Q", title="last expert")]
    tooltip.append(alt.Tooltip("rows_touched:Q", title="slices touched"))
    tooltip.append(alt.Tooltip("touches_total:Q", title="touches, all slices", format=",d"))
# Colour is the touch rate, the fraction of the chosen runs' decode steps that touched the row,
# on a square-root scale: dense tensors are read at every step (rate 1) while an expert slice
# sits near k/n, and the slices' differences must stay visible beside them.
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
        color=alt.condition(touched, alt.Color("rate:Q", title="touch rate", scale=scale,
                                               legend=alt.Legend(format=".0%")),
                            alt.value(ui.UNTOUCHED)),
        tooltip=tooltip,
    )
    .properties(height=60 + 40 * len(lanes), title=f"{names.get(model_id, model_id)}: {len(view):,} bars")
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
