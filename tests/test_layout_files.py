"""Old layout files (gguf-dump CSV, memory-map.json): decoding, splitting, overlap and gap views."""

from __future__ import annotations

import bisect
import csv
import json
from pathlib import Path

import pytest

from warehouse.cli import run
from warehouse.db.store import open_store
from warehouse.errors import InputError
from warehouse.ingest.models import decode_layout_file, ingest_layout_file

DATA = Path(__file__).parent / "data"
MEMORY_MAP = DATA / "gpt-oss-20b" / "memory-map.json"
TENSORS_CSV = Path(__file__).parent.parent / "warehouse" / "data" / "gpt-oss-20b" / "tensors.csv"
DATA_OFFSET = 13_008_832  # reference README
HEADER = "tensor_name,file_offset,size_bytes,layer_id,component_type,n_dims,dim0,dim1,dim2,dim3"
BYTES_PER_BLOCK = {"F32": (1, 4), "F16": (1, 2), "MXFP4": (32, 17)}


def reference_tensors() -> list[dict]:
    with open(TENSORS_CSV, newline="") as f:
        return [dict(r) for r in csv.DictReader(f)]


def layer_of(name: str) -> int:
    return int(name.split(".")[1]) if name.startswith("blk.") else -1


def dims_of(r: dict) -> list[int]:
    ne = [int(r["ne0"]), int(r["ne1"]), int(r["ne2"])]
    while len(ne) > 1 and ne[-1] == 1:
        ne.pop()
    return ne


def write_old_dump(path: Path, relative: bool, blind_sizes: bool, split: bool = True) -> Path:
    """A gguf-dump CSV as the old dumper builds wrote it, from the reference tensor table.

    relative: offsets inside the data section instead of absolute ones; blind_sizes: bytes =
    elements x bytes-per-block, as if every type had a block size of 1.
    """
    base = 0 if relative else DATA_OFFSET
    lines = ["GGUF file: gpt-oss-20b-F16.gguf", "Tensors: 459", "Metadata KV pairs: 37", HEADER]
    for r in reference_tensors():
        dims = dims_of(r)
        block, type_size = BYTES_PER_BLOCK[r["ggml_type"]]
        off, name, layer = base + int(r["data_offset"]), r["name"], layer_of(r["name"])
        if split and len(dims) == 3 and "_exps" in name:
            elems = dims[0] * dims[1]
            slice_size = elems * type_size if blind_sizes else elems // block * type_size
            for e in range(dims[2]):
                lines.append(f"{name}[{e}],{off + e * slice_size},{slice_size},{layer},FFN Expert {e},2,"
                             f"{dims[0]},{dims[1]},0,0")
        else:
            elems = 1
            for d in dims:
                elems *= d
            size = elems * type_size if blind_sizes else int(r["n_bytes"])
            padded = dims + [0] * (4 - len(dims))
            lines.append(f"{name},{off},{size},{layer},Other,{len(dims)},{','.join(map(str, padded))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def overlapping_pairs(rows: list[tuple[str, int, int]]) -> set[tuple[str, str]]:
    """Every pair of (name, start, end) rows whose ranges intersect, by a plain sweep."""
    rows = sorted((s, n, e) for n, s, e in rows if e > s)
    starts = [r[0] for r in rows]
    pairs = set()
    for i, (_, name, end) in enumerate(rows):
        for j in range(i + 1, bisect.bisect_left(starts, end)):
            pairs.add((name, rows[j][1]))
    return pairs


def layout_rows(db: str, model_id: str) -> dict[str, tuple]:
    with open_store(db, read_only=True) as store:
        return {r[0]: r[1:] for r in store.con.execute(
            "select tensor_name, offset_start, offset_end, size_bytes, expert_id, layer_id, base_name, n_dims, ne0, ne1 "
            "from v1.tensors where model_id = ?", [model_id]).fetchall()}


def ingest(db: str, path: Path, name: str | None = None):
    with open_store(db) as store, store.transaction() as con:
        return ingest_layout_file(con, path, name)


# ---- memory-map.json ----------------------------------------------------------------------------

def test_memory_map_offsets_and_bias_split(db_path):
    doc = json.loads(MEMORY_MAP.read_text())
    result = ingest(db_path, MEMORY_MAP)
    rows = layout_rows(db_path, result.model_id)
    entries = doc["tensors"]
    unsplit_biases = [t for t in entries if "_exps.bias" in t["name"]]
    assert len(entries) == 2691 and len(unsplit_biases) == 72
    assert result.n_rows == len(rows) == 2691 - 72 + 72 * 32
    for t in entries:
        if t in unsplit_biases:
            slices = sorted(v for k, v in rows.items() if v[5] == t["name"])
            assert len(slices) == 32
            assert [s[3] for s in slices] == list(range(32))
            assert slices[0][0] == t["offset_start"] and slices[-1][1] == t["offset_end"]
            assert all(a[1] == b[0] for a, b in zip(slices, slices[1:], strict=False))  # contiguous
            assert {s[2] for s in slices} == {t["size_bytes"] // 32}
            assert slices[0][7] == t["shape"][0] and slices[0][6] == 1  # [2880] per expert
        else:
            got = rows[t["name"]]
            assert got[:3] == (t["offset_start"], t["offset_end"], t["size_bytes"]), t["name"]
            assert got[3] == t.get("expert_id")
            assert got[4] == t["layer_id"]
    with open_store(db_path, read_only=True) as store:
        m = store.con.execute("select n_layers, n_experts, n_embd, n_vocab, file_size_bytes, data_offset, "
                              "n_tensors, inferred, source_kind from v1.models").fetchone()
        typed = store.con.execute("select count(*) from v1.tensors where ggml_type is not null").fetchone()[0]
    assert m[:7] == (24, 32, 2880, 201088, doc["total_size_bytes"], DATA_OFFSET, 459)
    assert set(m[7]) == {"n_experts", "data_offset", "alignment"}
    assert m[8] == "memory-map-json" and typed == 0  # no ggml type claimed


def test_memory_map_bad_input(tmp_path):
    for name, text, where in [
        ("broken.json", '{"tensors": [ {"name": "a", ', "byte offset"),
        ("no-tensors.json", '{"model_name": "x"}', "no \"tensors\""),
        ("mismatch.json", json.dumps({"tensors": [{"name": "a", "offset_start": 10, "offset_end": 20,
                                                   "size_bytes": 5}]}), "record 0"),
        ("negative.json", json.dumps({"tensors": [{"name": "a", "offset_start": -1, "offset_end": 4,
                                                   "size_bytes": 5}]}), "record 0"),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as info:
            decode_layout_file(path)
        assert str(path) in str(info.value) and where in str(info.value), str(info.value)


# ---- gguf-dump CSV ------------------------------------------------------------------------------

def test_old_csv_with_relative_offsets_and_blind_sizes_is_flagged(tmp_path, db_path, capsys):
    path = write_old_dump(tmp_path / "old-dump.csv", relative=True, blind_sizes=True)
    code = run(["--db", db_path, "ingest", "layout", str(path)])
    assert code == 0
    code = run(["--db", db_path, "check", "layout", "--limit", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "blk.0.ffn_down_exps.weight[1]" in out  # [1] starts where gate_exps begins
    assert "(5 rows)" in out and "more; see the full list" in out
    # the view lists exactly the pairs a plain sweep over the file's rows finds
    rows = []
    with open(path) as f:
        for line in f.read().splitlines()[4:]:
            name, off, size = line.split(",")[:3]
            off, size = int(off), int(size)
            if "_exps.bias" in name:  # [2880, 32] expert biases: stored as 32 slices
                rows += [(f"{name}[{e}]", off + e * size // 32, off + (e + 1) * size // 32) for e in range(32)]
            else:
                rows.append((name, off, off + size))
    expected = overlapping_pairs(rows)
    assert len(expected) > 1000
    with open_store(db_path, read_only=True) as store:
        got = store.con.execute("select tensor_a, tensor_b, overlap_bytes from v1.layout_overlaps").fetchall()
        first = store.con.execute("select min(offset_start), inferred from v1.tensors join v1.models "
                                  "using (model_id) group by inferred").fetchone()
    assert {(a, b) for a, b, _ in got} == expected
    assert len(got) == len(expected)
    ends = {n: (s, e) for n, s, e in rows}
    for a, b, nbytes in got[:500]:
        assert nbytes == min(ends[a][1], ends[b][1]) - max(ends[a][0], ends[b][0]) > 0
    assert first[0] == 0  # relative offsets start at 0
    assert "data_offset" in first[1]


def test_old_csv_quant_blind_sizes_alone_overlap(tmp_path, db_path):
    path = write_old_dump(tmp_path / "blind.csv", relative=False, blind_sizes=True)
    ingest(db_path, path)
    assert run(["--db", db_path, "check", "layout"]) == 1


def test_fixed_csv_matches_memory_map(tmp_path, db_path, capsys):
    path = write_old_dump(tmp_path / "fixed.csv", relative=False, blind_sizes=False)
    result = ingest(db_path, path)
    rows = layout_rows(db_path, result.model_id)
    entries = json.loads(MEMORY_MAP.read_text())["tensors"]
    for t in entries:
        if "_exps.bias" not in t["name"]:
            assert rows[t["name"]][:3] == (t["offset_start"], t["offset_end"], t["size_bytes"])
    assert run(["--db", db_path, "check", "layout"]) == 0
    assert "0 overlaps" in capsys.readouterr().out


def test_unsplit_csv_is_split_by_the_same_rule(tmp_path, db_path):
    path = write_old_dump(tmp_path / "unsplit.csv", relative=False, blind_sizes=False, split=False)
    decoded = decode_layout_file(path)
    assert decoded.model["n_experts"] == 32 and "n_experts" in decoded.model["inferred"]
    result = ingest(db_path, path)
    rows = layout_rows(db_path, result.model_id)
    entries = json.loads(MEMORY_MAP.read_text())["tensors"]
    assert len(rows) == 4923
    for t in entries:
        if "_exps.bias" not in t["name"]:
            assert rows[t["name"]][:4] == (t["offset_start"], t["offset_end"], t["size_bytes"],
                                           t.get("expert_id")), t["name"]


def test_csv_preamble_facts_and_short_variant(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(
        "GGUF file: tiny.gguf\n"
        "Data section starts at: 1024 bytes (aligned to 64 bytes)\n"
        "File size: 3000 bytes\n"
        "\n"
        "tensor_name,file_offset,size_bytes,layer_id,component_type\n"
        "token_embd.weight,1024,640,-1,Token Embeddings\n"
        "blk.0.ffn_up_exps.weight[0],1664,512,0,FFN Up Expert 0\n"
        "blk.0.ffn_up_exps.weight[1],2176,512,0,FFN Up Expert 1\n"
        "blk.2.attn_q.weight,2688,300,2,Attention Q\n"
    )
    d = decode_layout_file(path, name="tiny")
    m = d.model
    assert (m["data_offset"], m["alignment"], m["file_size_bytes"]) == (1024, 64, 3000)
    assert (m["n_experts"], m["n_layers"], m["n_tensors"]) == (2, 3, 3)
    assert set(m["inferred"]) == {"n_experts", "n_layers"}
    by_name = {r["tensor_name"]: r for r in d.tensors}
    assert by_name["blk.0.ffn_up_exps.weight[1]"]["expert_id"] == 1
    assert by_name["blk.0.ffn_up_exps.weight[1]"]["base_name"] == "blk.0.ffn_up_exps.weight"
    assert by_name["blk.0.ffn_up_exps.weight[1]"]["category"] == "expert"
    assert by_name["token_embd.weight"]["layer_id"] is None
    assert by_name["token_embd.weight"]["n_dims"] is None  # the short variant has no shape
    assert [r["file_index"] for r in d.tensors] == [0, 1, 1, 2]


@pytest.mark.parametrize("body, message", [
    ("a.weight,12x,4,-1,Other,1,4,0,0,0\n", "line 3: file_offset is '12x'"),
    ("a.weight,12,4,-1,Other,1,4,0,0\n", "line 3: 9 fields"),
    ("a.weight,12,4,-1,Other,7,4,0,0,0\n", "line 3: n_dims is 7"),
    ("a.weight,12,4,-1,Other,1,4,0,0,0\na.weight,16,4,-1,Other,1,4,0,0,0\n", "listed twice"),
    ("", "header but no tensor rows"),
])
def test_csv_bad_input(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text("preamble\n" + HEADER + "\n" + body)
    with pytest.raises(InputError) as info:
        decode_layout_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_layout_file_detection(tmp_path):
    gguf = tmp_path / "model.csv"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(16))
    with pytest.raises(InputError, match="use `moewh ingest model`"):
        decode_layout_file(gguf)
    other = tmp_path / "notes.json"
    other.write_text("name,offset\nx,1\n")
    with pytest.raises(InputError, match="neither a memory-map.json"):
        decode_layout_file(other)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("caf\xe9\n" + HEADER + "\n").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        decode_layout_file(latin)


# ---- gaps ---------------------------------------------------------------------------------------

def test_gap_view_counts_only_unexplained_holes(tmp_path, db_path):
    # data section from 1024, alignment 32 (the default a memory-map.json is assumed to have);
    # each tensor written at the next aligned offset unless noted.
    def t(name, start, size):
        return {"name": name, "offset_start": start, "offset_end": start + size, "size_bytes": size}

    tensors = [
        t("a", 1024, 100),    # ends 1124; next aligned offset 1152: 28 bytes of padding, not a gap
        t("b", 1152, 64),     # ends 1216
        t("c", 1316, 4),      # 100-byte hole 1216..1316 (not aligned either): a gap
        t("d", 1344, 32),     # 1320..1344 is padding up to an aligned offset
        t("e", 1440, 32),     # 1376..1440: 64 bytes, two alignments long: a gap
    ]
    doc = {"model_name": "gappy", "total_size_bytes": 1600, "metadata": {"n_layers": 1}, "tensors": tensors}
    path = tmp_path / "memory-map.json"
    path.write_text(json.dumps(doc))
    ingest(db_path, path)
    with open_store(db_path, read_only=True) as store:
        gaps = store.con.execute("select gap_start, gap_end, gap_bytes from v1.layout_gaps order by 1").fetchall()
        overlaps = store.con.execute("select count(*) from v1.layout_overlaps").fetchone()[0]
    # 1472..1600 is 128 bytes up to the end of the file: a gap too
    assert gaps == [(1216, 1316, 100), (1376, 1440, 64), (1472, 1600, 128)]
    assert overlaps == 0
