"""A trace truncated while it is being ingested: an input error, not SIGBUS, and no run kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from warehouse.synth import generate_run

CHILD = """
import json, os, sys
from warehouse.db.store import open_store
from warehouse.errors import InputError
from warehouse.formats.trace.detect import TRACE_1024
from warehouse.ingest.traces import BinarySource, ingest_trace
from pathlib import Path

db, path, phase, keep = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
source = BinarySource(path, TRACE_1024, chunk_records=64)
source.given = path
calls = {"phase": 0, "last": 0}

def progress(done, total):
    # the trace is read twice (scan, then decode); a drop in `done` marks the second reading
    if done < calls["last"]:
        calls["phase"] += 1
    calls["last"] = done
    if calls["phase"] == phase and os.path.getsize(path) > keep:
        os.truncate(path, keep)  # as a tracer rewriting its pre-allocated file would

store = open_store(db)
try:
    with store.transaction() as con:
        ingest_trace(con, source, experts_used=4, progress=progress)
    print(json.dumps({"ok": True}))
except InputError as exc:
    print(json.dumps({"error": str(exc)}))
n = store.con.execute("select count(*) from runs").fetchone()[0] + store.con.execute("select count(*) from records").fetchone()[0]
print(json.dumps({"rows": n}))
"""


@pytest.mark.parametrize("phase, keep_records", [(0, 100), (1, 100), (1, 1000)])
def test_trace_shrinking_during_ingest_is_an_input_error(db_path, tmp_path, phase, keep_records):
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=3, seed=9)
    assert os.path.getsize(truth.path) > 64 * 1024 * 20
    proc = subprocess.run([sys.executable, "-c", CHILD, db_path, str(truth.path), str(phase),
                           str(keep_records * 1024 + 500)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != -signal.SIGBUS, "killed by SIGBUS"
    assert proc.returncode == 0, proc.stderr[-3000:]
    error, rows = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert "the trace changed while being read" in error["error"], error
    assert rows == {"rows": 0}
