"""MoE Trace Warehouse dashboard: `moewh --db PATH dashboard` (or `make dashboard`).

Reads the warehouse named by $MOEWH_DB through short-lived read-only connections, so it never
holds up `moewh ingest`. Every number on a page comes from a v1 view.
"""

import streamlit as st

from warehouse import dashboard_ui as ui
from warehouse.dashboard_data import DashboardError

st.set_page_config(page_title="MoE Trace Warehouse", page_icon="🧮", layout="wide")

PAGES = [
    st.Page("pages/1_overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/2_expert_heatmap.py", title="Expert heatmap", icon="🔥"),
    st.Page("pages/3_file_map.py", title="File map", icon="🗺️"),
    st.Page("pages/4_token_timeline.py", title="Token timeline", icon="⏱️"),
    st.Page("pages/5_compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/6_layout_check.py", title="Layout check", icon="📐"),
    st.Page("pages/7_sql_console.py", title="SQL console", icon="🔎"),
]

page = st.navigation(PAGES)
found = ui.gate()
if found is not None:
    ui.sidebar_status(found)
    try:
        page.run()
    except DashboardError as exc:
        ui.show_problem(exc)
