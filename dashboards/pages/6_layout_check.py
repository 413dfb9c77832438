"""Layout check: overlaps and gaps of a model's layout; its tensors by type and category."""

import altair as alt
import pandas as pd
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

st.title("Layout check")
st.caption("A correct split layout has no overlapping rows and no uncovered bytes beyond alignment "
           "padding (v1.layout_overlaps, v1.layout_gaps); `moewh check layout` exits 1 otherwise.")

models = query("models")
if models.empty:
    st.info("No model layout in the warehouse yet (`moewh ingest model FILE.gguf`).")
    st.stop()
names = dict(zip(models["model_id"], models["model_name"], strict=True))
model_id = st.selectbox("Model", list(models["model_id"]), format_func=lambda m: names.get(m, m), key="lc_model")
model = models[models["model_id"] == model_id].iloc[0]

overlaps = query("layout_overlaps", model_id=model_id)
gaps = query("layout_gaps", model_id=model_id)
by_type = query("layout_by_type", model_id=model_id)

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Layout rows", f"{int(model['n_layout_rows']):,}")
m2.metric("Tensors in file", "–" if pd.isna(model["n_tensors"]) else f"{int(model['n_tensors']):,}")
m3.metric("Overlapping pairs", f"{len(overlaps):,}")
m4.metric("Gaps", f"{len(gaps):,}")
m5.metric("Gap bytes", f"{int(gaps['gap_bytes'].sum()) if len(gaps) else 0:,}")

if overlaps.empty and gaps.empty:
    st.success("No overlaps and no gaps: every data byte belongs to exactly one layout row.")
if not overlaps.empty:
    st.error(f"{len(overlaps):,} pairs of rows claim the same bytes (often offsets written relative to the "
             "data section, or sizes that ignore quantization).")
    st.dataframe(overlaps, hide_index=True, key="lc_overlaps")
if not gaps.empty:
    st.warning(f"{len(gaps):,} byte ranges are covered by no row.")
    st.dataframe(gaps, hide_index=True, key="lc_gaps")

st.subheader("Sizes by type and category")
left, right = st.columns([1, 1])
with left:
    st.dataframe(by_type, hide_index=True, key="lc_by_type",
                 column_config={"size_bytes": st.column_config.NumberColumn("bytes", format="localized")})
with right:
    ui.chart(
        alt.Chart(by_type.assign(gib=by_type["size_bytes"] / 2**30))
        .mark_bar()
        .encode(y=alt.Y("category:N", sort="-x", title=None), x=alt.X("sum(gib):Q", title="GiB"),
                color=alt.Color("ggml_type:N", title="type"),
                tooltip=["category:N", "ggml_type:N", "n_rows:Q", "n_tensors:Q",
                         alt.Tooltip("size_bytes:Q", format=",d")])
        .properties(height=260)
    )

st.subheader("Tensors")
tensors = query("layout_tensors", model_id=model_id)
cats = st.multiselect("Categories", sorted(tensors["category"].unique()), placeholder="all", key="lc_cats")
st.dataframe(tensors[tensors["category"].isin(cats)] if cats else tensors, hide_index=True, key="lc_tensors")
