import json
import subprocess
import sys

import pyarrow.parquet as pq

from warehouse.db.store import open_store


def test_query_formats_and_bound_parameters(cli, db_path, tmp_path):
    open_store(db_path).close()
    code, out, _ = cli("query", "select $a + 1 as x, $s as s", "--param", "a=41", "--param", "s=o'k", "--format", "json")
    assert code == 0
    assert json.loads(out) == [{"x": 42, "s": "o'k"}]
    code, out, _ = cli("query", "select 1 as a, 'x,y' as b", "--format", "csv")
    assert out.splitlines() == ["a,b", '1,"x,y"']
    target = tmp_path / "out.parquet"
    code, _, _ = cli("query", "select range as i from range(5)", "--format", "parquet", "--output", str(target))
    assert code == 0 and pq.read_table(target).column("i").to_pylist() == [0, 1, 2, 3, 4]


def test_query_is_read_only(cli, db_path):
    open_store(db_path).close()
    code, _, err = cli("query", "create table t (x int)")
    assert code == 2 and "read-only" in err.lower()


def test_query_from_file_and_bad_sql(cli, db_path, tmp_path):
    open_store(db_path).close()
    f = tmp_path / "q.sql"
    f.write_text("select 7 as seven")
    code, out, _ = cli("query", "--file", str(f), "--format", "json")
    assert json.loads(out) == [{"seven": 7}]
    code, _, err = cli("query", "select * from no_such_table")
    assert code == 2 and err.startswith("moewh: error:") and "Traceback" not in err


def test_db_from_environment_and_missing_db_exit_code(tmp_path):
    env = {"MOEWH_DB": str(tmp_path / "absent.duckdb"), "PATH": ""}
    proc = subprocess.run([sys.executable, "-m", "warehouse", "query", "select 1"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 3
    assert "absent.duckdb" in proc.stderr and "Traceback" not in proc.stderr


def test_lock_held_by_another_process_times_out_with_one_line(db_path, tmp_path):
    open_store(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({db_path!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        proc = subprocess.run([sys.executable, "-m", "warehouse", "--db", db_path, "query", "select 1"],
                              env={"MOEWH_LOCK_TIMEOUT": "1", "PATH": ""}, capture_output=True, text=True)
    finally:
        holder.kill()
    assert proc.returncode == 3
    lines = [line for line in proc.stderr.splitlines() if line.startswith("moewh: error")]
    assert len(lines) == 1 and "in use" in lines[0]
    assert "Traceback" not in proc.stderr


def _moewh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True,
                          env=env or {"PATH": ""})


def test_usage_errors_exit_2_with_a_message_not_a_traceback(db_path, tmp_path):
    open_store(db_path).close()
    cases = [
        (("--db", db_path, "query", "--file", str(tmp_path / "absent.sql")), "absent.sql"),
        (("--db", db_path, "no-such-command"), "No such command"),
        (("--db", db_path, "query", "select 1", "--no-such-option"), "No such option"),
        (("--db", db_path, "ingest"), "Usage: moewh ingest"),
        # The format is checked before the database is even opened: an absent database would be exit 3.
        (("--db", str(tmp_path / "absent.duckdb"), "query", "select 1", "--format", "xml"), "unknown format"),
        (("--db", db_path, "query", "select 1", "--format", "parquet"), "needs --output"),
        (("--db", db_path, "runs", "list", "--format", "yaml"), "unknown format"),
    ]
    for args, expected in cases:
        proc = _moewh(*args)
        assert proc.returncode == 2, (args, proc.returncode, proc.stderr)
        assert expected in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
    assert not (tmp_path / "absent.duckdb").exists()


def test_csv_keeps_full_float_precision_and_the_table_stays_readable(cli, db_path):
    open_store(db_path).close()
    sql = ("select 0.1234567890123::double as x, 54100032.0::double as whole, 4873100000.5::double as big, "
           "'nan'::double as n")
    code, out, _ = cli("query", sql, "--format", "csv")
    header, row = out.splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert float(values["x"]) == 0.1234567890123 and float(values["big"]) == 4873100000.5
    code, out, _ = cli("query", sql)
    cells = out.splitlines()[2].split()
    assert cells[:3] == ["0.123457", "54100032", "4.8731e+09"]
