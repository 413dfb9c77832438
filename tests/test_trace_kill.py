"""A SIGKILLed ingest leaves no part of its run: the transaction is all or nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from trace_samples import counts

from warehouse.db.store import open_store
from warehouse.synth import write_large


def test_sigkill_mid_ingest_leaves_no_rows(tmp_path):
    trace = tmp_path / "big.bin"
    n = write_large(trace, 120_000, seed=3)
    db = tmp_path / "w.duckdb"
    env = dict(os.environ, MOEWH_PROGRESS="1")
    proc = subprocess.Popen([sys.executable, "-m", "warehouse", "--db", str(db), "ingest", "trace", str(trace),
                             "--experts-used", "4"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    seen = b""
    deadline = time.monotonic() + 60
    # Wait until rows are being written (the decode phase), then kill without warning.
    while b"decoding" not in seen and time.monotonic() < deadline:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"decoding" in seen, seen.decode(errors="replace")
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # it really was killed mid-ingest, not finished
    with open_store(db) as store:
        assert all(v == 0 for v in counts(store.con).values()), counts(store.con)
        # and the same trace then ingests completely
        from warehouse.ingest.traces import ingest_trace

        with store.transaction() as con:
            result = ingest_trace(con, trace, experts_used=4)
        assert result.created and result.n_records == n
        assert counts(store.con)["runs"] == 1
