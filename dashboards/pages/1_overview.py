"""Overview: the models and runs in the warehouse, and each run's trace-quality warnings."""

import streamlit as st

from warehouse import dashboard_ui as ui
from warehouse.dashboard_data import DashboardError, query

st.title("Overview")

models = query("models")
runs = ui.runs()
shown = ui.filter_runs(runs, key="overview")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Models", len(models))
c2.metric("Runs", len(shown))
c3.metric("Passes", int(shown["n_passes"].sum()) if len(shown) else 0)
c4.metric("Trace records", int(shown["n_records"].sum()) if len(shown) else 0)

st.subheader("Models")
st.dataframe(
    models, hide_index=True, key="models_table",
    column_config={
        "file_size_bytes": st.column_config.NumberColumn("file size (bytes)", format="localized"),
        "weight_bytes": st.column_config.NumberColumn("weight bytes", format="localized"),
    },
)

st.subheader("Runs")
st.caption("Filter by experiment, domain and source (real or synthetic) in the sidebar.")
st.dataframe(shown, hide_index=True, key="runs_table")

st.subheader("Trace quality")
if shown.empty:
    st.info("No run matches the filters.")
else:
    try:
        quality = query("trace_quality", run_ids=list(shown["run_id"]))
    except DashboardError as exc:
        st.info(f"Trace-quality warnings are not available: {exc.body}")
        st.stop()
    names = dict(zip(runs["run_id"], runs["run_name"], strict=True))
    if quality.empty:
        st.success("No warnings for the selected runs.")
    for run_id, group in quality.groupby("run_id", sort=False):
        with st.container(border=True):
            st.markdown(f"**{names.get(run_id, run_id)}** (`{run_id}`)")
            for r in group.itertuples():
                (st.warning if r.severity == "warning" else st.info)(r.message)
