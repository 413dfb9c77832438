"""Pieces the dashboard pages share: the database gate, run pickers, friendly errors, charts.

Pages stay thin: they pick what to show and call these helpers; every number they draw comes
from a named query over the v1 views (``warehouse.dashboard.data.query``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ..formats.trace.records import ANOMALY_KINDS
from .data import DashboardError, DbStatus, db_path, query, status

# Grey for untouched / no data, a sequential scheme for counts, a diverging one for differences.
UNTOUCHED = "#d9d9d9"
SCHEME = "inferno"
DIVERGING = "redblue"


def show_problem(exc: DashboardError) -> None:
    """A friendly page in place of a traceback: what is wrong and what to do."""
    icon = {"missing": ":material/database:", "empty": ":material/inbox:",
            "locked": ":material/hourglass_top:"}.get(exc.kind, ":material/warning:")
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
        r.run_id: " · ".join(str(x) for x in (r.run_name, r.domain, r.source) if not pd.isna(x))
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
    """A run picker that starts on the index-th run with decode steps (a warm-up-only run has no selections)."""
    if df.empty:
        where.info("No run matches the filters.")
        return None
    labels = run_label(df)
    ids = list(df["run_id"])
    with_steps = [i for i, n in enumerate(df["n_steps"]) if not pd.isna(n) and n > 0] if "n_steps" in df else []
    start = with_steps[min(index, len(with_steps) - 1)] if with_steps else min(index, len(ids) - 1)
    return where.selectbox(label, ids, index=start, format_func=lambda r: labels.get(r, r), key=key)


def fmt_bytes(n) -> str:
    if n is None or pd.isna(n):
        return "–"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1024
    return str(n)


def expert_heatmap(df: pd.DataFrame, color: str, title: str, *, n_experts: int | None = None,
                   diverging: bool = False, height: int | None = None,
                   domain: tuple[float, float] | None = None) -> alt.Chart:
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
        scale = alt.Scale(scheme=SCHEME, reverse=True, **({"domain": list(domain)} if domain else {}))
        fill = alt.condition(f"datum.{color} > 0",
                             alt.Color(f"{color}:Q", scale=scale,
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
        .properties(height=height or max(240, 20 * n_layers))
    )


def chart(c) -> None:
    """Draw an Altair chart across the page; its height is the plot's, axes and legends come on top
    (Streamlit's default autosize "fit" squeezes the plot into the height instead)."""
    st.altair_chart(c.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")), width="stretch")


# ---- trace quality in plain words --------------------------------------------------------

# (column of v1.trace_quality, severity, sentence with {n} for the count)
_QUALITY = [
    ("warmup_passes", "info", "{n} warm-up pass(es): llama.cpp evaluated every expert, so the recorded ids are a "
                              "truncated full ranking, not a selection. They are left out of every count."),
    ("k_unknown", "warning", "k (experts used per token) is unknown: the MoE records hold 16 ids, the tracer's cap, "
                             "so selections cannot be told from warm-up rankings and none were made. Re-ingest "
                             "with --experts-used K or --model PATH.gguf (and --replace)."),
    ("incomplete_passes", "warning", "{n:,} pass(es) stop before the model's last block: the trace ends inside "
                                     "them. They are not counted as decode steps."),
    ("dropped_partial_bytes", "warning", "The file was cut short: a partial last record of {n:,} bytes was dropped."),
    ("hole_records", "warning", "{n:,} unused (all-zero) record(s) lie between used ones; the tracer may have "
                                "skipped writes."),
    ("skipped_tail_bytes", "info", "{bytes} of unused zero records at the end of the file were skipped "
                                   "(the tracer pre-allocates its file)."),
    ("expert_id_out_of_range", "warning", "{n:,} record(s) name an expert id outside the model's experts; those "
                                          "ids are left out of the heatmaps."),
    ("duplicate_expert_ids", "warning", "{n:,} record(s) list the same expert twice in one selection."),
    ("expert_ids_disagree", "warning", "{n:,} record(s) carry other expert ids than the first record of their "
                                       "pass and layer."),
    ("too_many_sources", "warning", "{n:,} record(s) claim more than 4 sources."),
    ("too_many_experts", "warning", "{n:,} record(s) claim more than 16 expert ids."),
    ("unknown_op_code", "warning", "{n:,} record(s) have an op code the run's op table does not name."),
    ("implausible_op", "warning", "{n:,} record(s) fail the op-table check (expert ids or an _exps weight on "
                                  "an op other than MUL_MAT_ID/ADD_ID)."),
    ("op_table_mismatch", "warning", "The run's op table looks wrong for this trace: operation names may be "
                                     "mislabelled. Re-ingest with the right --op-table."),
    ("unknown_memory_source", "warning", "{n:,} source(s) are neither DISK nor BUFFER."),
    ("unknown_phase", "warning", "{n:,} record(s) have a phase that is neither PROMPT nor GENERATE."),
    ("timestamp_out_of_range", "warning", "{n:,} record(s) have a timestamp above 2^63 - 1; it is "
                                          "stored as 2^63 - 1."),
    ("timestamp_backwards", "warning", "{n:,} record(s) are stamped earlier than the previous record of their "
                                       "thread: the clock or the trace is damaged there."),
    ("unmatched_disk_sources", "warning", "{n:,} DISK source(s) point at file offsets where no tensor of the "
                                          "layout starts: the layout may be wrong or for another model."),
    ("unknown_disk_offsets", "info", "{n:,} DISK source(s) have an unknown (zero) file offset."),
]


def quality_messages(row) -> list[tuple[str, str]]:
    """(severity, sentence) for every non-zero count of one v1.trace_quality row."""
    out = []
    for col, severity, text in _QUALITY:
        n = getattr(row, col, None)
        if n is None or pd.isna(n) or not n:
            continue
        out.append((severity, text.format(n=int(n), bytes=fmt_bytes(n))))
    n_passes, warmups = getattr(row, "n_passes", 0), getattr(row, "warmup_passes", 0)
    if n_passes and warmups == n_passes:
        out.insert(0, ("warning", "This run holds only warm-up passes: it has no decode steps, so it selected no "
                                  "experts and has no bytes per step; every hotness figure comes from other runs."))
    if pd.isna(getattr(row, "model_id", None)):
        out.append(("info", "No model layout: DISK offsets cannot be checked and byte figures are unknown."))
    other = int(row.anomalies) - sum(int(getattr(row, kind, 0) or 0) for kind in ANOMALY_KINDS)
    if other > 0:
        out.append(("warning", f"{other:,} other anomal{'y' if other == 1 else 'ies'} recorded at ingest "
                               "(see the anomalies table)."))
    return out
