"""Tables derived from a run's trace rows at ingest, so the analysis views stay fast.

Two tables are materialised (see ``sql/schema/003_analysis.sql``): ``pass_disk_reads``, which
model tensors each pass read from DISK, and ``step_selections``, the selected experts keyed by
decode step. Everything else the views compute on the fly. Call ``refresh_run`` inside the
ingest transaction once a run's passes, records, sources and selections are in.
"""

from __future__ import annotations

import duckdb

from ..db.sqlfiles import ident, load_sql, render_sql

_TABLES = (
    ("pass_disk_reads", "ingest/derived_pass_disk_reads.sql"),
    ("step_selections", "ingest/derived_step_selections.sql"),
)


def refresh_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Recompute the derived rows of one run (idempotent; the caller owns the transaction)."""
    params = {"run_id": run_id}
    for table, sql_file in _TABLES:
        con.execute(render_sql("ingest/delete_run_rows.sql", table=ident(table)), params)
        con.execute(load_sql(sql_file), params)


def refresh_missing(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Refresh every run with passes but no derived rows at all; return their run_ids."""
    stale = [r[0] for r in con.execute(load_sql("ingest/derived_stale_runs.sql")).fetchall()]
    for run_id in stale:
        refresh_run(con, run_id)
    return stale
