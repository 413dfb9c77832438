"""SQL console: one read-only query across all runs, a results table and a CSV download."""

import streamlit as st

from warehouse.dashboard.console import MAX_RESULT_BYTES, MAX_ROWS, ConsoleError, run_console
from warehouse.dashboard.data import db_path

EXAMPLE = """SELECT r.run_name, r.domain, h.layer_id, h.expert_id, h.activations, h.share
FROM v1.expert_hotness AS h
JOIN v1.runs AS r USING (run_id)
WHERE h.rank_in_layer = 1
ORDER BY r.run_name, h.layer_id"""

st.title("SQL console")
st.caption(
    f"One read-only statement (SELECT, WITH … SELECT, EXPLAIN) over the warehouse; at most {MAX_ROWS:,} "
    "rows are shown. The documented views are in schema `v1` (`SHOW ALL TABLES` lists everything; "
    "`moewh views show NAME` explains a view). Files, settings and changes are out of reach here."
)

sql = st.text_area("SQL", value=st.session_state.get("console_sql", EXAMPLE), height=180, key="console_sql")
if st.button("Run", type="primary", key="console_run") or st.session_state.get("console_ran"):
    st.session_state["console_ran"] = True
    try:
        result = run_console(db_path(), sql)
    except ConsoleError as exc:
        st.error(str(exc))
    else:
        df = result.table.to_pandas()
        note = f"{len(df):,} row(s) in {result.elapsed_s:.2f} s"
        if result.stopped_by == "bytes":
            note += (f" — stopped at {MAX_RESULT_BYTES >> 20} MB of results; select fewer or shorter columns "
                     "to see the rest")
        elif result.truncated:
            note += f" — stopped at the row limit of {MAX_ROWS:,}; add a LIMIT or a filter to see the rest"
        st.caption(note)
        st.dataframe(df, hide_index=True, key="console_result")
        st.download_button("Download CSV", df.to_csv(index=False).encode(), file_name="query.csv",
                           mime="text/csv", key="console_csv")
