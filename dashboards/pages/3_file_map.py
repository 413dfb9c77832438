"""File map: the model file along its byte offsets, each tensor and expert slice coloured by use."""

import altair as alt
import streamlit as st

from warehouse import dashboard_ui as ui
from warehouse.dashboard_data import query

# Above this many bars the chart merges expert slices into their whole tensors.
MAX_BARS = 1500
MIB = 1024 * 1024
LANES = ["embedding", "attention", "norm", "router", "expert", "expert_bias", "ffn", "output", "other"]

st.title("File map")
st.caption("The model file drawn along its bytes, one lane per tensor category. Colour: decode steps of "
           "the chosen runs that touched the tensor or expert slice; grey: never touched. Drag to pan, "
           "scroll to zoom; pick a layer or a byte range to see every expert slice.")

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

n_layers = int(model["n_layers"]) if model["n_layers"] == model["n_layers"] else 0
z1, z2 = st.columns([1, 3])
layer = z1.selectbox("Zoom to layer", ["whole file"] + list(range(n_layers)), key="fm_layer")

rows = query("file_map", model_id=model_id, run_ids=run_ids or [""], merge_slices=False)
if rows.empty:
    st.info("This model has no layout rows.")
    st.stop()
lo_all, hi_all = int(rows["offset_start"].min()), int(rows["offset_end"].max())
if layer == "whole file":
    lo, hi = z2.slider("Byte range (MiB)", 0.0, hi_all / MIB, (lo_all / MIB, hi_all / MIB), step=1.0,
                       key="fm_range", disabled=order == "layer",
                       help="Narrow the range to see each expert slice (file order only).")
    lo, hi = int(lo * MIB), int(hi * MIB) + 1
    view = rows[(rows["offset_end"] > lo) & (rows["offset_start"] < hi)] if order == "file" else rows
else:
    view = rows[rows["layer_id"] == layer]

merged = len(view) > MAX_BARS
if merged:
    whole = query("file_map", model_id=model_id, run_ids=run_ids or [""], merge_slices=True)
    view = whole[whole["name"].isin(set(view["base_name"]))]
    st.caption(f"{len(rows):,} layout rows: expert slices merged into their {len(view):,} whole tensors "
               "(touches summed). Zoom to a layer or a narrower byte range to see each slice.")

pos = "offset" if order == "file" else "layer_order"
view = view.assign(
    x0=(view["offset_start"] if order == "file" else view["layer_order_start"]) / MIB,
    x1=(view["offset_end"] if order == "file" else view["layer_order_start"] + view["size_bytes"]) / MIB,
    size=view["size_bytes"].map(ui.fmt_bytes),
    range=view["offset_start"].map("{:,}".format) + " – " + view["offset_end"].map("{:,}".format),
    lane=view["category"],
)
lanes = [c for c in LANES if c in set(view["lane"])] + sorted(set(view["lane"]) - set(LANES))
tooltip = [alt.Tooltip("name:N", title="tensor"), alt.Tooltip("layer_id:Q", title="layer"),
           alt.Tooltip("expert_id:Q", title="expert"), alt.Tooltip("category:N"),
           alt.Tooltip("ggml_type:N", title="type"), alt.Tooltip("size:N"),
           alt.Tooltip("range:N", title="offsets [start, end)"),
           alt.Tooltip("touches:Q", title="touches", format=",d")]
if merged:
    tooltip.append(alt.Tooltip("rows_touched:Q", title="slices touched"))
chart = (
    alt.Chart(view)
    .mark_rect(stroke="white", strokeWidth=0.15)
    .encode(
        x=alt.X("x0:Q", title=f"{'file offset' if order == 'file' else 'position in layer order'} (MiB)",
                axis=alt.Axis(format=",.0f")),
        x2="x1:Q",
        y=alt.Y("lane:N", title=None, sort=lanes),
        color=alt.condition("datum.touches > 0",
                            alt.Color("touches:Q", title="touches", scale=alt.Scale(scheme="inferno",
                                                                                     reverse=True, type="log")),
                            alt.value(ui.UNTOUCHED)),
        tooltip=tooltip,
    )
    .properties(height=max(160, 34 * len(lanes)), title=f"{names.get(model_id, model_id)}: {len(view):,} bars")
    .interactive(bind_y=False)
)
ui.chart(chart)

m1, m2, m3, m4 = st.columns(4)
m1.metric("Bars drawn", f"{len(view):,}")
m2.metric("Bytes shown", ui.fmt_bytes(view["size_bytes"].sum()))
m3.metric("Bytes touched", ui.fmt_bytes(view["bytes_touched"].sum()))
m4.metric("Touches", f"{int(view['touches'].sum()):,}")

st.subheader("Rows")
st.dataframe(view[["name", "layer_id", "expert_id", "category", "ggml_type", "offset_start", "offset_end",
                   "size_bytes", "touches"]].sort_values("offset_start"),
             hide_index=True, key="fm_rows")
