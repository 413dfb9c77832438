"""`moewh layout plan`: output formats, the stored plan, and bad input refused with the database unchanged."""

from __future__ import annotations

import json

import pytest

from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store


@pytest.fixture
def truth_db(db_path):
    with open_store(db_path) as store:
        insert(store.con, build_truth())
    return db_path


def _plans(db):
    with open_store(db, read_only=True) as store:
        return store.con.execute("select count(*) from layout_plans").fetchone()[0], store.con.execute(
            "select count(*) from layout_plan_steps").fetchone()[0]


def test_json_rows_are_the_stored_plan(truth_db, cli):
    code, out, err = cli("layout", "plan", "--model", "model-a", "run-a1", "run-a3", "--train", "run-a1",
                         "--order", "file,coact", "--page", "1KiB", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert err.startswith("plan ") and "2 runs" in err
    assert [(r["run_name"], r["order_name"], r["in_sample"]) for r in rows] == [
        ("run-a1", "file", False), ("run-a1", "coact", True), ("run-a3", "file", False), ("run-a3", "coact", False)]
    assert all(r["extents_vs_file"] == 1 for r in rows if r["order_name"] == "file")
    with open_store(truth_db, read_only=True) as store:
        view = {(r[0], r[1]): r[2:] for r in store.con.execute(
            "select run_id, order_name, mean_extents_per_step, page_bytes, n_steps from v1.layout_plans").fetchall()}
        steps = dict(store.con.execute("select run_id, count(*) from v1.decode_steps group by all").fetchall())
    assert {(r["run_id"], r["order_name"]): (r["mean_extents_per_step"], 1024, r["n_steps"]) for r in rows} == view
    assert all(r["n_steps"] == steps[r["run_id"]] for r in rows)


def test_domain_and_csv(truth_db, cli):
    code, out, err = cli("layout", "plan", "--model", "model-a", "--domain", "code", "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("run_name,order_name,in_sample")
    assert {line.split(",")[0] for line in lines[1:]} == {"run-a1", "run-a2"}  # model-a's code runs
    assert len(lines) == 1 + 2 * 5


@pytest.mark.parametrize("args, message", [
    (["--order", "file,random"], "--order 'random'"),
    (["--page", "4 parsecs"], "--page '4 parsecs'"),
    (["--merge-gap", "-1"], "--merge-gap '-1'"),
    (["--page", "0"], "page and readahead must be positive"),
    (["run-b1"], "is not a run of model model-a"),
    (["--train", "run-b1"], "is not a run of model model-a"),
    (["run-a1", "--domain", "code"], "RUNs or --domain, not both"),
    (["--domain", "poetry"], "has no run of domain 'poetry'"),
    (["no-such-run"], "no run matches 'no-such-run'"),
    (["--format", "parquet"], "table, csv or json"),
])
def test_bad_input_is_one_line_and_changes_nothing(truth_db, cli, args, message):
    before = _plans(truth_db)
    code, out, err = cli("layout", "plan", "--model", "model-a", *args)
    assert code == 2
    assert err.startswith("moewh: error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert _plans(truth_db) == before
