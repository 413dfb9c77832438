"""Files that are not what they seem: FIFOs, sockets and devices never hang a command; bad JSON
and metadata of the wrong shape are one line or a note, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON, file_digest, rows

from warehouse.db.store import open_store
from warehouse.synth import generate_run

HANG_GUARD_S = 60  # a refused special file answers at once; a blocked open() would never return


def _run(path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    return generate_run(path, **kwargs)


def _moewh(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True,
                          timeout=HANG_GUARD_S, env=env)


def _special(kind: str, path):
    if kind == "fifo":
        os.mkfifo(path)
        return path
    if kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(1)
        return path  # kept open by the fixture's socket object until the test ends
    os.symlink("/dev/zero", path)  # a device: reading it never ends
    return path


EXPECTED = {"fifo": "FIFO", "socket": "socket", "device": "character device"}


@pytest.fixture
def locked_warehouse(db_path):
    """A warehouse held open by another process: a command that took the lock would wait."""
    open_store(db_path).close()
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({db_path!r}); "
                               "print('ok', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ok"
    yield db_path
    holder.kill()
    holder.wait()


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
@pytest.mark.parametrize("command", [("ingest", "model"), ("ingest", "layout"), ("ingest", "trace"),
                                     ("query", "--file")])
def test_special_file_is_refused_before_it_is_opened_and_before_the_lock(locked_warehouse, tmp_path, kind,
                                                                         command):
    special = _special(kind, tmp_path / "input")
    env = dict(os.environ, MOEWH_LOCK_TIMEOUT="30")
    proc = _moewh("--db", locked_warehouse, *command, str(special), env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith(f"moewh: error: {special}") and EXPECTED[kind] in proc.stderr, proc.stderr
    assert "waiting for" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("where", ["tensor_trace.bin", "traces/token-00001.json"])
def test_special_file_inside_an_experiment_folder_fails_that_run_only(db_path, tmp_path, where):
    root = tmp_path / "exp"
    _run(root / "good" / "tensor_trace.bin", domain="code", n_steps=2, seed=3)
    bad = root / "bad" / where
    bad.parent.mkdir(parents=True)
    if where.startswith("traces/"):
        _run(root / "bad" / "traces", domain="math", n_steps=2, seed=4, source_format="token-json")
        bad.unlink()
    os.mkfifo(bad)
    proc = _moewh("--db", db_path, "ingest", "dir", str(root), "--experts-used", "4")
    assert proc.returncode == 1, proc.stderr
    assert "1 ingested, 0 already there, 1 failed" in proc.stdout
    assert f"failed: {root / 'bad'}" in proc.stderr and "FIFO" in proc.stderr and "Traceback" not in proc.stderr


BAD_TOKEN_JSON = {
    "nested 200,000 deep": ('{"entries": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deep"),
    "integer of 5,000 digits": ('{"entries": [{"timestamp_ns": ' + "1" * 5000 + "}]}", "digits"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKEN_JSON))
def test_hostile_token_json_is_one_line(cli, db_path, tmp_path, case):
    text, expected = BAD_TOKEN_JSON[case]
    path = tmp_path / "token-00000.json"
    path.write_text(text)
    code, out, err = cli("ingest", "trace", str(path))
    assert code == 2, (out, err[-1000:])
    assert err.startswith(f"moewh: error: {path}") and expected in err and len(err.strip().splitlines()) == 1
    assert file_digest(db_path) == "absent"


def test_token_json_with_a_bom_is_the_same_run(cli, tmp_path):
    with_bom = tmp_path / "token-00000.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + TOKEN_JSON.read_bytes())
    code, out, err = cli("ingest", "trace", str(with_bom), "--experts-used", "4")
    assert code == 0, err
    code, out, err = cli("ingest", "trace", str(TOKEN_JSON), "--experts-used", "4")
    assert code == 0 and "already ingested" in out


METADATA = {  # file, content, what the note says, the run fields that must stay NULL
    "prompts not a list": ("prompts.json", {"experiment_name": "e", "prompts": 5}, "'prompts' is an integer", ()),
    "domains not a list": ("summary.json", {"experiment": "e", "domains": 7}, "'domains' is an integer", ()),
    "binary file": ("prompts.json", bytes(range(256)), "not UTF-8", ()),
    "tokens_to_generate true": ("settings.json", {"experiment": {"tokens_to_generate": True}},
                                "'tokens_to_generate' is a boolean", ("n_predict",)),
    "list where a string belongs": ("prompts.json", {"experiment_name": "e", "prompts": [
        {"id": "r1", "domain": ["code"], "prompt": {"text": "x"}, "n_predict": 3}]}, "'domain' is a list",
        ("domain", "prompt")),
    "top level a list": ("summary.json", [1, 2], "top level is a list", ()),
    "nested 200,000 deep": ("settings.json", "[" * 200_000 + "]" * 200_000, "nested too deep", ()),
}


@pytest.mark.parametrize("case", sorted(METADATA))
def test_metadata_of_the_wrong_shape_is_a_note_and_the_runs_go_on(db_path, tmp_path, case):
    name, content, note, nulls = METADATA[case]
    root = tmp_path / "exp"
    for i, run in enumerate(("r1", "r2")):
        _run(root / run / "tensor_trace.bin", domain="code", n_steps=2, seed=20 + i)
    target = root / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content if isinstance(content, str) else json.dumps(content))
    proc = _moewh("--db", db_path, "ingest", "dir", str(root), "--experts-used", "4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 ingested" in proc.stdout and "Traceback" not in proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) >= 1 and all(str(target) in n for n in notes) and note in notes[0], proc.stderr[-2000:]
    with open_store(db_path, read_only=True) as store:
        got = rows(store.con, "select run_name, domain, prompt, n_predict from runs order by run_name")
    assert len(got) == 2
    columns = {"domain": 1, "prompt": 2, "n_predict": 3}
    for column in nulls:
        assert all(r[columns[column]] is None for r in got), got
    if case == "list where a string belongs":
        assert got[0][3] == 3  # the well-typed field of the same entry is kept


def test_memory_map_beside_a_run_that_is_a_fifo_fails_that_run(db_path, tmp_path):
    root = tmp_path / "exp"
    _run(root / "r1" / "tensor_trace.bin", domain="code", n_steps=2, seed=5)
    shutil.copy(REAL_TRACE, root / "r1" / "unused.bin")
    os.mkfifo(root / "r1" / "memory-map.json")
    proc = _moewh("--db", db_path, "ingest", "dir", str(root), "--experts-used", "4")
    assert proc.returncode == 1 and "FIFO" in proc.stderr and "Traceback" not in proc.stderr


def test_real_memory_map_is_still_used_beside_a_run(db_path, tmp_path):
    root = tmp_path / "exp"
    _run(root / "r1" / "tensor_trace.bin", domain="code", n_steps=2, seed=5)
    shutil.copy(MEMORY_MAP, root / "r1" / "memory-map.json")
    proc = _moewh("--db", db_path, "ingest", "dir", str(root))
    assert proc.returncode == 0, proc.stderr
    with open_store(db_path, read_only=True) as store:
        assert rows(store.con, "select count(*) from runs where model_id is not null") == [(1,)]
