"""The Parquet lake: export, re-export of single runs, import, manifest, bad lakes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest

from tests.lake_data import MODEL_IDS, RUN_IDS, fill_random
from warehouse.db import viewset as views
from warehouse.db.store import open_store, schema_version
from warehouse.errors import InputError, UsageError
from warehouse.lake.parquet import base_tables, export_parquet, import_parquet, read_manifest


def table_rows(con, table: str) -> list[tuple]:
    return con.execute(f'select * from "{table}" order by all').fetchall()


def all_rows(con) -> dict[str, list[tuple]]:
    return {t.name: table_rows(con, t.name) for t in base_tables(con)}


@pytest.fixture
def source(tmp_path):
    store = open_store(tmp_path / "source.duckdb")
    with store.transaction() as con:
        fill_random(con)
    yield store
    store.close()


def partitions(lake: Path, table: str) -> dict[str, Path]:
    out = {}
    for d in (lake / table).iterdir():
        key, _, value = d.name.partition("=")
        out[unquote(value)] = d
    return out


def test_round_trip_equals_every_table_row_for_row(source, tmp_path):
    lake = tmp_path / "lake"
    summary = export_parquet(source.con, lake)
    assert sorted(summary.runs) == sorted(RUN_IDS) and sorted(summary.models) == sorted(MODEL_IDS)

    target = open_store(tmp_path / "target.duckdb")
    with target.transaction() as con:
        import_parquet(con, lake)
    before = all_rows(source.con)
    after = all_rows(target.con)
    assert set(before) == set(after)
    for table in before:
        assert after[table] == before[table], table
    # Importing the same lake again changes nothing.
    with target.transaction() as con:
        import_parquet(con, lake)
    assert all_rows(target.con) == before
    target.close()


def test_layout_is_hive_partitioned_and_files_hold_what_the_warehouse_holds(source, tmp_path):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    for t in base_tables(source.con):
        if t.partition_by is None:
            assert [p.name for p in (lake / t.name).iterdir()] == ["data_0.parquet"]
            continue
        found = partitions(lake, t.name)
        assert all(d.name.startswith(f"{t.partition_by}=") for d in found.values())
        # Recount with pyarrow, file by file, against the warehouse: every partition holds
        # exactly its id's rows and the files do not repeat the partition column.
        want = dict(source.con.execute(
            f'select "{t.partition_by}", count(*) from "{t.name}" group by all').fetchall())
        got = {}
        for value, d in found.items():
            tables = [pq.read_table(f) for f in d.glob("*.parquet")]
            assert all(t.partition_by not in x.column_names for x in tables)
            got[value] = sum(x.num_rows for x in tables)
        assert got == want, t.name
    # A run without anomalies has no anomalies partition, rather than an empty one.
    assert RUN_IDS[-1] not in partitions(lake, "anomalies")


def test_manifest_describes_the_lake(source, tmp_path):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    m = json.loads((lake / "manifest.json").read_text())
    assert m["format"] == "moewh-parquet-lake"
    assert m["schema_version"] == schema_version()
    assert m["view_set"] == "v1" and m["view_set_version"] == views.set_version("v1")
    tables = {t.name: t for t in base_tables(source.con)}
    assert set(m["tables"]) == set(tables) and "schema_migrations" not in m["tables"]
    for name, t in tables.items():
        assert m["tables"][name]["partition_by"] == t.partition_by
        assert [(c["name"], c["type"]) for c in m["tables"][name]["columns"]] == t.columns
    assert m["tables"]["records"]["partition_by"] == "run_id"
    assert m["tables"]["tensors"]["partition_by"] == "model_id"
    assert [r["run_id"] for r in m["runs"]] == sorted(RUN_IDS)
    assert [x["model_id"] for x in m["models"]] == sorted(MODEL_IDS)
    names = dict(source.con.execute("select run_id, run_name from runs").fetchall())
    for r in m["runs"]:
        assert r["run_name"] == names[r["run_id"]]
        n = source.con.execute("select count(*) from records where run_id = ?", [r["run_id"]]).fetchall()[0][0]
        assert r["rows"].get("records", 0) == n


def test_reexporting_one_run_replaces_only_its_partitions(source, tmp_path):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    changed, kept = RUN_IDS[0], RUN_IDS[1]
    kept_files = {p: p.read_bytes() for p in lake.rglob("*.parquet") if unquote(p.parent.name) == f"run_id={kept}"}
    model_files = {p: p.stat().st_mtime_ns for p in (lake / "tensors").rglob("*.parquet")}
    with source.transaction() as con:
        con.execute("delete from records where run_id = ? and record_id % 2 = 0", [changed]).fetchall()
        con.execute("delete from anomalies where run_id = ?", [changed]).fetchall()
        con.execute("update runs set run_name = 'renamed' where run_id = ?", [changed]).fetchall()
        # a change to another run that is not re-exported must not reach the lake
        con.execute("delete from records where run_id = ?", [kept]).fetchall()

    summary = export_parquet(source.con, lake, runs=[changed])
    assert summary.runs == [changed]
    assert {p: p.read_bytes() for p in lake.rglob("*.parquet")
            if unquote(p.parent.name) == f"run_id={kept}"} == kept_files
    # the run was read against no model or one; only that model's partitions were rewritten
    run_model = source.con.execute("select model_id from runs where run_id = ?", [changed]).fetchall()[0][0]
    for p, mtime in model_files.items():
        if unquote(p.parent.name) != f"model_id={run_model}":
            assert p.stat().st_mtime_ns == mtime
    assert changed not in partitions(lake, "anomalies")  # its old rows are gone, not left behind
    assert not list(lake.glob(".export-*"))

    target = open_store(tmp_path / "target.duckdb")
    with target.transaction() as con:
        import_parquet(con, lake)
    q = "select * from records where run_id = ? order by all"
    assert target.con.execute(q, [changed]).fetchall() == source.con.execute(q, [changed]).fetchall()
    assert target.con.execute("select count(*) from records where run_id = ?", [kept]).fetchall()[0][0] > 0
    m = read_manifest(lake)
    assert {r["run_id"]: r["run_name"] for r in m["runs"]}[changed] == "renamed"
    assert sorted(r["run_id"] for r in m["runs"]) == sorted(RUN_IDS)
    target.close()


def test_import_of_some_runs_brings_their_model(source, tmp_path):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    run = RUN_IDS[1]
    model = source.con.execute("select model_id from runs where run_id = ?", [run]).fetchall()[0][0]
    target = open_store(tmp_path / "target.duckdb")
    with target.transaction() as con:
        import_parquet(con, lake, runs=[run])
    assert [r[0] for r in target.con.execute("select distinct run_id from records").fetchall()] == [run]
    models = [r[0] for r in target.con.execute("select model_id from models").fetchall()]
    assert models == ([model] if model else [])
    target.close()


def test_incomplete_lake_is_refused_and_the_warehouse_is_unchanged(source, tmp_path):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    target = open_store(tmp_path / "target.duckdb")
    with target.transaction() as con:
        import_parquet(con, lake, runs=[RUN_IDS[0]])
    before = all_rows(target.con)
    victim = partitions(lake, "records")[RUN_IDS[0]]
    for f in victim.glob("*.parquet"):
        f.unlink()
    with pytest.raises(InputError, match="manifest says"):
        with target.transaction() as con:
            import_parquet(con, lake)
    assert all_rows(target.con) == before
    target.close()


def test_export_refuses_unknown_runs_foreign_directories_and_non_ascii_ids(source, tmp_path):
    with pytest.raises(UsageError, match="no run matches 'nope'"):
        export_parquet(source.con, tmp_path / "lake", runs=["nope"])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not a moewh lake"):
        export_parquet(source.con, foreign)
    assert os.listdir(foreign) == ["notes.txt"]
    with source.transaction() as con:
        con.execute("update runs set run_id = 'läuft' where run_id = ?", [RUN_IDS[0]]).fetchall()
    with pytest.raises(UsageError, match="printable ASCII"):
        export_parquet(source.con, tmp_path / "lake2")


def test_cli_export_and_ingest(cli, db_path, tmp_path):
    store = open_store(db_path)
    with store.transaction() as con:
        fill_random(con, rows_per_table=10)
    expected = table_rows(store.con, "records")
    store.close()
    lake = tmp_path / "lake"
    code, _, err = cli("export", "parquet", str(lake), "--run", RUN_IDS[0], "--run", RUN_IDS[1])
    assert code == 0, err
    assert "exported 2 run(s)" in err
    assert sorted(r["run_id"] for r in read_manifest(lake)["runs"]) == sorted(RUN_IDS[:2])

    from warehouse.cli import run
    other = str(tmp_path / "other.duckdb")
    assert run(["--db", other, "ingest", "parquet", str(lake)]) == 0
    with open_store(other, read_only=True) as s:
        assert table_rows(s.con, "records") == [r for r in expected if r[0] in RUN_IDS[:2]]
    assert run(["--db", other, "ingest", "parquet", str(tmp_path / "missing")]) == 2
    code, _, err = cli("export", "parquet", str(lake), "--run", "nope")
    # (the message lists the runs, whose random names may hold line breaks)
    assert code == 2 and "\nmoewh: error: no run matches 'nope'" in "\n" + err


def test_trino_ddl_declares_every_table_partitioned_like_the_lake(source, tmp_path, cli):
    lake = tmp_path / "lake"
    export_parquet(source.con, lake)
    code, out, err = cli("export", "ddl", str(lake), "--dialect", "trino", "--location", "s3a://b/lake/")
    assert code == 0, err
    statements = [s.strip() for s in out.split(";\n") if s.strip()]
    creates = {s.split('"')[1]: s for s in statements if s.startswith("CREATE TABLE")}
    tables = {t.name: t for t in base_tables(source.con)}
    assert set(creates) == set(tables)
    for name, t in tables.items():
        s = creates[name]
        assert f"external_location = 's3a://b/lake/{name}'" in s
        cols = [line.strip().split('"')[1] for line in s.splitlines()[1:] if line.strip().startswith('"')]
        assert sorted(cols) == sorted(t.column_names)
        if t.partition_by:
            assert cols[-1] == t.partition_by and f"partitioned_by = ARRAY['{t.partition_by}']" in s
            assert f"sync_partition_metadata('moewh', '{name}', 'FULL')" in out
        else:
            assert "partitioned_by" not in s
    assert '"tensor_ptr" DECIMAL(20, 0)' in creates["sources"]  # UBIGINT, as Parquet readers widen it
    assert sum(s.startswith("CREATE OR REPLACE VIEW v1.") for s in statements) == len(views.definitions("v1"))
