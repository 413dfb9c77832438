"""Tables derived from a run's trace rows at ingest, so the analysis views stay fast.

Only ``pass_disk_reads`` is materialised (see ``sql/schema/003_analysis.sql``): which model
tensors each pass read from DISK. Everything else the views compute on the fly.
Call ``refresh_run`` inside the ingest transaction after a run's sources and records are in.
"""

from __future__ import annotations

import duckdb

from ..sqlfiles import load_sql


def refresh_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Recompute the derived rows of one run (idempotent; the caller owns the transaction)."""
    con.execute("DELETE FROM pass_disk_reads WHERE run_id = $run_id", {"run_id": run_id})
    con.execute(load_sql("ingest/derived_refresh_run.sql"), {"run_id": run_id})


def refresh_missing(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Refresh every run that has DISK sources but no derived rows; return their run_ids."""
    stale = [r[0] for r in con.execute(
        "SELECT DISTINCT s.run_id FROM sources AS s WHERE s.memory_source = 'DISK' "
        "AND NOT EXISTS (SELECT 1 FROM pass_disk_reads AS d WHERE d.run_id = s.run_id) ORDER BY 1"
    ).fetchall()]
    for run_id in stale:
        refresh_run(con, run_id)
    return stale
