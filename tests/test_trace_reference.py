"""The real GPT-OSS-20B reference trace: counts recounted from the JSON export and the layout."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON, counts, ingest, rows, store_with_layout

# Per graph evaluation, from tests/data/gpt-oss-20b/README.md ("Facts to test against").
README_OPS_PER_PASS = {
    "ADD": 240, "MUL_MAT": 121, "MUL": 73, "MUL_MAT_ID": 72, "ADD_ID": 72, "RMS_NORM": 49, "ROPE": 48,
    "SET_ROWS": 48, "GET_ROWS": 27, "FLASH_ATTN_EXT": 24, "ARGSORT": 24, "SOFT_MAX": 24, "GLU": 24, "CPY": 2,
}


@pytest.fixture(scope="module")
def entries():
    return json.loads(TOKEN_JSON.read_text())["entries"]


@pytest.fixture
def loaded(db_path):
    store, model_id = store_with_layout(db_path)
    result = ingest(store, REAL_TRACE, model_id=model_id, experts_used=4, tags={"source": "real"})
    yield store, model_id, result
    store.close()


def test_reference_trace_records_passes_and_no_selections(loaded, entries):
    store, model_id, result = loaded
    con = store.con
    assert result.created and result.n_records == 1696 == len(entries)
    assert rows(con, "select n_records, n_passes, experts_used, experts_used_source, tags['source'] from v1.runs") \
        == [(1696, 2, 4, "option", "real")]
    passes = rows(con, "select pass_id, token_id, phase, n_records, is_warmup, n_batch_tokens, t_start_ns, t_end_ns "
                       "from v1.passes order by pass_id")
    ts = [e["timestamp_ns"] for e in entries]
    assert passes == [
        (0, 0, "PROMPT", 848, True, 2, ts[0], ts[847]),
        (1, 0, "GENERATE", 848, True, 2, ts[848], ts[1695]),
    ]
    assert rows(con, "select count(*) from v1.expert_selections") == [(0,)]
    assert rows(con, "select count(*) from anomalies") == [(0,)]
    # every MoE record kept its 16 (truncated) ids
    assert rows(con, "select count(*) from record_experts") == [(288 * 16,)]


def test_reference_op_counts_match_readme(loaded):
    store, _, _ = loaded
    got = dict(rows(store.con, "select op_name, count(*) from records group by op_name"))
    assert got == {op: 2 * n for op, n in README_OPS_PER_PASS.items()}
    per_pass = rows(store.con, "select pass_id, op_name, count(*) from records group by all")
    for pass_id, op, n in per_pass:
        assert README_OPS_PER_PASS[op] == n, (pass_id, op)


def test_reference_disk_sources_all_match_the_layout(loaded, entries):
    store, _, _ = loaded
    layout = json.loads(MEMORY_MAP.read_text())["tensors"]
    starts = {}
    for t in layout:
        base = t["name"].split("[")[0]
        starts[base] = min(starts.get(base, t["offset_start"]), t["offset_start"])
    disk = [s for e in entries for s in e["sources"] if s["memory_source"] == "DISK"]
    assert len(disk) == 870
    assert all(s["disk_offset"] in set(starts.values()) for s in disk)  # the independent recount
    q = rows(store.con, "select disk_sources, unmatched_disk_sources, unknown_disk_offsets, warmup_passes, "
                        "skipped_tail_bytes, dropped_partial_bytes, hole_records, anomalies from v1.trace_quality")
    assert q == [(870, 0, 0, 2, 0, 0, 0, 0)]
    got = Counter(rows(store.con, "select name, disk_offset from sources where memory_source = 'DISK'"))
    assert got == Counter((s["name"], s["disk_offset"]) for s in disk)


def test_reference_rows_equal_the_json_export(loaded, entries):
    store, _, _ = loaded
    recs = rows(store.con, "select record_id, timestamp_ns, token_id, layer_id, thread_id, op_name, phase, "
                           "num_sources, num_experts, dst_name from records order by record_id")
    want = [(e["entry_id"], e["timestamp_ns"], e["token_id"], e["layer_id"], e["thread_id"], e["operation_type"],
             e["phase"], e["num_sources"], e["num_experts"], e["dst_name"]) for e in entries]
    assert recs == want
    srcs = rows(store.con, "select record_id, slot, name, size_bytes, layer_id, memory_source, "
                           "coalesce(disk_offset, buffer_id), tensor_ptr from sources order by record_id, slot")
    want = [(e["entry_id"], i, s["name"], s["size_bytes"], s["layer_id"], s["memory_source"],
             s.get("disk_offset", s.get("buffer_id")), int(s["tensor_ptr"], 16))
            for e in entries for i, s in enumerate(e["sources"])]
    assert srcs == want
    ids = rows(store.con, "select record_id, list(expert_id order by slot) from record_experts group by 1 order by 1")
    assert ids == [(e["entry_id"], e["expert_ids"]) for e in entries if e["expert_ids"]]


def test_json_export_and_binary_give_the_same_rows(tmp_path, entries):
    a, model_a = store_with_layout(str(tmp_path / "a.duckdb"))
    b, model_b = store_with_layout(str(tmp_path / "b.duckdb"))
    ra = ingest(a, REAL_TRACE, model_id=model_a, experts_used=4)
    rb = ingest(b, TOKEN_JSON, model_id=model_b, experts_used=4)
    assert ra.run_id == rb.run_id  # the JSON re-encodes to the same records
    assert (ra.source_format, rb.source_format) == ("trace-1024", "token-json")
    for table in ("records", "sources", "record_experts", "passes", "selections", "anomalies"):
        q = f"select * from {table} order by all"
        assert rows(a.con, q) == rows(b.con, q), table
    # and the binary's JSON re-encoding is byte-exact
    from warehouse.formats.trace.token_json import entries_to_records

    assert entries_to_records(TOKEN_JSON, entries, "ggml-2026-01").tobytes() == REAL_TRACE.read_bytes()
    # one warehouse, both inputs: one run
    assert ingest(a, TOKEN_JSON, model_id=model_a).created is False
    assert counts(a.con)["runs"] == 1
    a.close()
    b.close()


def test_without_a_model_k_cannot_be_known_and_says_so(db_path):
    from warehouse.db.store import open_store

    with open_store(db_path) as store:
        ingest(store, REAL_TRACE)
        # never inferred from the recorded 16 ids (the tracer's cap): unknown, no selections
        assert rows(store.con, "select experts_used, experts_used_source, model_id from runs") == [(None, None, None)]
        assert rows(store.con, "select unmatched_disk_sources, warmup_passes, k_unknown from v1.trace_quality") \
            == [(None, 2, False)]
        assert rows(store.con, "select count(*) from selections") == [(0,)]


def test_layout_replica_gguf_gives_k_and_matches(tmp_path):
    """The committed reference trace against a real GGUF header (the layout's own writer)."""
    pytest.importorskip("gguf")
    from trace_samples import write_moe_gguf

    from warehouse.db.store import open_store

    gguf = write_moe_gguf(tmp_path / "small.gguf")
    from warehouse.ingest.models import ingest_gguf

    with open_store(str(tmp_path / "w.duckdb")) as store:
        with store.transaction() as con:
            model_id = ingest_gguf(con, gguf).model_id
        result = ingest(store, REAL_TRACE, model_id=model_id)
        assert rows(store.con, "select experts_used, experts_used_source from runs") == [(4, "model")]
        assert rows(store.con, "select count(*) from passes where is_warmup") == [(2,)]
        # the small GGUF is not GPT-OSS-20B: its offsets match none of the trace's DISK sources
        assert rows(store.con, "select unmatched_disk_sources from v1.trace_quality") == [(870,)]
        assert result.created


def test_reference_get_rows_gathers_rows_counted_from_the_json_export(db_path, entries):
    """The embedding's GET_ROWS reads the rows its index source names (2 ids: 8 bytes), every
    other DISK read the whole tensor: recounted from the JSON export's sources."""
    store, model_id = store_with_layout(db_path)
    ingest(store, TOKEN_JSON, model_id=model_id)
    want, pass_id = {}, -1
    for e in entries:
        if e["dst_name"] == "inp_embd":
            pass_id += 1
        for slot, s in enumerate(e["sources"]):
            if s["memory_source"] != "DISK":
                continue
            key = (pass_id, s["disk_offset"])
            gather = e["operation_type"] == "GET_ROWS" and slot == 0 and len(e["sources"]) > 1
            ids = e["sources"][1]["size_bytes"] // 4 if gather else None
            if key in want:
                want[key] = None if want[key] is None or ids is None else want[key] + ids
            else:
                want[key] = ids
    got = dict(((p, o), g) for p, o, g in rows(store.con, "select pass_id, disk_offset, gathered_rows "
                                                          "from pass_disk_reads"))
    assert got == want
    assert sorted(v for v in want.values() if v is not None) == [2, 2]  # token_embd.weight, once per pass
    store.close()
