"""Layouts that claim more than they hold: memory follows the input, bad numbers are one line.

Each case was a runaway allocation or a traceback before: a 2 KB header that says 2^32-1
experts, offsets of 2^70, a repeated metadata key, JSON nested 200,000 deep.
"""

from __future__ import annotations

import json

import pytest
from hostile_samples import kv_str, kv_u32, kv_u64, moewh_limited, raw_gguf
from trace_samples import MEMORY_MAP, file_digest

from warehouse.db.store import open_store

F32 = 0
LIMIT = 2 << 30  # 2 GiB of address space: ample for moewh (it needs about 1.2), far from 2^32 rows


def _one_error_line(proc, *expected: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moewh: error: "), proc.stderr[-2000:]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _csv(rows: list[str], preamble: str = "") -> str:
    return preamble + "tensor_name,file_offset,size_bytes,layer_id,component_type,n_dims,dim0,dim1,dim2,dim3\n" \
        + "\n".join(rows) + "\n"


def _memory_map(tensors: list[dict], **extra) -> str:
    return json.dumps({"model_name": "m", "total_size_bytes": 1 << 20, "tensors": tensors, **extra})


@pytest.fixture
def warehouse(db_path):
    """A warehouse holding the real GPT-OSS-20B layout, so that 'unchanged' means something."""
    proc = moewh_limited(["--db", db_path, "ingest", "layout", str(MEMORY_MAP)], LIMIT)
    assert proc.returncode == 0, proc.stderr  # the limit leaves room for real work
    return db_path


def test_gguf_claiming_4_billion_experts_is_refused_within_the_memory_limit(warehouse, tmp_path):
    bad = raw_gguf(tmp_path / "experts.gguf",
                   [kv_str("general.architecture", "gpt-oss"), kv_u32("gpt-oss.expert_count", 2**32 - 1)],
                   [("blk.0.ffn_up_exps.weight", (0, 2**32 - 1), F32, 0)])
    assert bad.stat().st_size < 4096
    before = file_digest(warehouse)
    proc = moewh_limited(["--db", warehouse, "ingest", "model", str(bad)], LIMIT)
    _one_error_line(proc, str(bad), "gpt-oss.expert_count", "4294967295")
    assert file_digest(warehouse) == before


def test_gguf_split_into_zero_byte_slices_is_refused(warehouse, tmp_path):
    bad = raw_gguf(tmp_path / "zero.gguf",
                   [kv_str("general.architecture", "gpt-oss"), kv_u32("gpt-oss.expert_count", 60_000)],
                   [("blk.0.ffn_up_exps.weight", (0, 60_000), F32, 0)])
    _one_error_line(moewh_limited(["--db", warehouse, "ingest", "model", str(bad)], LIMIT),
                    "blk.0.ffn_up_exps.weight", "slices of 0 bytes")


@pytest.mark.parametrize("kind", ["memory-map", "csv"])
def test_layout_file_implying_300_million_experts_is_refused_within_the_memory_limit(warehouse, tmp_path, kind):
    if kind == "memory-map":
        bad = tmp_path / "memory-map.json"
        bad.write_text(_memory_map([{"name": "blk.0.ffn_up_exps.weight", "offset_start": 0, "offset_end": 0,
                                     "size_bytes": 0, "shape": [1, 1, 300_000_000], "layer_id": 0}]))
    else:
        bad = tmp_path / "layout.csv"
        bad.write_text(_csv(["blk.0.ffn_up_exps.weight,0,0,0,FFN,3,1,1,300000000,0"]))
    before = file_digest(warehouse)
    proc = moewh_limited(["--db", warehouse, "ingest", "layout", str(bad)], LIMIT)
    _one_error_line(proc, str(bad), "300,000,000 experts")
    assert file_digest(warehouse) == before


def _gguf_cases(tmp_path):
    arch = kv_str("general.architecture", "gpt-oss")
    tensor = [("token_embd.weight", (32, 2), F32, 0)]
    return {
        "block_count 2^31": (raw_gguf(tmp_path / "a.gguf", [arch, kv_u32("gpt-oss.block_count", 2**31)], tensor,
                                      data_bytes=256), "gpt-oss.block_count"),
        "block_count 2^64-1": (raw_gguf(tmp_path / "b.gguf", [arch, kv_u64("gpt-oss.block_count", 2**64 - 1)],
                                        tensor, data_bytes=256), "18446744073709551615"),
        "20-digit layer": (raw_gguf(tmp_path / "c.gguf", [arch], [("blk.12345678901234567890.attn_norm.weight",
                                                                   (32,), F32, 0)], data_bytes=128),
                           "layer number"),
        "repeated key": (raw_gguf(tmp_path / "d.gguf", [arch, kv_u32("gpt-oss.block_count", 2),
                                                        kv_u32("gpt-oss.block_count", 3)], tensor, data_bytes=256),
                         "'gpt-oss.block_count' appears twice"),
        "alignment 2^40": (raw_gguf(tmp_path / "e.gguf", [arch, kv_u64("general.alignment", 2**40)], tensor,
                                    data_bytes=256), "general.alignment"),
    }


@pytest.mark.parametrize("case", ["block_count 2^31", "block_count 2^64-1", "20-digit layer", "repeated key",
                                  "alignment 2^40"])
def test_gguf_numbers_out_of_range_are_one_line_naming_the_place(cli, tmp_path, db_path, case):
    path, expected = _gguf_cases(tmp_path)[case]
    code, out, err = cli("ingest", "model", str(path))
    assert code == 2, (out, err)
    assert err.startswith(f"moewh: error: {path}") and expected in err and len(err.strip().splitlines()) == 1
    if case in ("block_count 2^31", "repeated key"):
        assert "byte offset" in err  # the key's place in the file
    assert not (tmp_path / "warehouse.duckdb").exists()


BAD_LAYOUTS = {
    "csv offset 2^70": ("x.csv", _csv([f"token_embd.weight,{2**70},64,-1,EMB,2,32,2,0,0"]), "file_offset"),
    "csv size 5000 digits": ("x.csv", _csv(["token_embd.weight,0," + "9" * 5000 + ",-1,EMB,2,32,2,0,0"]),
                             "size_bytes"),
    "csv layer 20 digits": ("x.csv", _csv(["blk.12345678901234567890.attn_norm.weight,0,64,1,N,1,32,0,0,0"]),
                            "layer number"),
    "csv offset + size past 2^63": ("x.csv", _csv([f"token_embd.weight,{2**63 - 10},64,-1,EMB,2,32,2,0,0"]),
                                    "2^63"),
    "csv field beyond the csv limit": ("x.csv", _csv(['"' + "a" * 200_000 + '",0,64,-1,EMB,2,32,2,0,0']), "line"),
    "json offset 2^70": ("m.json", _memory_map([{"name": "t", "offset_start": 2**70, "offset_end": 2**70 + 4,
                                                 "size_bytes": 4}]), "offset_start"),
    "json nested 200,000 deep": ("m.json", '{"tensors": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deep"),
    "json integer of 5,000 digits": ("m.json", '{"tensors": [{"name": "t", "offset_start": ' + "7" * 5000 + "}]}",
                                     "digits"),
    "json layer 2^40": ("m.json", _memory_map([{"name": "t", "offset_start": 0, "offset_end": 4, "size_bytes": 4,
                                                "layer_id": 2**40}]), "layer_id"),
    "json expert slice 10^9": ("m.json", _memory_map([{"name": "blk.0.ffn_up_exps.weight[999999999]",
                                                       "offset_start": 0, "offset_end": 4, "size_bytes": 4}]),
                               "expert id"),
}


@pytest.mark.parametrize("case", sorted(BAD_LAYOUTS))
def test_bad_numbers_in_layout_files_are_one_line(cli, tmp_path, db_path, case):
    name, text, expected = BAD_LAYOUTS[case]
    path = tmp_path / name
    path.write_text(text)
    code, out, err = cli("ingest", "layout", str(path))
    assert code == 2, (out, err[-2000:])
    assert err.startswith(f"moewh: error: {path}") and expected in err, err[-2000:]
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_utf8_bom_is_accepted_in_layout_files(cli, db_path, tmp_path):
    plain = json.loads(MEMORY_MAP.read_text())
    path = tmp_path / "memory-map.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(plain).encode())
    code, out, err = cli("ingest", "layout", str(path))
    assert code == 0, err
    csv_path = tmp_path / "layout.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + _csv(["token_embd.weight,0,256,-1,EMB,2,32,2,0,0"]).encode())
    code, out, err = cli("ingest", "layout", str(csv_path))
    assert code == 0, err
    with open_store(db_path, read_only=True) as store:
        counts = dict(store.con.execute("select source_kind, count(*) from models group by all").fetchall())
    assert counts == {"memory-map-json": 1, "gguf-dump-csv": 1}
