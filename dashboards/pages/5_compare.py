"""Compare: two runs or two domains side by side, their difference, and similarity figures."""

import altair as alt
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

st.title("Compare")

runs = ui.runs()
runs = runs[runs["model_id"].notna()]
if runs.empty:
    st.info("No run with a model layout yet: comparisons need the model's layer × expert grid.")
    st.stop()
models = query("models")
names = dict(zip(models["model_id"], models["model_name"], strict=True))
model_id = st.sidebar.selectbox("Model", list(dict.fromkeys(runs["model_id"])),
                                format_func=lambda m: names.get(m, m), key="cmp_model")
runs = ui.filter_runs(runs[runs["model_id"] == model_id], key="cmp")

mode = st.radio("Compare", ["Two runs", "Two domains"], horizontal=True, key="cmp_mode")
ca, cb = st.columns(2)
if mode == "Two runs":
    if len(runs) < 2:
        st.info("Two runs of the same model are needed; relax the filters or ingest another run.")
        st.stop()
    a = ui.pick_run(runs, key="cmp_a", label="Run A", index=0, where=ca)
    b = ui.pick_run(runs, key="cmp_b", label="Run B", index=1, where=cb)
    labels = ui.run_label(runs)
    name_a, name_b = labels[a], labels[b]
    data = query("compare_runs", run_a=a, run_b=b)
    sim = query("similarity_runs", run_a=a, run_b=b) if a != b else None
else:
    domains = sorted(runs["domain"].dropna().unique())
    if len(domains) < 2:
        st.info("Two domains with runs of this model are needed.")
        st.stop()
    name_a = ca.selectbox("Domain A", domains, index=0, key="cmp_da")
    name_b = cb.selectbox("Domain B", domains, index=1, key="cmp_db")
    data = query("compare_groups", model_id=model_id, name_a=name_a, name_b=name_b)
    sim = query("similarity_domains", model_id=model_id, name_a=name_a, name_b=name_b) if name_a != name_b else None

if data.empty:
    st.info("Nothing to compare for this choice.")
    st.stop()

left, right = st.columns(2)
# one colour scale for both sides, so that equal colours mean equal shares
shared = (0.0, float(max(data["share_a"].max(), data["share_b"].max())) or 1.0)
with left:
    ui.chart(ui.expert_heatmap(data.rename(columns={"share_a": "share", "activations_a": "activations"})
                               [["layer_id", "expert_id", "activations", "share"]], "share", f"A: {name_a}",
                               domain=shared))
with right:
    ui.chart(ui.expert_heatmap(data.rename(columns={"share_b": "share", "activations_b": "activations"})
                               [["layer_id", "expert_id", "activations", "share"]], "share", f"B: {name_b}",
                               domain=shared))
ui.chart(ui.expert_heatmap(data, "diff", "Difference of shares, B − A (red: more in B, blue: more in A)",
                           diverging=True))

st.subheader("Similarity")
if sim is None:
    st.info("A and B are the same; pick two different ones.")
elif sim.empty or sim["js_divergence"].isna().all():
    st.info("No similarity figures: at least one side has no expert selections.")
else:
    m1, m2, m3 = st.columns(3)
    m1.metric("Mean Jensen-Shannon divergence (bits)", f"{sim['js_divergence'].mean():.4f}",
              help="0 = identical expert distributions, 1 = disjoint; mean over layers (v1.run_similarity)")
    m2.metric("Mean cosine similarity", f"{sim['cosine'].mean():.4f}", help="1 = proportional activation counts")
    worst = sim.loc[sim["js_divergence"].idxmax()]
    m3.metric("Most different layer", f"{int(worst['layer_id'])}", f"JS {worst['js_divergence']:.3f}",
              delta_color="off")
    long = sim.melt(id_vars=["layer_id"], value_vars=[c for c in ("js_divergence", "js_within_a", "js_within_b")
                                                     if c in sim.columns], var_name="series", value_name="js")
    ui.chart(
        alt.Chart(long).mark_line(point=True)
        .encode(x=alt.X("layer_id:O", title="layer"), y=alt.Y("js:Q", title="JS divergence (bits)"),
                color=alt.Color("series:N", title=None), tooltip=["layer_id:O", "series:N",
                                                                   alt.Tooltip("js:Q", format=".4f")])
        .properties(height=240, title="Per-layer divergence")
    )
    st.dataframe(sim, hide_index=True, key="cmp_sim")
