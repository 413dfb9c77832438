"""Format detection scores both record layouts over many records and cannot be fooled by
leftovers in unused source slots; when the evidence is ambiguous it refuses, --format decides."""

from __future__ import annotations

import numpy as np
import pytest
from trace_samples import REAL_TRACE, rows

from warehouse.db.store import open_store
from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.synth import generate_run


def _with_leftovers(path, field: str, value: int):
    """The real trace with every unused source slot holding ``field = value``."""
    rec = np.fromfile(REAL_TRACE, dtype=RECORD_DTYPE)
    column = rec["sources"][field]
    for slot in range(4):
        column[rec["num_sources"] <= slot, slot] = value
    rec["sources"][field] = column
    path.write_bytes(rec.tobytes())
    return rec


@pytest.mark.parametrize("field, value", [("layer_id", 0xFFFF), ("size_bytes", 0xFFFFFFFF)])
def test_leftovers_in_unused_source_slots_do_not_make_a_legacy_trace(cli, db_path, tmp_path, field, value):
    rec = _with_leftovers(tmp_path / "t.bin", field, value)
    code, out, err = cli("ingest", "trace", str(tmp_path / "t.bin"), "--experts-used", "4")
    assert code == 0, err
    assert "from trace-1024: 1,696 records" in out
    with open_store(db_path, read_only=True) as store:
        assert rows(store.con, "select source_format, n_records from runs") == [("trace-1024", 1696)]
        # the slots beyond num_sources are not sources
        assert rows(store.con, "select count(*) from sources") == [(int(rec["num_sources"].sum()),)]


def test_ambiguous_evidence_is_refused_and_format_decides(cli, db_path, tmp_path):
    # Each 1024-byte slot holds four copies of a real record's first 256 bytes (sources
    # cleared, names cut to 20 bytes): plausible as 1024-byte records and as legacy ones.
    rec = np.fromfile(REAL_TRACE, dtype=RECORD_DTYPE)[:64]
    rec["sources"] = np.zeros_like(rec["sources"])
    rec["num_sources"] = 0
    rec["num_experts"] = 0
    rec["expert_ids"] = 0
    rec["dst_name"] = rec["dst_name"].astype("S20")
    path = tmp_path / "both.bin"
    path.write_bytes(b"".join(r.tobytes()[:256] * 4 for r in rec))
    code, out, err = cli("ingest", "trace", str(path))
    assert code == 2 and "cannot tell the record layout" in err and "--format" in err, (out, err)
    code, out, err = cli("ingest", "trace", str(path), "--format", "trace-256", "--experts-used", "4")
    assert code == 0 and "from trace-256" in out, err
    code, _, err = cli("ingest", "trace", str(path), "--format", "nope")
    assert code == 2 and "trace-1024" in err


@pytest.mark.parametrize("source_format", ["trace-1024", "trace-256"])
def test_real_layouts_are_still_detected(cli, tmp_path, source_format):
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=3, seed=2, source_format=source_format,
                         holes=2)
    code, out, err = cli("ingest", "trace", str(truth.path), "--experts-used", "4")
    assert code == 0 and f"from {source_format}" in out, err
