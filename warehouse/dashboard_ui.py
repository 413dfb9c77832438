"""Pieces the dashboard pages share: the database gate, run pickers, friendly errors, charts.

Pages stay thin: they pick what to show and call these helpers; every number they draw comes
from a named query over the v1 views (``warehouse.dashboard_data.query``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from .dashboard_data import DashboardError, DbStatus, db_path, query, status

# Grey for untouched / no data, a sequential scheme for counts, a diverging one for differences.
UNTOUCHED = "#d9d9d9"
SCHEME = "inferno"
DIVERGING = "redblue"


def show_problem(exc: DashboardError) -> None:
    """A friendly page in place of a traceback: what is wrong and what to do."""
    icon = {"missing": "🗄️", "empty": "📭", "locked": "⏳"}.get(exc.kind, "⚠️")
    st.title(f"{icon} {exc.title}")
    (st.info if exc.kind in ("missing", "empty", "locked") else st.error)(exc.body)
    if exc.kind == "locked":
        st.button("Try again", key="retry", on_click=st.cache_data.clear)


def gate() -> DbStatus | None:
    """The warehouse's status, or None after drawing a friendly page saying why it is unusable."""
    try:
        found = status()
    except DashboardError as exc:
        show_problem(exc)
        return None
    if found.empty:
        show_problem(DashboardError(
            "Empty warehouse",
            f"`{found.path}` has no models and no runs yet. Load the demo with `make ingest` "
            f"(or `moewh --db {found.path} ingest demo`), or your own traces with `moewh ingest ...`; "
            "then reload this page.", kind="empty"))
        return None
    return found


def sidebar_status(found: DbStatus) -> None:
    with st.sidebar:
        st.caption(f"Warehouse `{db_path()}`  \n{found.n_models} model(s), {found.n_runs} run(s)")
        if st.button("Reload data", help="Forget cached results and read the warehouse again"):
            st.cache_data.clear()


def runs() -> pd.DataFrame:
    return query("runs")


def run_label(df: pd.DataFrame) -> dict[str, str]:
    """run_id -> 'name · domain · source' for select boxes."""
    return {
        r.run_id: " · ".join(str(x) for x in (r.run_name, r.domain, r.source) if x is not None and x == x)
        for r in df.itertuples()
    }


def filter_runs(df: pd.DataFrame, key: str, where=st.sidebar) -> pd.DataFrame:
    """Experiment / domain / source filters over the runs table; returns the matching runs."""
    out = df
    with where:
        for col, label in (("experiment", "Experiment"), ("domain", "Domain"), ("source", "Source")):
            options = sorted(x for x in df[col].dropna().unique())
            if len(options) < 2:
                continue
            chosen = st.multiselect(label, options, key=f"{key}_{col}", placeholder="all")
            if chosen:
                out = out[out[col].isin(chosen)]
    return out


def pick_run(df: pd.DataFrame, key: str, label: str = "Run", index: int = 0, where=st) -> str | None:
    if df.empty:
        where.info("No run matches the filters.")
        return None
    labels = run_label(df)
    ids = list(df["run_id"])
    return where.selectbox(label, ids, index=min(index, len(ids) - 1), format_func=lambda r: labels.get(r, r),
                           key=key)


def fmt_bytes(n) -> str:
    if n is None or n != n:
        return "–"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return str(n)


def expert_heatmap(df: pd.DataFrame, color: str, title: str, *, n_experts: int | None = None,
                   diverging: bool = False, height: int | None = None) -> alt.Chart:
    """Layer (rows) × expert (columns) rectangles coloured by ``color``; zero cells grey."""
    tooltip = [alt.Tooltip("layer_id:O", title="layer"), alt.Tooltip("expert_id:O", title="expert")]
    for col, fmt in (("activations", ",d"), ("share", ".2%"), ("rank_in_layer", "d"), ("share_a", ".2%"),
                     ("share_b", ".2%"), ("diff", "+.2%"), ("activations_a", ",d"), ("activations_b", ",d")):
        if col in df.columns:
            tooltip.append(alt.Tooltip(f"{col}:Q", title=col.replace("_", " "), format=fmt))
    if diverging:
        m = float(df[color].abs().max() or 1e-9)
        scale = alt.Scale(scheme=DIVERGING, domain=[-m, m], reverse=True)
        fill = alt.Color(f"{color}:Q", scale=scale, title=color.replace("_", " "),
                         legend=alt.Legend(format="+.1%"))
    else:
        fill = alt.condition(f"datum.{color} > 0",
                             alt.Color(f"{color}:Q", scale=alt.Scale(scheme=SCHEME, reverse=True),
                                       title=color.replace("_", " ")),
                             alt.value(UNTOUCHED))
    n_layers = int(df["layer_id"].nunique()) if len(df) else 1
    return (
        alt.Chart(df, title=title)
        .mark_rect(stroke="white", strokeWidth=0.3)
        .encode(
            x=alt.X("expert_id:O", title="expert", axis=alt.Axis(labelAngle=0, labelFontSize=9)),
            y=alt.Y("layer_id:O", title="layer", sort="ascending"),
            color=fill,
            tooltip=tooltip,
        )
        .properties(height=height or max(220, 17 * n_layers))
    )


def chart(c: alt.Chart) -> None:
    st.altair_chart(c, width="stretch")
