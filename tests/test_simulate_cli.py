"""`moewh simulate`: sizes as people write them, the printed rows against the stored view and
the reference simulator, bad values exiting 2 with one line and the database unchanged, and
the --help examples pasted and run on a demo-like warehouse."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.conftest import DATA
from tests.test_simulate_warehouse import accesses, grid, item_sizes
from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store
from warehouse.simulate.reference import simulate_reference
from warehouse.simulate.units import format_size, parse_size


@pytest.mark.parametrize("text, size", [
    ("4096", 4096), ("512MiB", 512 * 1024**2), ("2GiB", 2 * 1024**3), ("3000MiB", 3000 * 1024**2),
    ("1.5GiB", 3 * 1024**3 // 2), ("2gib", 2 * 1024**3), ("1GB", 10**9), ("64kB", 64000), ("8K", 8192),
    (" 7 MiB ", 7 * 1024**2), ("10B", 10),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "2XB", "1.5", "0.1B", "-1GiB", "1e9", "2 GiB 3"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size():
    assert format_size(512 * 1024**2) == "512 MiB"
    assert format_size(3 * 1024**3) == "3 GiB"
    assert format_size(100) == "100 B"


@pytest.fixture
def truth_db(db_path):
    truth = build_truth()
    store = open_store(db_path)
    insert(store.con, truth)
    store.close()
    return truth


def _dump(db_path):
    store = open_store(db_path, read_only=True)
    try:
        return {t: store.con.execute(f"select * from {t} order by all").fetchall()
                for t in ("simulations", "cache_sim_results", "cache_sim_layers", "predictor_sim_results")}
    finally:
        store.close()


def test_printed_rows_are_the_stored_rows_and_the_reference(cli, truth_db, db_path):
    code, out, err = cli("simulate", "run-a1", "run-b2", "--budget", "4KiB,20000", "--format", "json")
    assert code == 0, err
    printed = json.loads(out)
    assert len(printed) == 2 * 5 * 2
    store = open_store(db_path, read_only=True)
    stored = {(r[0], r[1], r[2]): r[3:] for r in store.con.execute(
        "select run_id, policy, budget_bytes, hits, n_accesses, belady_hits from v1.cache_results").fetchall()}
    store.close()
    for row in printed:
        run = truth_db.runs[row["run_id"]]
        assert (row["hits"], row["n_accesses"], row["belady_hits"]) == \
            stored[(row["run_id"], row["policy"], row["budget_bytes"])]
        sizes = item_sizes(run)
        n_layers, n_experts = grid(run)
        cap = row["budget_bytes"] // max(sizes.values())
        ref = simulate_reference(accesses(run), row["policy"], cap, "global", n_layers, sizes,
                                 {a: accesses(run).count(a) for a in set(accesses(run))},
                                 [(la, e) for la in range(n_layers) for e in range(n_experts)])
        assert row["capacity_items"] == cap and row["hits"] == sum(ref.hits.values()), row
        assert row["run_name"] == run.run_id and row["train"] == "self"
    # policies in the order asked for, budgets ascending
    assert [r["policy"] for r in printed[:5]] == ["lru", "fifo", "lfu", "static", "belady"]


def test_table_and_csv_and_predictors(cli, truth_db):
    code, out, err = cli("simulate", "run-x1", "--slots", "2,4", "--policy", "belady,lru")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["run_name", "run_id", "policy"] and lines[-1] == "(4 rows)"
    assert [ln.split()[2] for ln in lines[2:4]] == ["belady", "lru"]
    code, out, _ = cli("simulate", "run-a3", "--slots", "3", "--format", "csv", "--policy", "lru")
    assert code == 0 and out.splitlines()[1].startswith("run-a3,run-a3,lru,global,,3,")
    code, out, err = cli("simulate", "run-a3", "--predictors", "--train-domain", "code", "--format", "json")
    assert code == 0, err
    assert [r["predictor"] for r in json.loads(out)] == ["prev-token", "static", "transition", "oracle"]
    assert {r["train"] for r in json.loads(out)} == {"domain:code"}
    code, out, _ = cli("simulate", "run-a3", "--slots", "3", "--predictors")
    assert code == 0 and out.count("rows)") == 2


@pytest.mark.parametrize("args, message", [
    (["--budget", "2XB"], "--budget: '2XB' is not a size"),
    (["--budget", "0"], "--budget 0: a budget is more than 0 bytes"),
    (["--slots", "0"], "--slots 0: slots are whole numbers"),
    (["--slots", "four"], "--slots four"),
    (["--slots", "4", "--budget", "1GiB"], "not both"),
    (["--slots", "4", "--policy", "mru"], "--policy mru"),
    (["--slots", "4", "--scope", "tile"], "--scope tile"),
    (["--slots", "4", "--format", "xml"], "unknown format"),
    ([], "give --budget"),
    (["nosuchrun", "--slots", "4"], "no run matches 'nosuchrun'"),
    (["--slots", "4", "--train", "run-a1", "--train-domain", "code"], "not both"),
    (["run-a1", "--slots", "4", "--train", "run-b1"], "no training run of the same model"),
    (["run-a1", "--slots", "4", "--train", "run-a2,run-b1"], "--train run-b1: its model or grid differs"),
    (["--slots", "4", "--train-domain", "opera"], "no run of that domain"),
    (["--slots", "4", "--predictors", "--format", "json"], "run --predictors on its own"),
    (["run-x1", "--budget", "1GiB"], "run-x1 has no model"),
    (["--domain", "opera", "--slots", "3"], "no run to simulate with domain 'opera'"),
])
def test_bad_values_exit_2_with_one_line_and_change_nothing(cli, truth_db, db_path, args, message):
    assert cli("simulate", "run-a1", "--slots", "2")[0] == 0
    before = _dump(db_path)
    code, out, err = cli("simulate", *args)
    assert code == 2
    assert err.startswith("moewh: error: ") and message in err and err.count("\n") == 1, err
    assert _dump(db_path) == before


def test_no_warehouse_is_exit_3_and_creates_none(cli, db_path):
    import os

    code, _, err = cli("simulate", "--slots", "4")
    assert code == 3 and "no warehouse here yet" in err
    assert not os.path.exists(db_path)


def test_help_examples_paste_and_run(cli, db_path, tmp_path):
    from warehouse.ingest.models import ingest_layout_file
    from warehouse.ingest.traces import ingest_trace
    from warehouse.synth import generate_run

    store = open_store(db_path)  # the demo's shape: the GPT-OSS-20B layout, synthetic-<domain> runs
    with store.transaction() as con:
        model_id = ingest_layout_file(con, DATA / "gpt-oss-20b" / "memory-map.json", "gpt-oss-20b").model_id
    for i, domain in enumerate(("code", "math")):
        generate_run(tmp_path / f"{domain}.bin", domain=domain, n_steps=8, seed=i)
        with store.transaction() as con:
            ingest_trace(con, tmp_path / f"{domain}.bin", model_id=model_id, name=f"synthetic-{domain}", domain=domain)
    store.close()
    code, out, _ = cli("simulate", "--help")
    examples = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("moewh simulate ")]
    assert len(examples) >= 4
    for line in examples:
        code, out, err = cli(*shlex.split(line)[1:])
        assert code == 0, (line, err)
        assert out.strip(), line
