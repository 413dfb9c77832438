"""The tables filled at ingest for the views: idempotent refresh, and repair of runs without them."""

from __future__ import annotations

from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store
from warehouse.ingest.derived import refresh_missing, refresh_run

TABLES = ("pass_disk_reads", "step_selections")


def snapshot(con):
    return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


def test_refresh_is_idempotent_and_missing_runs_are_repaired(db_path):
    truth = build_truth()
    with open_store(db_path) as store:
        con = store.con
        insert(con, truth)
        before = snapshot(con)
        assert all(before.values())
        refresh_run(con, "run-a2")
        assert snapshot(con) == before
        for t in TABLES:
            con.execute(f"delete from {t} where run_id in ('run-a2', 'run-x1')")
        assert refresh_missing(con) == ["run-a2", "run-x1"]
        assert snapshot(con) == before
        assert refresh_missing(con) == []
        # warm-up passes carry no step; decode steps are numbered 0.. per run without gaps
        steps = con.execute("select pass_id, min(step) from pass_disk_reads where run_id = 'run-a2' "
                            "group by pass_id order by pass_id").fetchall()
        warm = {p.pass_id for p in truth.runs["run-a2"].passes if p.warmup}
        assert [s for p, s in steps if p in warm] == [None] * len(warm)
        assert [s for p, s in steps if p not in warm] == list(range(len(steps) - len(warm)))
