"""Expert heatmap: layer × expert, coloured by activations or share, for one run or a group."""

import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

st.title("Expert heatmap")

runs = ui.runs()
runs = runs[runs["model_id"].notna()]
if runs.empty:
    st.info("No run with a model layout yet: the heatmap needs the model's layers and experts.")
    st.stop()

models = query("models")
model_ids = list(dict.fromkeys(runs["model_id"]))
names = dict(zip(models["model_id"], models["model_name"], strict=True))
model_id = st.sidebar.selectbox("Model", model_ids, format_func=lambda m: names.get(m, m), key="hm_model")
runs = runs[runs["model_id"] == model_id]
filtered = ui.filter_runs(runs, key="hm")

left, right = st.columns([1, 1])
mode = left.radio("Show", ["One run", "Selected runs", "Domain", "Experiment", "All runs of the model"],
                  horizontal=True, key="hm_mode")
metric = right.radio("Colour", ["activations", "share"], horizontal=True, key="hm_metric",
                     help="activations: decode steps in which the expert was selected; share: its part of "
                          "the layer's activations")

if mode == "One run":
    run_id = ui.pick_run(filtered, key="hm_run")
    if run_id is None:
        st.stop()
    data = query("hotness_run", run_id=run_id)
    title = f"Run {ui.run_label(filtered)[run_id]}"
elif mode == "Selected runs":
    labels = ui.run_label(filtered)
    chosen = st.multiselect("Runs", list(filtered["run_id"]), default=list(filtered["run_id"]),
                            format_func=lambda r: labels.get(r, r), key="hm_runs")
    if not chosen:
        st.info("Select at least one run.")
        st.stop()
    data = query("hotness_runs_sum", run_ids=chosen)
    title = f"Sum of {len(chosen)} run(s)"
else:
    kind = {"Domain": "domain", "Experiment": "experiment", "All runs of the model": "all"}[mode]
    groups = query("groups")
    groups = groups[(groups["model_id"] == model_id) & (groups["group_kind"] == kind)]
    if groups.empty:
        st.info(f"No run of this model has a {kind}.")
        st.stop()
    if kind == "all":
        name = None
    else:
        name = st.selectbox(mode, list(groups["group_name"]), key=f"hm_group_{kind}")
    data = query("hotness_group", model_id=model_id, group_kind=kind, group_name=name)
    n_runs = int(groups[groups["group_name"].fillna("") == (name or "")]["n_runs"].iloc[0])
    title = f"{mode}{': ' + name if name else ''} ({n_runs} run(s))"

if data.empty or not data["activations"].sum():
    st.info("No expert selections for this choice (warm-up passes carry none).")
    st.stop()

plot, side = st.columns([5, 2])
with plot:
    ui.chart(ui.expert_heatmap(data, metric, title))
with side:
    st.markdown("**Hottest experts**")
    top = data.sort_values(["activations", "layer_id", "expert_id"], ascending=[False, True, True]).head(20)
    st.dataframe(
        top[["layer_id", "expert_id", "activations", "share"]],
        hide_index=True, key="hm_top",
        column_config={"share": st.column_config.NumberColumn(format="percent")},
    )

if mode == "One run":
    st.subheader("Routing concentration per layer")
    st.caption("coverage: experts used at least once; chance: what uniform random routing would cover; "
               "gini 0 = uniform. From v1.layer_routing_stats.")
    st.dataframe(query("layer_stats_run", run_id=run_id), hide_index=True, key="hm_stats")
