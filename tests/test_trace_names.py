"""Per-trace name interning and the anomaly spool, against independent recounts."""

from __future__ import annotations

import numpy as np
import pytest

from warehouse.db.store import open_store
from warehouse.formats.trace import names as names_mod
from warehouse.formats.trace.names import NameTable, name_words
from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.ingest import spool
from warehouse.ingest.traces import ingest_trace
from warehouse.synth import generate_run


def _recount(chunks: list[np.ndarray]) -> list[list[str]]:
    """Each row's text, decoded row by row in plain Python."""
    return [[bytes(v).split(b"\0", 1)[0].decode("utf-8", errors="replace") for v in c.tolist()] for c in chunks]


def _names(rng: np.random.Generator, n: int, distinct: int) -> np.ndarray:
    # Long names that differ only late (past byte 64), as llama.cpp's views of one tensor do.
    base = [f"blk.{i % 40}.ffn_{'gate' if i % 3 else 'down'}_exps.weight (view) (permuted) {i}".encode()
            for i in range(distinct)]
    out = np.array([base[i] for i in rng.integers(0, distinct, n)], dtype="S128")
    # Equal text, different bytes after the NUL: a distinct name whose text repeats another's.
    out[::97] = base[0] + b"\0" + b"t" * 60
    out[5] = b"\xff\xfe" * 64  # no NUL, not UTF-8
    return out


def test_codes_and_texts_match_a_row_by_row_decode_across_chunks_growth_and_resets(monkeypatch):
    monkeypatch.setattr(names_mod, "MAX_NAMES", 3000)  # forces resets between chunks
    rng = np.random.default_rng(4)
    chunks = [_names(rng, 20_000, d) for d in (50, 5000, 9000, 10)] + [np.zeros(0, "S128")]
    table = NameTable()
    for chunk, want in zip(chunks, _recount(chunks), strict=True):
        table.start_chunk()
        codes = table.codes(name_words(chunk))
        assert table.column(codes).to_pylist() == want
        # equal codes exactly where the full 128 bytes are equal
        first = {}
        for code, raw in zip(codes.tolist(), chunk.tolist(), strict=True):
            assert first.setdefault(code, raw) == raw
        assert len(first) == len(set(chunk.tolist()))
    assert table.n <= 3000 + 20_000


def test_a_name_table_is_bounded_by_the_chunk_not_the_trace(monkeypatch):
    monkeypatch.setattr(names_mod, "MAX_NAMES", 1000)
    table = NameTable()
    for c in range(20):
        chunk = np.array([f"n{c}-{i}".encode() for i in range(1500)], dtype="S128")
        table.start_chunk()
        codes = table.codes(name_words(chunk))
        assert table.column(codes).to_pylist() == [f"n{c}-{i}" for i in range(1500)]
        assert table.n <= 1000 + 1500


@pytest.mark.parametrize("memory_rows", [1, 7])
def test_spilled_anomalies_are_the_anomalies_kept_in_memory(tmp_path, monkeypatch, memory_rows):
    run = generate_run(tmp_path / "t.bin", domain="math", n_steps=3, seed=3)
    rec = np.fromfile(run.path, dtype=RECORD_DTYPE)
    rec["phase"][::5] = 9  # unknown_phase on every fifth record: hundreds of anomaly rows
    rec["operation_type"][3::11] = 250
    rec.tofile(run.path)

    def anomalies(db):
        store = open_store(db)
        with store.transaction() as con:
            ingest_trace(con, run.path, experts_used=4)
        rows = store.con.execute("select record_id, kind, detail from anomalies order by all").fetchall()
        store.close()
        return rows

    kept = anomalies(tmp_path / "kept.duckdb")
    monkeypatch.setattr(spool, "MEMORY_ROWS", memory_rows)
    spilled = anomalies(tmp_path / "spilled.duckdb")
    want = sorted([(i, "unknown_phase", "phase 9 is neither 0 (PROMPT) nor 1 (GENERATE)") for i in range(0, len(rec), 5)]
                  + [(i, "unknown_op_code", "op code 250 is not in the run's op table") for i in range(3, len(rec), 11)])
    assert [r for r in kept if r[1] in ("unknown_phase", "unknown_op_code")] == want
    assert spilled == kept


def test_names_that_collide_in_the_hash_are_still_told_apart_by_their_bytes():
    rng = np.random.default_rng(9)
    chunk = _names(rng, 6000, 300)
    table = NameTable()
    table.multipliers[:] = 0  # every name hashes to the same slot: only the byte comparison separates them
    codes = table.codes(name_words(chunk))
    assert table.column(codes).to_pylist() == _recount([chunk])[0]
    assert len(set(codes.tolist())) == len(set(chunk.tolist()))
