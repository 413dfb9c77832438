"""`moewh query` is read-only for real, as the console is: one query statement, no files, no
settings, no extensions; output only through -o; results streamed within bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_console import HOSTILE
from trace_samples import file_digest

from warehouse.db.store import open_store

LEAKS = ("/tmp/moewh-console-leak.csv", "/tmp/moewh-console-export", "/tmp/moewh-console-other.duckdb")


@pytest.fixture
def warehouse(db_path):
    with open_store(db_path) as store, store.transaction() as con:
        con.execute("insert into runs (run_id, run_name, source_format, op_table, n_records, n_passes, ingested_at) "
                    "select 'r' || i, 'run ' || i, 'trace-1024', 'ggml-2026-01', i * 10, i, now() "
                    "from range(1, 6) t(i)")
    return db_path


def _no_leaks():
    for path in LEAKS:
        assert not os.path.exists(path), path


@pytest.mark.parametrize("sql", [s for s in HOSTILE if s.strip().strip(";").strip()])
def test_hostile_statement_is_refused_with_one_line_and_changes_nothing(cli, warehouse, sql):
    before = file_digest(warehouse)
    code, out, err = cli("query", sql)
    assert code == 2, (sql, out, err)
    assert err.startswith("moewh: error: ") and len(err.strip().splitlines()) == 1, err
    assert file_digest(warehouse) == before
    _no_leaks()


def test_refusals_say_why(cli, warehouse):
    code, _, err = cli("query", "copy runs to '/tmp/moewh-console-leak.csv'")
    assert code == 2 and "COPY statement" in err and "-o PATH" in err
    code, _, err = cli("query", "set enable_external_access = true")
    assert code == 2 and "SET statement" in err
    code, _, err = cli("query", "select * from read_text('/etc/passwd')")
    assert code == 2 and "external access is disabled" in err
    code, _, err = cli("query", "select 1; select 2")
    assert code == 2 and "exactly one statement" in err


def test_a_saved_file_cannot_copy_a_secret_while_printing_a_count(cli, warehouse, tmp_path):
    saved = tmp_path / "harmless.sql"
    saved.write_text("copy (select * from read_text('/etc/passwd')) to '/tmp/moewh-console-leak.csv';\n"
                     "select count(*) from v1.runs;\n")
    code, out, err = cli("query", "--file", str(saved))
    assert code == 2 and out == "" and "exactly one statement" in err
    _no_leaks()


def test_extensions_are_not_downloaded(cli, warehouse):
    code, _, err = cli("query", "select * from read_json('https://example.invalid/x.json')")
    assert code == 2 and "Traceback" not in err
    code, _, err = cli("query", "install httpfs")
    assert code == 2 and "LOAD statement" in err  # DuckDB's name for INSTALL and LOAD


def test_allow_files_reads_but_never_writes(cli, warehouse, tmp_path):
    data = tmp_path / "mine.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    code, _, err = cli("query", f"select sum(a) as s from read_csv('{data}')")
    assert code == 2 and "external access is disabled" in err
    code, out, err = cli("query", "--allow-files", f"select sum(a) as s from read_csv('{data}')", "--format", "json")
    assert code == 0 and json.loads(out) == [{"s": 3}], err
    for sql in (f"copy runs to '{tmp_path / 'w.csv'}'", f"export database '{tmp_path / 'exp'}'",
                f"attach '{tmp_path / 'o.duckdb'}' as o"):
        code, _, err = cli("query", "--allow-files", sql)
        assert code == 2, sql
    assert not any(p.name in ("w.csv", "exp", "o.duckdb") for p in tmp_path.iterdir())


def test_output_goes_only_through_o(cli, warehouse, tmp_path):
    target = tmp_path / "out.json"
    code, out, err = cli("query", "select run_name from v1.runs order by run_name", "--format", "json",
                         "-o", str(target))
    assert code == 0 and out == ""
    assert [r["run_name"] for r in json.loads(target.read_text())] == [f"run {i}" for i in range(1, 6)]


@pytest.mark.parametrize("text", ["", ";", "  ;  ;  ", "\n-- only a comment\n"])
def test_empty_sql_is_a_usage_error(cli, warehouse, tmp_path, text):
    code, out, err = cli("query", text)
    if text.strip().startswith("--"):  # a comment is no statement either
        assert code == 2 and "Traceback" not in err, err
        return
    assert code == 2 and "no SQL to run" in err and len(err.strip().splitlines()) == 1, err
    empty = tmp_path / "empty.sql"
    empty.write_text(text)
    code, out, err = cli("query", "--file", str(empty))
    assert code == 2 and "no SQL to run" in err and str(empty) in err


def test_max_rows_stops_an_endless_result(cli, warehouse):
    code, out, err = cli("query", "select range as i from range(10000000000)", "--max-rows", "5", "--format", "csv")
    assert code == 0
    assert out.splitlines() == ["i", "0", "1", "2", "3", "4"]
    assert "stopped at --max-rows 5" in err


def test_timeout_interrupts_with_one_line(cli, warehouse):
    code, out, err = cli("query", "select count(*) from range(1000000000000) a", "--timeout", "0.5")
    assert code == 2 and "stopped after 0.5 s" in err and len(err.strip().splitlines()) == 1


def test_bad_lock_timeout_is_one_line_exit_3(warehouse):
    proc = subprocess.run([sys.executable, "-m", "warehouse", "--db", warehouse, "query", "select 1"],
                          env=dict(os.environ, MOEWH_LOCK_TIMEOUT="abc"), capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip() == "moewh: error: MOEWH_LOCK_TIMEOUT is 'abc'; give a number of seconds, e.g. 30"


PEAK_RSS = ("import sys, warehouse.cli; code = warehouse.cli.run(sys.argv[1:]); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "open(sys.argv[0] + '.hwm', 'w').write(hwm); sys.exit(code)")


def _peak_rss_mb(tmp_path, *args: str) -> tuple[int, subprocess.CompletedProcess]:
    """Run moewh in a child that records its own peak RSS (VmHWM, not inherited from pytest)."""
    marker = tmp_path / "child"
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS.replace("sys.argv[0]", repr(str(marker))), *args],
                          capture_output=True, text=True, timeout=600)
    return int((tmp_path / "child.hwm").read_text()) // 1024, proc


@pytest.mark.parametrize("fmt", ["csv", "json", "table", "parquet"])
def test_results_stream_in_bounded_memory(warehouse, tmp_path, fmt):
    # 600 MB of result: materialised it would need at least that much; streamed, a few batches.
    sql = "select i, repeat('x', 2000) as s from range(300000) t(i)"
    target = tmp_path / f"out.{fmt}"
    peak, proc = _peak_rss_mb(tmp_path, "--db", warehouse, "query", sql, "--format", fmt, "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    assert target.stat().st_size > 600_000_000 if fmt != "parquet" else target.stat().st_size > 0
    baseline, _ = _peak_rss_mb(tmp_path, "--db", warehouse, "query", "select 1", "--format", fmt,
                               "-o", str(tmp_path / "small"))
    assert peak - baseline < 250, (peak, baseline)
