"""The SQL console refuses anything but one read-only query, and still answers afterwards."""

from __future__ import annotations

import os

import duckdb
import pytest

from warehouse.dashboard.console import ConsoleError, check_statement, run_console
from warehouse.db.store import open_store


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("console") / "w.duckdb")
    with open_store(path) as store, store.transaction() as con:
        con.execute("insert into runs (run_id, run_name, source_format, op_table, n_records, n_passes, ingested_at) "
                    "select 'r' || i, 'run ' || i, 'trace-1024', 'ggml-2026-01', i * 10, i, now() "
                    "from range(1, 26) t(i)")
    return path


def _fingerprint(path: str):
    """Everything a hostile statement could change: tables, views, row counts, settings of a new connection."""
    con = duckdb.connect(path, read_only=True)
    try:
        objects = con.execute("select schema_name, table_name, estimated_size from duckdb_tables() "
                              "union all select schema_name, view_name, 0 from duckdb_views() where not internal "
                              "order by 1, 2").fetchall()
        runs = con.execute("select count(*), sum(n_records) from runs").fetchone()
        dbs = con.execute("select count(*) from duckdb_databases() where not internal").fetchone()
        return objects, runs, dbs
    finally:
        con.close()


SECRET = "/etc/passwd"

HOSTILE = [
    # file reads through table functions, replacement scans and scalar functions
    f"select * from read_csv('{SECRET}')",
    f"select * from read_csv_auto('{SECRET}')",
    f"select * from read_text('{SECRET}')",
    f"select content from read_blob('{SECRET}')",
    f"select * from '{SECRET}'",
    "select * from glob('/*')",
    "select * from read_parquet('/tmp/*.parquet')",
    "select * from read_json('http://127.0.0.1:9/x.json')",
    # writing files, attaching other databases, extensions
    "copy (select 1) to '/tmp/moewh-console-leak.csv'",
    "copy runs to '/tmp/moewh-console-leak.csv'",
    "copy runs from '/tmp/x.csv'",
    "export database '/tmp/moewh-console-export'",
    "attach '/tmp/moewh-console-other.duckdb' as other",
    "attach ':memory:' as m",
    "detach other",
    "install httpfs",
    "load httpfs",
    "force install httpfs",
    # settings and pragmas
    "pragma enable_profiling",
    "pragma database_list",
    "set enable_external_access = true",
    "set threads = 1",
    "reset threads",
    "use memory",
    "call pragma_version()",
    "checkpoint",
    # DDL and DML
    "create table t (a int)",
    "create view v as select 1",
    "create macro m() as 1",
    "create secret s (type s3, key_id 'x', secret 'y')",
    "drop table runs",
    "drop view v1.runs",
    "alter table runs add column x int",
    "insert into runs (run_id) values ('x')",
    "update runs set run_name = 'x'",
    "delete from runs",
    "truncate runs",
    "vacuum",
    "begin transaction",
    # more than one statement
    "select 1; select 2",
    "select 1; drop table runs",
    "select * from v1.runs; copy runs to '/tmp/moewh-console-leak.csv'",
    # nothing at all
    "",
    "   ;  ",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_statement_is_refused_and_changes_nothing(warehouse, sql):
    before = _fingerprint(warehouse)
    with pytest.raises(ConsoleError) as info:
        run_console(warehouse, sql)
    message = str(info.value)
    assert message and "Traceback" not in message
    assert _fingerprint(warehouse) == before
    assert not os.path.exists("/tmp/moewh-console-leak.csv")
    assert not os.path.exists("/tmp/moewh-console-export")
    # the console still answers a normal query afterwards
    result = run_console(warehouse, "select count(*) as n, sum(n_records) as s from v1.runs")
    assert result.table.to_pylist() == [{"n": 25, "s": sum(i * 10 for i in range(1, 26))}]


def test_file_reads_say_why(warehouse):
    with pytest.raises(ConsoleError, match="external access is disabled"):
        run_console(warehouse, f"select * from read_csv('{SECRET}')")


def test_several_statements_say_so(warehouse):
    with pytest.raises(ConsoleError, match="exactly one statement"):
        run_console(warehouse, "select 1; select 2")


def test_statement_kind_is_named(warehouse):
    with pytest.raises(ConsoleError, match="COPY"):
        run_console(warehouse, "copy runs to '/tmp/x.csv'")


@pytest.mark.parametrize("sql, expected", [
    ("select run_name from v1.runs where n_passes = 3", [{"run_name": "run 3"}]),
    ("with t as (select n_passes from v1.runs) select max(n_passes) as m from t", [{"m": 25}]),
    ("from v1.runs select count(*) as n where n_passes > 20", [{"n": 5}]),
    ("select 1 as one;", [{"one": 1}]),  # one statement with a trailing semicolon
    ("select 'a; b' as s", [{"s": "a; b"}]),  # a semicolon inside a string is not a second statement
])
def test_read_only_queries_answer(warehouse, sql, expected):
    assert run_console(warehouse, sql).table.to_pylist() == expected


def test_row_limit_truncates_and_says_so(warehouse):
    result = run_console(warehouse, "select * from range(100000) t(i)", max_rows=1234)
    assert result.truncated
    assert result.table.num_rows == 1234
    assert result.table.column("i").to_pylist() == list(range(1234))
    small = run_console(warehouse, "select * from range(10) t(i)", max_rows=10)
    assert not small.truncated and small.table.num_rows == 10


def test_errors_are_one_clear_message(warehouse):
    for sql, pattern in [
        ("select * from no_such_table", "Unknown name"),
        ("select nope from v1.runs", "resolve"),
        ("selec 1", "Syntax error"),
    ]:
        with pytest.raises(ConsoleError, match=pattern):
            run_console(warehouse, sql)


def test_long_query_is_interrupted(warehouse):
    with pytest.raises(ConsoleError, match="stopped after"):
        run_console(warehouse, "select count(*) from range(10000000000) a", timeout_s=0.3)


def test_missing_database_is_a_message(tmp_path):
    with pytest.raises(ConsoleError, match="no database"):
        run_console(str(tmp_path / "none.duckdb"), "select 1")


def test_check_statement_alone_needs_no_database():
    check_statement("select 1")
    with pytest.raises(ConsoleError):
        check_statement("drop table x")
