"""Synthetic GPT-OSS-shaped traces with known selections: the warehouse must give back the truth."""

from __future__ import annotations

import os

import numpy as np
import pytest
from trace_samples import counts, ingest, rows, store_with_layout

from warehouse.formats.trace import op_tables
from warehouse.synth import generate_run, template

MUL_MAT_ID = op_tables.code_of("ggml-2026-01", "MUL_MAT_ID")


@pytest.fixture
def store(db_path):
    store, model_id = store_with_layout(db_path)
    store.model_id = model_id
    yield store
    store.close()


def _selections(con, run_id):
    return rows(con, "select pass_id, layer_id, rank, expert_id from v1.expert_selections where run_id = ? "
                     "order by all", [run_id])


def _passes(con, run_id):
    return rows(con, "select pass_id, token_id, phase, n_batch_tokens, is_warmup, first_record_id, n_records "
                     "from v1.passes where run_id = ? order by pass_id", [run_id])


def _truth_passes(truth):
    return [(p.pass_id, p.token_id, p.phase, p.n_tokens, p.is_warmup, p.first_record_id, p.n_records)
            for p in truth.passes]


def test_selections_equal_truth_with_warmup_tail_holes_partial_and_batches(store, tmp_path):
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=12, seed=5, warmup=True, prompt_tokens=7,
                         zero_tail_records=20_000, holes=3, hole_records=5, partial_bytes=700)
    result = ingest(store, truth.path, model_id=store.model_id, experts_used=4)
    con = store.con
    assert result.created and result.n_records == truth.n_records
    assert _selections(con, result.run_id) == truth.selection_rows()
    assert len(truth.selection_rows()) == 13 * 24 * 4  # prompt + 12 decode passes
    assert _passes(con, result.run_id) == _truth_passes(truth)
    assert truth.passes[0].is_warmup and truth.passes[1].n_tokens == 7  # the case is really covered
    q = rows(con, "select skipped_tail_bytes, dropped_partial_bytes, hole_records, warmup_passes, anomalies, "
                  "unmatched_disk_sources from v1.trace_quality")
    assert q == [(truth.zero_tail_bytes, 700, 15, 1, 0, 0)]
    assert any(f"byte offset {truth.partial_offset:,}" in w for w in result.warnings)
    assert any("15 unused records" in w for w in result.warnings)
    # the record ids are file positions: holes shift them
    assert rows(con, "select max(record_id) from records") == [(truth.n_records + 15 - 1,)]


def test_sparse_tail_is_not_read(store, tmp_path):
    path = tmp_path / "sparse.bin"
    truth = generate_run(path, domain="math", n_steps=3, seed=9, zero_tail_records=2 * 1024 * 1024)  # 2 GiB tail
    st = os.stat(path)
    if st.st_blocks * 512 > 64 << 20:
        pytest.skip("this file system does not keep the file sparse")
    from warehouse.formats.trace.records import RECORD_DTYPE, find_extent

    extent = find_extent(path, RECORD_DTYPE.itemsize)
    assert sum(b - a for a, b in extent.data_ranges) < truth.n_records + 64  # only the data is visited
    result = ingest(store, path, model_id=store.model_id)
    assert rows(store.con, "select skipped_tail_bytes from runs") == [(2 * 1024 * 1024 * 1024,)]
    assert _selections(store.con, result.run_id) == truth.selection_rows()


def test_model_k_without_option_and_inferred_k(store, tmp_path, db_path):
    truth = generate_run(tmp_path / "t.bin", domain="chat", n_steps=4, seed=1)
    # memory-map.json does not record k: without the option it is inferred from the passes
    result = ingest(store, truth.path, model_id=store.model_id)
    assert rows(store.con, "select experts_used, experts_used_source from runs") == [(4, "inferred")]
    assert _selections(store.con, result.run_id) == truth.selection_rows()
    assert rows(store.con, "select count(*) from passes where is_warmup") == [(1,)]


def test_reingest_is_idempotent_and_replace_reingests(store, tmp_path):
    truth = generate_run(tmp_path / "t.bin", domain="science", n_steps=3, seed=2, zero_tail_records=10)
    first = ingest(store, truth.path, model_id=store.model_id)
    before = counts(store.con)
    again = ingest(store, truth.path, model_id=store.model_id, name="other name")
    assert not again.created and again.run_id == first.run_id and "already" in again.warnings[0]
    assert counts(store.con) == before
    assert rows(store.con, "select run_name from runs") == [("t",)]
    # the same records without the zero tail are the same run
    trimmed = tmp_path / "trimmed.bin"
    trimmed.write_bytes(truth.path.read_bytes()[: truth.n_records * 1024])
    assert ingest(store, trimmed).created is False
    replaced = ingest(store, truth.path, model_id=store.model_id, name="renamed", replace=True)
    assert replaced.created and replaced.run_id == first.run_id
    assert counts(store.con) == before
    assert rows(store.con, "select run_name from runs") == [("renamed",)]


def test_legacy_256_byte_records_use_the_legacy_op_table(store, tmp_path):
    truth = generate_run(tmp_path / "legacy.bin", domain="code", n_steps=3, seed=4, source_format="trace-256")
    result = ingest(store, truth.path, model_id=store.model_id)
    con = store.con
    assert result.source_format == "trace-256"
    assert rows(con, "select op_table, n_records, n_passes from runs") == [("ggml-2025-legacy", truth.n_records,
                                                                              truth.n_passes)]
    assert dict(rows(con, "select op_name, count(*) from records group by 1")) == truth.op_counts
    assert "ADD_ID" not in truth.op_counts and truth.op_counts["MUL_MAT_ID"] > 0
    assert rows(con, "select count(*) from selections") == [(0,)]
    assert rows(con, "select count(*) from anomalies") == [(0,)]
    # names are cut to 19 characters, as the old tracer wrote them
    assert rows(con, "select max(length(name)) from sources") == [(19,)]
    # no expert ids, so no warm-up can be seen; the batch size comes from the embedding's index source
    assert _passes(con, result.run_id) == [(p.pass_id, p.token_id, p.phase, p.n_tokens, False, p.first_record_id,
                                            p.n_records) for p in truth.passes]


def test_token_json_folder_gives_the_binary_rows(store, tmp_path):
    truth_bin = generate_run(tmp_path / "t.bin", domain="math", n_steps=3, seed=8)
    truth_json = generate_run(tmp_path / "traces", domain="math", n_steps=3, seed=8, source_format="token-json")
    assert len(list((tmp_path / "traces").glob("token-*.json"))) == 4  # tokens 0..3
    a = ingest(store, truth_bin.path, model_id=store.model_id)
    b = ingest(store, truth_json.path, model_id=store.model_id)
    assert a.run_id == b.run_id and not b.created
    other = store_with_layout(str(tmp_path / "other.duckdb"))[0]
    c = ingest(other, tmp_path / "traces", model_id=rows(other.con, "select model_id from models")[0][0])
    assert c.created and c.source_format == "token-json"
    for table in ("records", "sources", "record_experts", "passes", "selections"):
        q = f"select * exclude (run_id) from {table} order by all"
        assert rows(store.con, q) == rows(other.con, q), table
    other.close()


def _moe_records(tpl, layer):
    moe = np.flatnonzero((tpl["layer_id"] == layer) & (tpl["num_experts"] > 0))
    return moe  # gate, gate bias, up, up bias, down, down bias


def test_corrupt_fields_are_flagged_not_fatal(store, tmp_path):
    tpl = template()
    n = len(tpl)
    base = n * 2  # the second decode pass (warm-up, prompt, then decode passes)
    up_l3 = base + _moe_records(tpl, 3)[2]  # the up MUL_MAT_ID of layer 3: not the one selections come from
    down_l5 = base + _moe_records(tpl, 5)[4]
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=4, seed=3)
    rec = np.fromfile(truth.path, dtype=np.dtype(template().dtype))
    good_l5 = rec["expert_ids"][down_l5].copy()
    rec["expert_ids"][up_l3, :4] = [1, 77, 1, -3]  # out of range twice, a duplicate, and disagreeing
    rec["num_sources"][base + 5] = 9
    rec["num_experts"][down_l5] = 40  # more than 16: keeps the first 16 slots (the real 4 + zeros)
    rec["operation_type"][base + 7] = 250
    rec["dst_name"][base + 9] = b"\xff\xfe" * 64  # unterminated, not UTF-8
    rec["sources"]["memory_source"][base + 10, 0] = 7
    rec["phase"][base + 11] = 9
    rec["operation_type"][base + _moe_records(tpl, 6)[0]] = op_tables.code_of("ggml-2026-01", "MUL")
    rec.tofile(truth.path)

    result = ingest(store, truth.path, model_id=store.model_id)
    con = store.con
    got = rows(con, "select kind, record_id from anomalies order by kind, record_id")
    want = sorted([
        ("expert_id_out_of_range", up_l3),
        ("duplicate_expert_ids", up_l3),
        ("expert_ids_disagree", up_l3),
        ("expert_ids_disagree", down_l5),  # 16 ids now, not 4
        ("duplicate_expert_ids", down_l5),  # ... the 12 extra slots hold zeros
        ("too_many_sources", base + 5),
        ("too_many_experts", down_l5),
        ("unknown_op_code", base + 7),
        ("unknown_memory_source", base + 10),
        ("unknown_phase", base + 11),
        ("implausible_op", base + _moe_records(tpl, 6)[0]),  # MUL with expert ids and an _exps weight
    ])
    assert got == [(k, int(r)) for k, r in want], set(got) ^ {(k, int(r)) for k, r in want}
    # decoding went on: the selections are still the truth (taken from the gate records)
    assert _selections(con, result.run_id) == truth.selection_rows()
    assert rows(con, "select dst_name from records where record_id = ?", [int(base + 9)]) == [("\ufffd" * 128,)]
    assert good_l5.tolist()[:4] == rows(con, "select list(expert_id order by slot) from record_experts "
                                             "where record_id = ?", [int(down_l5)])[0][0][:4]
    assert any("anomalies:" in w for w in result.warnings)
    q = rows(con, "select expert_id_out_of_range, duplicate_expert_ids, expert_ids_disagree, unknown_op_code "
                  "from v1.trace_quality")
    assert q == [(1, 2, 2, 1)]


def test_wrong_op_table_is_detected_and_the_fitting_table_named(store, tmp_path):
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=2, seed=3)
    result = ingest(store, truth.path, model_id=store.model_id, op_table="ggml-2025-legacy")
    assert any("ggml-2026-01 fits" in w for w in result.warnings)
    assert rows(store.con, "select op_table_mismatch from v1.trace_quality") == [(1,)]
    assert rows(store.con, "select detail from anomalies where kind = 'op_table_mismatch'")[0][0].endswith(
        "(use --op-table ggml-2026-01)")
    # MUL_MAT_ID (30 in 2026-01) reads as RESHAPE in the legacy table
    assert rows(store.con, "select distinct op_name from records where op_code = ?", [MUL_MAT_ID]) == [("RESHAPE",)]


def test_trace_starting_mid_pass_keeps_its_head_as_pass_0(store, tmp_path):
    truth = generate_run(tmp_path / "t.bin", domain="chat", n_steps=3, seed=6, warmup=True)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(truth.path.read_bytes()[100 * 1024:])  # the tracer started inside the warm-up
    result = ingest(store, cut, model_id=store.model_id, experts_used=4)
    assert any("does not start a graph evaluation" in w for w in result.warnings)
    got = _passes(store.con, result.run_id)
    want = [(p.pass_id, p.token_id, p.phase, p.n_tokens, p.is_warmup, p.first_record_id - 100, p.n_records)
            for p in truth.passes]
    want[0] = (0, 0, "PROMPT", 2, True, 0, truth.passes[0].n_records - 100)
    assert got == want
    assert _selections(store.con, result.run_id) == truth.selection_rows()
