"""The view loader and the view files: docs, columns, references, versions, dialects, the CLI."""

from __future__ import annotations

import shutil

import pytest
import sqlglot

from warehouse import paths
from warehouse.db import viewset as views
from warehouse.db.store import open_store
from warehouse.errors import InstallError


@pytest.fixture
def sql_copy(tmp_path, monkeypatch):
    """A private copy of sql/ that the loader reads instead of the real one."""
    root = tmp_path / "sql"
    shutil.copytree(paths.sql_dir(), root)
    monkeypatch.setattr(paths, "sql_dir", lambda: root)
    return root


def test_every_view_file_is_documented_and_its_columns_match(db_path):
    with open_store(db_path) as store:
        defs = views.definitions("v1")
        assert len(defs) == len(list((paths.sql_dir() / "views" / "v1").glob("*.sql")))
        for d in defs:
            text = d.path.read_text()
            assert text.startswith("-- One row per "), f"{d.path.name}: doc must start with 'One row per'"
            assert d.summary and len(d.summary) > 20
            actual = views.view_columns(store.con, d.qualified)
            assert list(d.columns) == actual, f"{d.path.name}: @column lines {list(d.columns)} != view columns {actual}"
            assert all(meaning for meaning in d.columns.values()), f"{d.path.name}: a @column without meaning"


def test_view_set_version_is_recorded_and_reload_follows_edits(db_path, sql_copy):
    with open_store(db_path) as store:
        assert views.loaded_versions(store.con)["v1"] == views.set_version("v1")
        assert not views.needs_reload(store.con)
    f = sql_copy / "views" / "v1" / "expert_hotness.sql"
    f.write_text(f.read_text().replace("COUNT(*) AS activations", "COUNT(*) + 0 AS activations"))
    views._read_set.cache_clear()
    with open_store(db_path) as store:
        assert views.loaded_versions(store.con)["v1"] == views.set_version("v1")
        sql = store.con.execute(
            "select sql from duckdb_views() where schema_name = 'v1' and view_name = 'expert_hotness'").fetchone()[0]
        assert "+ 0" in sql


def test_v2_lives_beside_v1(db_path, sql_copy):
    v2 = sql_copy / "views" / "v2"
    v2.mkdir()
    (v2 / "expert_hotness.sql").write_text(
        "-- One row per run, layer and expert, with the share in percent.\n--\n"
        "-- @grain run_id, layer_id, expert_id\n-- @column run_id   Run.\n-- @column layer_id Block.\n-- @column expert_id Expert.\n"
        "-- @column share_pct Share in percent.\n"
        "SELECT run_id, layer_id, expert_id, share * 100 AS share_pct FROM v2.base\n")
    (v2 / "base.sql").write_text(
        "-- One row per run, layer and expert: v1 hotness as the base of v2.\n--\n"
        "-- @grain run_id, layer_id, expert_id\n-- @column run_id   Run.\n-- @column layer_id Block.\n-- @column expert_id Expert.\n"
        "-- @column share    Share.\n"
        "SELECT h.run_id, h.layer_id, h.expert_id, h.share FROM expert_hotness_base AS h\n")
    # a v2 view reads main tables only (plus its own set); give it a table to read
    views._read_set.cache_clear()
    with pytest.raises(InstallError, match="expert_hotness_base"):
        open_store(db_path)
    (v2 / "base.sql").write_text(
        "-- One row per run, layer and expert of the selections, with a share of 1.\n--\n"
        "-- @grain run_id, layer_id, expert_id\n-- @column run_id   Run.\n-- @column layer_id Block.\n-- @column expert_id Expert.\n"
        "-- @column share    Share.\n"
        "SELECT run_id, layer_id, expert_id, 1.0 AS share FROM selections\n")
    views._read_set.cache_clear()
    assert views.view_sets() == ["v1", "v2"]
    with open_store(db_path) as store:
        con = store.con
        con.execute("insert into selections values ('r', 1, 0, 0, 5)")
        assert con.execute("select share_pct from v2.expert_hotness").fetchall() == [(100.0,)]
        assert con.execute("select count(*) from v1.expert_hotness").fetchone() == (0,)
        assert set(views.loaded_versions(con)) == {"v1", "v2"}
    assert [d.name for d in views.definitions("v2")] == ["base", "expert_hotness"]  # dependency order


def test_loader_names_the_file_and_the_missing_column(db_path, sql_copy):
    f = sql_copy / "views" / "v1" / "run_shape.sql"
    f.write_text(f.read_text().replace("MAX(layer_id) AS max_layer", "MAX(layer_idx) AS max_layer"))
    views._read_set.cache_clear()
    with pytest.raises(InstallError) as exc:
        open_store(db_path)
    assert "run_shape.sql" in str(exc.value) and "layer_idx" in str(exc.value)


def test_loader_names_a_missing_table(db_path, sql_copy):
    f = sql_copy / "views" / "v1" / "step_experts.sql"
    f.write_text(f.read_text().replace("FROM step_selections AS s", "FROM step_selectionz AS s"))
    views._read_set.cache_clear()
    with pytest.raises(InstallError, match=r"step_experts\.sql: references missing table\(s\) step_selectionz"):
        open_store(db_path)


def test_loader_refuses_an_undocumented_view(sql_copy):
    (sql_copy / "views" / "v1" / "bare.sql").write_text("SELECT 1 AS x\n")
    views._read_set.cache_clear()
    with pytest.raises(InstallError, match="bare.sql"):
        views.definitions("v1")


def test_the_whole_set_transpiles_and_parses_as_spark():
    statements = views.transpile("v1", "spark")
    assert len(statements) == len(views.definitions("v1"))
    for stmt in statements:
        tree = sqlglot.parse_one(stmt, read="spark")
        assert isinstance(tree, sqlglot.exp.Create)
    text = "\n".join(statements)
    assert "GENERATE_SERIES" not in text.upper()  # DuckDB's function became Spark's SEQUENCE
    assert "SEQUENCE(" in text.upper()


def _rounded(rows):
    return sorted((tuple(round(v, 9) if isinstance(v, float) and v == v else v for v in r) for r in rows), key=repr)


@pytest.fixture(scope="module")
def edge_warehouse(tmp_path_factory):
    from tests.spark_warehouse import build

    scratch = tmp_path_factory.mktemp("transpile")
    build(scratch / "w.duckdb", scratch)
    store = open_store(scratch / "w.duckdb", read_only=True)
    yield store.con
    store.close()


@pytest.mark.parametrize("dialect", ["trino", "postgres"])
def test_the_whole_set_survives_a_round_trip_through_other_dialects(dialect, edge_warehouse):
    # No Trino or PostgreSQL server here: translate each view to the dialect and back, and the
    # DuckDB result must not change, so nothing was lost or changed in meaning on the way out.
    for d in views.definitions("v1"):
        there = sqlglot.transpile(d.sql, read="duckdb", write=dialect)[0]
        if dialect == "postgres" and d.name == "file_regions":
            # PostgreSQL's integer division is DIV(), which sqlglot reads back as a DECIMAL one
            assert "DIV(" in there
            continue
        back = sqlglot.transpile(there, read=dialect, write="duckdb")[0]
        want = _rounded(edge_warehouse.execute(f"select * from {d.qualified}").fetchall())
        assert _rounded(edge_warehouse.execute(back).fetchall()) == want, f"{d.name} changes through {dialect}"


def test_cli_views_list_show_sql(cli, db_path):
    code, out, _ = cli("views", "list")
    assert code == 0
    lines = out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(d.qualified for d in views.definitions("v1"))
    assert len(names) == len(list((paths.sql_dir() / "views" / "v1").glob("*.sql")))
    hot = next(line for line in lines if line.startswith("v1.expert_hotness "))
    assert "One row per run, MoE layer and expert" in hot

    code, out, _ = cli("views", "show", "expert_hotness")
    assert code == 0
    assert "rank_in_layer" in out and "GENERATE_SERIES" in out and "v1.run_shape" in out
    code, out2, _ = cli("views", "show", "v1.expert_hotness")
    assert out2 == out

    code, _, err = cli("views", "show", "no_such_view")
    assert code == 2 and "no_such_view" in err

    code, out, _ = cli("views", "sql", "--dialect", "spark")
    assert code == 0
    stmts = [s for s in out.split(";\n") if s.strip()]
    assert len(stmts) == len(views.definitions("v1"))
    order = [s.split("VIEW ")[1].split()[0] for s in stmts]
    # dependency order: every view comes after what it reads
    for d in views.definitions("v1"):
        for dep in d.deps:
            assert order.index(f"v1.{dep}") < order.index(d.qualified)

    code, _, err = cli("views", "sql", "--dialect", "oracle")
    assert code == 2 and "oracle" in err


def test_no_view_column_is_a_128_bit_integer(db_path):
    # DuckDB sums BIGINTs into HUGEINT, which pandas and Spark read as decimals or floats
    with open_store(db_path) as store:
        odd = store.con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'v1' and (data_type like '%HUGEINT%' or data_type like 'DECIMAL%')").fetchall()
    assert odd == []


def test_every_view_is_checked_statically_not_only_by_duckdb(db_path):
    # the static check must understand every view, or a missing column would only surface as
    # DuckDB's binder error; this keeps the views within what sqlglot resolves
    with open_store(db_path) as store:
        schema = {"main": views._main_columns(store.con), "v1": {}}
        for d in views.definitions("v1"):
            assert views.check_references(d, schema), f"{d.path.name}: sqlglot cannot resolve it"
            schema["v1"][d.name] = {c: "UNKNOWN" for c in views.view_columns(store.con, d.qualified)}
