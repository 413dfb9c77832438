"""MoE Trace Warehouse dashboard: `moewh --db PATH dashboard` (or `make dashboard`).

Reads the warehouse named by $MOEWH_DB through short-lived read-only connections, so it never
holds up `moewh ingest`. Every number on a page comes from a v1 view.
"""

import streamlit as st

from warehouse.dashboard import ui
from warehouse.dashboard.data import DashboardError

st.set_page_config(page_title="MoE Trace Warehouse", page_icon=":material/memory:", layout="wide")
# An unexpected error shows its message, never a stack trace (paths, code, query text) to a visitor.
st.set_option("client.showErrorDetails", "none")

OVERVIEW = st.Page("pages/1_overview.py", url_path="overview", title="Overview", icon=":material/home:")


def _home() -> None:
    # Streamlit serves its default page at "/" only, so /overview would be "Page not found" if
    # the Overview were the default; the root forwards to it instead.
    st.switch_page(OVERVIEW)


# Each url_path is the page file's name without its number: before the app script has run,
# Streamlit resolves a deep link against the pages/ folder's file names, and any other
# address opens "Page not found" first.
PAGES = [
    st.Page(_home, url_path="home", title="Home", default=True, visibility="hidden"),
    OVERVIEW,
    st.Page("pages/2_expert_heatmap.py", url_path="expert_heatmap", title="Expert heatmap", icon=":material/local_fire_department:"),
    st.Page("pages/3_file_map.py", url_path="file_map", title="File map", icon=":material/map:"),
    st.Page("pages/4_token_timeline.py", url_path="token_timeline", title="Token timeline", icon=":material/timeline:"),
    st.Page("pages/5_compare.py", url_path="compare", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/6_layout_check.py", url_path="layout_check", title="Layout check", icon=":material/straighten:"),
    st.Page("pages/7_sql_console.py", url_path="sql_console", title="SQL console", icon=":material/terminal:"),
    st.Page("pages/8_cache.py", url_path="cache", title="Cache", icon=":material/cached:"),
    st.Page("pages/9_layout_plan.py", url_path="layout_plan", title="Layout plan", icon=":material/reorder:"),
]

page = st.navigation(PAGES)
found = ui.gate()
if found is not None:
    ui.sidebar_status(found)
    try:
        page.run()
    except DashboardError as exc:
        ui.show_problem(exc)
