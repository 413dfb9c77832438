"""Overview: the models and runs in the warehouse, and each run's trace-quality warnings."""

import altair as alt
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import DashboardError, query

st.title("Overview")

models = query("models")
runs = ui.runs()
shown = ui.filter_runs(runs, key="overview")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Models", f"{len(models):,}")
c2.metric("Runs", f"{len(shown):,}")
c3.metric("Passes", f"{int(shown['n_passes'].sum()) if len(shown) else 0:,}")
c4.metric("Trace records", f"{int(shown['n_records'].sum()) if len(shown) else 0:,}")

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
if not shown.empty:
    ui.chart(
        alt.Chart(shown.assign(domain=shown["domain"].fillna("(none)")))
        .mark_bar()
        .encode(y=alt.Y("run_name:N", title=None, sort=None), x=alt.X("n_steps:Q", title="decode steps"),
                color=alt.Color("domain:N", title="domain"),
                tooltip=["run_name:N", "experiment:N", "domain:N", "source:N", "n_passes:Q", "n_steps:Q"])
        .properties(height=22 * len(shown) + 50, title="Decode steps per run (warm-up passes excluded)")
    )

st.subheader("Model bytes touched")
st.caption("Per decode step: non-expert tensors read from DISK plus the selected experts' slices "
           "(v1.run_bytes). Touched means read from the mapped file, not necessarily from the SSD.")
if not shown.empty:
    touched = query("run_bytes", run_ids=list(shown["run_id"]))
    mib = st.column_config.NumberColumn(format="%.1f MiB")
    st.dataframe(
        touched.assign(**{c: touched[c] / 2**20 for c in ("mean_step_bytes", "p50_step_bytes", "p95_step_bytes",
                                                          "distinct_bytes")}),
        hide_index=True, key="bytes_table",
        column_config={"mean_step_bytes": mib, "p50_step_bytes": mib, "p95_step_bytes": mib, "distinct_bytes": mib,
                       "distinct_fraction": st.column_config.NumberColumn(format="percent")},
    )

st.subheader("Trace quality")
if shown.empty:
    st.info("No run matches the filters.")
else:
    try:
        quality = query("trace_quality", run_ids=list(shown["run_id"]))
    except DashboardError as exc:
        st.info(f"Trace-quality warnings are not available: {exc.body}")
        st.stop()
    for r in quality.itertuples():
        messages = ui.quality_messages(r)
        warnings = sum(1 for severity, _ in messages if severity == "warning")
        label = f"{r.run_name} — " + (f"{warnings} warning(s)" if warnings else "no warnings")
        with st.expander(label, expanded=warnings > 0):
            st.caption(f"`{r.run_id}` · {int(r.n_records):,} records · {int(r.n_passes):,} passes · "
                       f"{int(r.disk_sources):,} DISK sources")
            if not messages:
                st.success("Nothing to report.")
            for severity, text in messages:
                (st.warning if severity == "warning" else st.info)(text)
