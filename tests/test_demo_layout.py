"""The GPT-OSS-20B replica (a 13.8 GB sparse GGUF) against the real reference layout."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from gguf import GGUFReader
from layout_samples import shared_replica

from warehouse.cli import run
from warehouse.db.store import open_store
from warehouse.demo import layout as demo_layout
from warehouse.ingest.models import ingest_gguf, ingest_layout_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
MEMORY_MAP = ROOT / "tests" / "data" / "gpt-oss-20b" / "memory-map.json"
TENSORS_CSV = ROOT / "warehouse" / "data" / "gpt-oss-20b" / "tensors.csv"
# Facts of the real file, from tests/data/gpt-oss-20b/README.md
FILE_SIZE = 13_792_639_168
DATA_OFFSET = 13_008_832
EXPERT_BYTES = 10_152_345_600


@pytest.fixture(scope="module")
def replica(tmp_path_factory) -> Path:
    return shared_replica(tmp_path_factory)


@pytest.fixture(scope="module")
def demo_db(replica, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("demo") / "warehouse.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOEWH_CACHE", str(replica.parent))
        with open_store(db) as store:
            model_id = demo_layout.ingest_replica(store)
    return db, model_id


def query(db: str, sql: str, params=None):
    with open_store(db, read_only=True) as store:
        return store.con.execute(sql, params or []).fetchall()


def reference_table() -> list[dict]:
    with open(TENSORS_CSV, newline="") as f:
        return list(csv.DictReader(f))


def test_replica_file_is_sparse_and_sized_like_the_real_one(replica):
    st = replica.stat()
    assert st.st_size == FILE_SIZE
    assert st.st_blocks * 512 < 64 * 2**20  # the 13.8 GB data section takes no disk blocks
    with open(replica, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_replica_agrees_with_gguf_reader_and_tensors_csv(replica):
    reader = GGUFReader(replica)  # the oracle; slow because it builds every vocabulary string
    assert reader.data_offset == DATA_OFFSET
    table = reference_table()
    assert len(reader.tensors) == len(table) == 459
    for t, ref in zip(reader.tensors, table, strict=False):
        assert t.name == ref["name"]
        assert t.tensor_type.name == ref["ggml_type"]
        assert t.data_offset - DATA_OFFSET == int(ref["data_offset"])
        assert t.n_bytes == int(ref["n_bytes"])
        ne = [int(d) for d in t.shape] + [1] * (3 - len(t.shape))
        assert ne == [int(ref["ne0"]), int(ref["ne1"]), int(ref["ne2"])]
    assert reader.fields["gpt-oss.expert_count"].contents() == 32
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 201_088


def test_model_facts(demo_db):
    db, model_id = demo_db
    (row,) = query(db, "select architecture, n_layers, n_experts, n_experts_used, n_embd, n_vocab, "
                       "file_size_bytes, data_offset, alignment, n_tensors, n_layout_rows, inferred, model_name "
                       "from v1.models where model_id = ?", [model_id])
    assert row == ("gpt-oss", 24, 32, 4, 2880, 201_088, FILE_SIZE, DATA_OFFSET, 32, 459, 4923, [], "gpt-oss-20b")
    meta = dict(query(db, "select key, coalesce(value, array_type || '[' || array_length || ']') "
                          "from model_metadata where model_id = ?", [model_id]))
    assert meta["tokenizer.ggml.tokens"] == "STRING[201088]"
    assert meta["gpt-oss.attention.layer_norm_rms_epsilon"] == "1e-05"


def test_offsets_and_sizes_equal_the_real_memory_map(demo_db):
    db, model_id = demo_db
    rows = {r[0]: r[1:] for r in query(
        db, "select tensor_name, offset_start, offset_end, size_bytes, expert_id, layer_id, base_name, ggml_type "
            "from v1.tensors where model_id = ?", [model_id])}
    entries = json.loads(MEMORY_MAP.read_text())["tensors"]
    assert len(entries) == 2691
    biases = [t for t in entries if "_exps.bias" in t["name"]]
    assert len(biases) == 72
    assert len(rows) == 2691 - 72 + 72 * 32 == 4923
    for t in entries:
        if t in biases:  # the old pipeline kept them whole; the warehouse splits them per expert
            parts = sorted(v for v in rows.values() if v[5] == t["name"])
            assert [p[3] for p in parts] == list(range(32))
            assert parts[0][0] == t["offset_start"] and parts[-1][1] == t["offset_end"]
            assert all(a[1] == b[0] and a[2] == 11_520 for a, b in zip(parts, parts[1:], strict=False))
            assert {p[6] for p in parts} == {"F32"}
        else:
            r = rows[t["name"]]
            assert r[:5] == (t["offset_start"], t["offset_end"], t["size_bytes"], t.get("expert_id"),
                             t["layer_id"]), t["name"]
    expert_rows = [v for v in rows.values() if v[5].endswith("_exps.weight")]
    assert len(expert_rows) == 72 * 32
    assert {v[2] for v in expert_rows} == {4_406_400} and {v[6] for v in expert_rows} == {"MXFP4"}
    (total,) = query(db, "select sum(size_bytes) from v1.tensors where model_id = ? and category = 'expert'",
                     [model_id])[0]
    assert total == EXPERT_BYTES == sum(t["size_bytes"] for t in entries if "expert_id" in t)


def test_no_overlaps_no_gaps(demo_db, capsys):
    db, model_id = demo_db
    assert query(db, "select count(*) from v1.layout_overlaps where model_id = ?", [model_id]) == [(0,)]
    assert query(db, "select count(*) from v1.layout_gaps where model_id = ?", [model_id]) == [(0,)]
    # independent recount: sorted rows tile [data_offset, file size) exactly
    spans = query(db, "select offset_start, offset_end from tensors where model_id = ? order by 1", [model_id])
    assert spans[0][0] == DATA_OFFSET and spans[-1][1] == FILE_SIZE
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert run(["--db", db, "check", "layout"]) == 0
    assert run(["--db", db, "query", "select count(*) as n from v1.tensors", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == [{"n": 4923}]


def test_file_order_is_not_layer_order(demo_db):
    db, model_id = demo_db
    rows = query(db, "select distinct file_index, base_name from v1.tensors where model_id = ? order by 1",
                 [model_id])
    names = [r[1] for r in rows]
    assert [r[0] for r in rows] == list(range(459))
    assert names == [r["name"] for r in reference_table()]
    assert all(n.endswith("_exps.weight") for n in names[:72])
    assert [n.split(".")[1] for n in names[:12:3]] == ["0", "1", "10", "11"]
    assert names.index("output.weight") < names.index("token_embd.weight") < names.index("output_norm.weight")
    assert names[-1] == "output_norm.weight"


def test_reingest_and_renamed_copy_are_no_ops(demo_db, replica, tmp_path, monkeypatch):
    db, model_id = demo_db
    before = query(db, "select count(*), sum(offset_start) from tensors")
    monkeypatch.setenv("MOEWH_CACHE", str(replica.parent))
    with open_store(db) as store:
        assert demo_layout.ingest_replica(store) == model_id
        # a renamed copy: same header bytes, same (sparse) size
        copy = tmp_path / "renamed.gguf"
        with open(replica, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read(DATA_OFFSET))
        os.truncate(copy, FILE_SIZE)
        with store.transaction() as con:
            result = ingest_gguf(con, copy, name="another name")
    assert (result.model_id, result.created, result.n_rows) == (model_id, False, 4923)
    assert query(db, "select count(*), sum(offset_start) from tensors") == before
    assert query(db, "select count(*) from models") == [(1,)]


def test_memory_map_ingest_equals_the_replica_ingest(demo_db, tmp_path):
    db, model_id = demo_db
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(db).read_bytes())
    with open_store(str(copy)) as store, store.transaction() as con:
        found = ingest_layout_file(con, MEMORY_MAP)
    assert (found.model_id, found.matched, found.created) == (model_id, True, False)  # the same model
    fresh = tmp_path / "fresh.duckdb"  # alone, it is a model of its own: every column compares
    with open_store(str(fresh)) as store, store.transaction() as con:
        mm = ingest_layout_file(con, MEMORY_MAP).model_id
    cols = "tensor_name, base_name, expert_id, layer_id, component, category, n_dims, ne0, ne1, ne2, " \
           "offset_start, offset_end, size_bytes, file_index"
    a = query(db, f"select {cols} from v1.tensors where model_id = ? order by tensor_name", [model_id])
    b = query(str(fresh), f"select {cols} from v1.tensors where model_id = ? order by tensor_name", [mm])
    assert len(a) == len(b) == 4923
    assert a == b


def test_layout_export_round_trips(demo_db, tmp_path, capsys):
    db, model_id = demo_db
    out = tmp_path / "layout.csv"
    assert run(["--db", db, "layout", "export", "--format", "csv", "--output", str(out)]) == 0
    text = out.read_text().splitlines()
    assert f"Data section starts at: {DATA_OFFSET} bytes (aligned to 32 bytes)" in text
    # the old dumper's component labels, as the old pipeline's memory-map.json recorded them
    labels = {line.split(",")[0]: line.split(",")[4] for line in text[text.index(
        "tensor_name,file_offset,size_bytes,layer_id,component_type,n_dims,dim0,dim1,dim2,dim3") + 1:]}
    for t in json.loads(MEMORY_MAP.read_text())["tensors"]:
        if "_exps.bias" not in t["name"]:
            assert labels[t["name"]] == t["component_type"], t["name"]
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(db).read_bytes())
    # beside the GGUF's model the exported layout is recognised as that model
    assert run(["--db", str(copy), "ingest", "layout", str(out)]) == 0
    assert f"describes model {model_id}" in capsys.readouterr().out
    # into an empty warehouse it is a model of its own, whose rows equal the GGUF's
    fresh = tmp_path / "fresh.duckdb"
    assert run(["--db", str(fresh), "ingest", "layout", str(out)]) == 0
    assert "inferred (not in the file): n_experts, n_layers" in capsys.readouterr().out
    cols = "tensor_name, expert_id, layer_id, n_dims, ne0, ne1, offset_start, offset_end, size_bytes, file_index"
    want = query(db, f"select {cols} from v1.tensors where model_id = ? order by tensor_name", [model_id])
    assert query(str(fresh), f"select {cols} from v1.tensors order by tensor_name") == want
    facts = query(str(fresh), "select data_offset, alignment, file_size_bytes, n_tensors from models")
    assert facts == [(DATA_OFFSET, 32, FILE_SIZE, 459)]


def test_replica_is_built_once_and_atomically(replica, tmp_path, monkeypatch):
    monkeypatch.setenv("MOEWH_CACHE", str(replica.parent))
    mtime = replica.stat().st_mtime_ns
    assert demo_layout.replica_path() == replica
    assert replica.stat().st_mtime_ns == mtime

    def broken(path, table):
        raise RuntimeError("simulated failure after the header was written")

    monkeypatch.setattr(demo_layout, "_verify", broken)
    target = tmp_path / "cache" / demo_layout.REPLICA_NAME
    target.parent.mkdir()
    with pytest.raises(RuntimeError, match="simulated"):
        demo_layout.build_replica(target)
    assert list(target.parent.iterdir()) == []  # neither the replica nor a half-written temp file
