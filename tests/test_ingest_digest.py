"""Ingest must keep giving the same rows: a digest of every run table after ingesting fixed traces.

The digests in ``data/ingest_digests.json`` were recorded from the ingest as it was before it
was made faster (issue: ingest at disk speed), so any change to the decoding, the pass
splitting, the derived tables or the anomalies shows up here, in every column. The traces
cover the reference run, its JSON export, the legacy format, chunk boundaries inside passes,
holes, a zero tail, a partial record, a head before the first pass and every per-record
anomaly kind.

A deliberate change of the rows re-records them (``MOEWH_RECORD_DIGESTS=1 pytest
tests/test_ingest_digest.py``), with the reason in the commit message.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON

from warehouse.db import catalog
from warehouse.db.store import open_store
from warehouse.formats.trace import op_tables
from warehouse.formats.trace.detect import TRACE_1024
from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.ingest.models import ingest_layout_file
from warehouse.ingest.traces import BinarySource, ingest_trace
from warehouse.synth import generate_run, template

RECORDED = Path(__file__).parent / "data" / "ingest_digests.json"
# Columns that name the moment or the place of an ingest, not what was ingested.
VOLATILE = {("runs", "ingested_at"), ("runs", "source_path")}


def _table_digests(con) -> dict[str, str]:
    out = {}
    for table in catalog.run_tables(con):
        cols = [c for c in catalog.table_columns(con, table) if (table, c) not in VOLATILE]
        h = hashlib.sha256()
        n = 0
        for row in con.execute(f"select {', '.join(cols)} from {table} order by all").fetchall():
            h.update(repr(row).encode())
            n += 1
        out[table] = f"{n}:{h.hexdigest()[:16]}"
    return out


def _corrupted(path: Path) -> Path:
    """Every per-record anomaly kind, at places that cross chunk boundaries of 64 records."""
    tpl = template()
    n = len(tpl)
    base = n * 2
    moe = np.flatnonzero((tpl["layer_id"] == 3) & (tpl["num_experts"] > 0))
    rec = np.fromfile(path, dtype=RECORD_DTYPE)
    rec["expert_ids"][base + moe[2], :4] = [1, 77, 1, -3]
    rec["num_sources"][base + 5] = 9
    rec["num_experts"][base + moe[4]] = 40
    rec["operation_type"][base + 7] = 250
    rec["dst_name"][base + 9] = b"\xff\xfe" * 64
    rec["sources"]["memory_source"][base + 10, 0] = 7
    rec["phase"][base + 11] = 9
    rec["operation_type"][base + moe[0] + n] = op_tables.code_of("ggml-2026-01", "MUL")
    rec["thread_id"] = np.arange(len(rec)) % 3
    rec["timestamp_ns"][[5, 700, 1500]] = [2**63 + 5, 2**64 - 1, 2**63]
    for i in (64, 65, 130, 1000):
        rec["timestamp_ns"][i] = rec["timestamp_ns"][i - 3] - 1000
    rec.tofile(path)
    return path


def _cases(tmp: Path):
    """(name, path or source factory, ingest options, wants the layout)."""
    big = generate_run(tmp / "big.bin", domain="code", n_steps=22, seed=5, prompt_tokens=7,
                       zero_tail_records=3000, holes=3, hole_records=5, partial_bytes=700).path
    corrupt = _corrupted(generate_run(tmp / "corrupt.bin", domain="math", n_steps=4, seed=3).path)
    legacy = generate_run(tmp / "legacy.bin", domain="chat", n_steps=3, seed=6, source_format="trace-256").path
    json_dir = generate_run(tmp / "json", domain="science", n_steps=2, seed=8, source_format="token-json").path
    head = generate_run(tmp / "head.bin", domain="chat", n_steps=3, seed=6)
    cut = tmp / "cut.bin"
    cut.write_bytes(head.path.read_bytes()[300 * 1024:])

    def small_chunks(path):
        def make():
            source = BinarySource(path, TRACE_1024, chunk_records=64)
            source.given = path
            return source
        return make

    return [
        ("reference", lambda: REAL_TRACE, {}, True),
        ("reference-json", lambda: TOKEN_JSON, {}, True),
        ("big", lambda: big, {"experts_used": 4}, True),
        ("big-no-model", lambda: big, {}, False),
        ("corrupt", lambda: corrupt, {}, True),
        ("corrupt-small-chunks", small_chunks(corrupt), {}, True),
        ("legacy", lambda: legacy, {}, False),
        ("json", lambda: json_dir, {"experts_used": 4}, False),
        ("head", lambda: cut, {"experts_used": 4}, True),
    ]


def _digests(tmp: Path) -> dict[str, dict[str, str]]:
    out = {}
    for name, make, options, with_layout in _cases(tmp):
        db = tmp / f"{name}.duckdb"
        with open_store(str(db)) as store:
            with store.transaction() as con:
                model_id = ingest_layout_file(con, MEMORY_MAP).model_id if with_layout else None
                ingest_trace(con, make(), model_id=model_id, name=name, **options)
            out[name] = _table_digests(store.con)
    return out


def test_every_table_keeps_its_rows(tmp_path):
    got = _digests(tmp_path)
    if os.environ.get("MOEWH_RECORD_DIGESTS"):
        RECORDED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"recorded {RECORDED.name}")
    want = json.loads(RECORDED.read_text())
    assert set(got) == set(want)
    for name in want:
        assert got[name] == want[name], name
