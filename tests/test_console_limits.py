"""The console bounds what one query can cost: bytes of results, DuckDB's memory, Arrow's 2 GiB
string limit, and no stack trace is ever shown to a visitor."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from warehouse.db.store import open_store
from warehouse.paths import dashboard_app

CHILD = """
import json, sys
from warehouse.dashboard.console import ConsoleError, run_console
try:
    r = run_console(sys.argv[1], sys.argv[2])
    out = {"rows": r.table.num_rows, "bytes": r.table.nbytes, "stopped_by": r.stopped_by, "truncated": r.truncated}
except ConsoleError as exc:
    out = {"error": str(exc)}
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
out["peak_mb"] = int(hwm) // 1024
print(json.dumps(out))
"""
AS_LIMIT = 6 << 30  # a guard for the machine: the unbounded console needed 4-9 GB for these


def _console_child(db: str, sql: str) -> dict:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    proc = subprocess.run([sys.executable, "-c", CHILD, db, sql], capture_output=True, text=True,
                          preexec_fn=limit, timeout=300, env=dict(os.environ, MALLOC_ARENA_MAX="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("console-limits") / "w.duckdb")
    open_store(path).close()
    return path


def test_long_strings_stop_at_the_result_byte_cap(warehouse):
    from warehouse.dashboard.console import MAX_RESULT_BYTES, MAX_ROWS

    # 10,000 rows of 100 KB would be 1 GB in the browser's table
    got = _console_child(warehouse, "select i, repeat('x', 100000) as s from range(100000) t(i)")
    assert got.get("stopped_by") == "bytes", got
    assert got["truncated"] and got["rows"] < MAX_ROWS
    assert got["bytes"] <= MAX_RESULT_BYTES
    assert got["peak_mb"] < 1500, got


def test_more_than_2_gib_of_text_in_a_batch_is_a_console_error(warehouse):
    got = _console_child(warehouse, "select repeat('x', 100000000) as s from range(100)")
    assert "error" in got, got
    assert "too large" in got["error"] or "memory" in got["error"], got


def test_the_console_connection_has_a_memory_limit(warehouse):
    from warehouse.dashboard.console import run_console

    limit = run_console(warehouse, "select current_setting('memory_limit') as m").table.to_pylist()[0]["m"]
    value, unit = limit.split()
    assert float(value) * {"GiB": 1024, "MiB": 1}[unit] <= 2048, limit


def test_the_app_never_shows_a_stack_trace(warehouse, monkeypatch):
    monkeypatch.setenv("MOEWH_DB", warehouse)
    at = AppTest.from_file(str(dashboard_app()), default_timeout=60).run()
    assert not at.exception
    from streamlit import config

    assert config.get_option("client.showErrorDetails") == "none"
