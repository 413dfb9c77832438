"""Timestamps above 2^63 and time going backwards within a thread are anomalies, not silence."""

from __future__ import annotations

import numpy as np
import pytest
from trace_samples import rows

from warehouse.db.store import open_store
from warehouse.formats.trace.detect import TRACE_1024
from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.ingest.traces import BinarySource, ingest_trace
from warehouse.synth import generate_run


def _recount(rec: np.ndarray) -> tuple[set[int], set[int]]:
    """Plain-Python truth: record ids out of range, and those earlier than their thread's previous."""
    high, back, last = set(), set(), {}
    for i, r in enumerate(rec.tolist()):
        ts, thread = r[0], r[3]
        if ts >= 2**63:
            high.add(i)
            continue
        if thread in last and ts < last[thread]:
            back.add(i)
        last[thread] = ts
    return high, back


@pytest.mark.parametrize("chunk_records", [64, 1 << 14])  # the thread's clock carries across chunks
def test_timestamp_anomalies_equal_a_recount(db_path, tmp_path, chunk_records):
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=3, seed=4)
    rec = np.fromfile(truth.path, dtype=RECORD_DTYPE)
    rec["thread_id"] = np.arange(len(rec)) % 3  # three interleaved threads
    rec["timestamp_ns"][[5, 700, 1500]] = [2**63 + 5, 2**64 - 1, 2**63]
    for i in (64, 65, 130, 1000):  # a record stamped before its thread's previous one (64: a chunk start)
        rec["timestamp_ns"][i] = rec["timestamp_ns"][i - 3] - 1000
    truth.path.write_bytes(rec.tobytes())
    high, back = _recount(rec)
    assert len(high) == 3 and len(back) >= 4

    source = BinarySource(truth.path, TRACE_1024, chunk_records=chunk_records)
    source.given = truth.path
    with open_store(db_path) as store:
        with store.transaction() as con:
            ingest_trace(con, source, experts_used=4)
        got = {kind: {r[0] for r in rows(store.con, "select record_id from anomalies where kind = ?", [kind])}
               for kind in ("timestamp_out_of_range", "timestamp_backwards")}
        assert got == {"timestamp_out_of_range": high, "timestamp_backwards": back}
        quality = rows(store.con, "select timestamp_out_of_range, timestamp_backwards from v1.trace_quality")
        assert quality == [(len(high), len(back))]
        stored = rows(store.con, "select record_id, timestamp_ns from records where record_id in (5, 700, 1500) "
                                 "order by 1")
        assert stored == [(5, 2**63 - 1), (700, 2**63 - 1), (1500, 2**63 - 1)]  # not wrapped to negative numbers
        assert rows(store.con, "select count(*) from records where timestamp_ns < 0") == [(0,)]
