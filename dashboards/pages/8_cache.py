"""Cache: hit rate against cache size for each policy, with Belady's optimum as the ceiling."""

import altair as alt
import pandas as pd
import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import query

st.title("Cache")
st.caption("What an expert cache in RAM or VRAM would hit (`moewh simulate`, v1.cache_results): every policy "
           "beside Belady's optimum, which no demand policy can beat. Below the working set of one token "
           "(every layer's k experts) LRU and FIFO hit nothing: the token-cycle cliff.")

sims = query("cache_sims")
if sims.empty:
    st.info("No cache simulation in the warehouse yet. Run one, e.g. "
            "`moewh simulate --budget 512MiB,1GiB,2GiB,4GiB,8GiB --predictors`, then reload.")
    st.stop()

left, mid, right = st.columns([1, 1, 2])
scope = left.radio("Scope", sorted(sims["scope"].unique()), horizontal=True, key="cache_scope",
                   help="global: one cache for all layers; layer: each layer its own cache, the size split evenly.")
in_scope = sims[sims["scope"] == scope]
labels = {r.sim_id: f"{r.train} · {'budgets' if r.capacity_unit == 'bytes' else 'slots'} · {r.n_runs} runs"
          for r in in_scope.itertuples()}
sim_id = mid.selectbox("Training set", list(in_scope["sim_id"]), format_func=lambda s: labels[s], key="cache_train",
                       help="What static learned from: self (each run itself, in-sample), a domain, or runs.")
sim = in_scope[in_scope["sim_id"] == sim_id].iloc[0]
by_bytes = sim["capacity_unit"] == "bytes"

runs = query("cache_sim_runs", sim_id=sim_id)
names = {r.run_id: " · ".join(str(x) for x in (r.run_name, r.domain, r.source) if not pd.isna(x))
         for r in runs.itertuples()}
with_accesses = [r for r, n in zip(runs["run_id"], runs["n_accesses"], strict=True) if n > 0]
chosen = right.multiselect("Runs (summed)", list(runs["run_id"]), default=with_accesses[:1] or list(runs["run_id"][:1]),
                           format_func=lambda r: names.get(r, r), key="cache_runs")
if not chosen:
    st.info("Pick at least one run.")
    st.stop()

curve = query("cache_curve", sim_id=sim_id, run_ids=chosen)
if curve["n_accesses"].fillna(0).sum() == 0:
    st.info("The chosen runs have no decode step (a warm-up-only trace): nothing was accessed.")
    st.stop()
x_title = "cache budget (GiB)" if by_bytes else "cache slots (items)"
curve = curve.assign(x=curve["capacity"] / 2**30 if by_bytes else curve["capacity"])
belady = curve[curve["policy"] == "belady"]
working_set = int(curve["working_set_items"].max())
if by_bytes:  # budgets: the cliff lies at the working set's bytes
    item_bytes = query("cache_item_bytes", run_ids=chosen)["item_bytes"].iloc[0]
    cliff = None if pd.isna(item_bytes) else working_set * float(item_bytes) / 2**30
else:
    cliff = working_set

# The figures at the largest capacity, per policy.
top = curve[curve["capacity"] == curve["capacity"].max()].set_index("policy")
st.subheader(f"At {ui.fmt_bytes(curve['capacity'].max()) if by_bytes else str(int(curve['capacity'].max())) + ' slots'}")
cols = st.columns(len(top))
for col, (policy, row) in zip(cols, top.iterrows(), strict=True):
    col.metric(policy, f"{row['hit_rate']:.1%}", delta=None if policy == "belady" else f"{-row['regret']:+.1%} vs belady",
               delta_color="off")

st.subheader("Hit rate against cache size")
x = alt.X("x:Q", title=x_title)
ceiling = (alt.Chart(belady.assign(top=1.0)).mark_area(opacity=0.12, color="gray")
           .encode(x=x, y=alt.Y("hit_rate:Q"), y2="top:Q",
                   tooltip=[alt.Tooltip("hit_rate:Q", title="belady hit rate", format=".1%")]))
lines = (alt.Chart(curve).mark_line(point=True)
         .encode(x=x, y=alt.Y("hit_rate:Q", title="hit rate", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
                 color=alt.Color("policy:N", sort=["lru", "fifo", "lfu", "static", "belady"]),
                 strokeDash=alt.condition(alt.datum.policy == "belady", alt.value([6, 3]), alt.value([1, 0])),
                 tooltip=["policy:N", alt.Tooltip("capacity_items:Q", title="items"),
                          alt.Tooltip("hit_rate:Q", format=".1%"), alt.Tooltip("regret:Q", format=".1%")]))
layers = [ceiling, lines]
if cliff is not None:
    layers.append(alt.Chart(pd.DataFrame({"x": [cliff], "label": [f"one token's working set: {working_set} items"]}))
                  .mark_rule(color="red", strokeDash=[4, 4]).encode(x="x:Q", tooltip=["label:N"]))
ui.chart(alt.layer(*layers).properties(height=340))
st.caption("Shaded: above Belady's curve, the hit rates no demand policy reaches at that size. "
           f"Red line: one token's working set ({working_set} items); below it LRU hits nothing.")

st.subheader("Bytes loaded per decode step")
if curve["bytes_loaded_per_step"].notna().any():
    ui.chart(alt.Chart(curve.assign(mib=curve["bytes_loaded_per_step"] / 2**20)).mark_line(point=True)
             .encode(x=x, y=alt.Y("mib:Q", title="MiB per step"), color=alt.Color("policy:N"),
                     tooltip=["policy:N", alt.Tooltip("mib:Q", format=",.1f", title="MiB per step")])
             .properties(height=260))
else:
    st.info("These runs have no model layout, so their items have no size: simulated in slots only.")

st.subheader("Hit rate per layer")
policy = st.selectbox("Policy", ["lru", "fifo", "lfu", "static", "belady"], key="cache_layer_policy")
per_layer = query("cache_layers", sim_id=sim_id, policy=policy, run_ids=chosen)
per_layer = per_layer.assign(size=(per_layer["capacity"] / 2**30).round(3) if by_bytes else per_layer["capacity"])
ui.chart(alt.Chart(per_layer).mark_rect()
         .encode(x=alt.X("size:O", title=x_title), y=alt.Y("layer_id:O", title="layer", sort="descending"),
                 color=alt.Color("hit_rate:Q", title="hit rate", scale=alt.Scale(domain=[0, 1], scheme="viridis")),
                 tooltip=["layer_id:Q", "size:Q", "n_accesses:Q", "hits:Q", alt.Tooltip("hit_rate:Q", format=".1%")])
         .properties(height=max(200, 14 * per_layer["layer_id"].nunique())))

st.subheader("Curve figures")
st.dataframe(curve[["policy", "capacity", "capacity_items", "n_accesses", "hits", "hit_rate", "regret",
                    "bytes_loaded_per_step"]], hide_index=True, key="cache_curve_table")

st.subheader("Prefetch predictors")
predictors = query("cache_predictors", run_ids=chosen)
if predictors.empty:
    st.info("No predictor scores for these runs yet: `moewh simulate --predictors`.")
else:
    st.dataframe(predictors, hide_index=True, key="cache_predictors",
                 column_config={"recall": st.column_config.NumberColumn(format="%.3f"),
                                "precision": st.column_config.NumberColumn(format="%.3f")})
