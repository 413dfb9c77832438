"""`moewh ingest model|layout`, `layout export`, `check layout` end to end on real GGUF files."""

from __future__ import annotations

import hashlib
import shutil
import struct
from pathlib import Path

import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType
from layout_samples import kv_fields, moe_tensors, tensor_info_fields, write_gguf, write_moe_gguf

from warehouse.db.store import open_store

N_EXPERTS = 4


@pytest.fixture
def moe(tmp_path) -> Path:
    return write_moe_gguf(tmp_path / "tiny-moe.gguf", alignment=64)


def rows(db: str, sql: str, params=None):
    with open_store(db, read_only=True) as store:
        return store.con.execute(sql, params or []).fetchall()


def snapshot(db: str) -> tuple:
    folder = Path(db).parent
    files = sorted(p.name for p in folder.iterdir() if p.name.startswith(Path(db).name))
    return files, hashlib.sha256(Path(db).read_bytes()).hexdigest()


def test_ingest_model_splits_expert_tensors(cli, db_path, moe):
    code, out, err = cli("ingest", "model", str(moe), "--name", "tiny")
    assert code == 0, err
    expected = sum(N_EXPERTS if "_exps" in name and dims[-1] == N_EXPERTS else 1 for name, _, dims in moe_tensors())
    assert f"{expected} layout rows" in out and "4 experts" in out
    reader = GGUFReader(moe)
    got = {r[0]: r[1:] for r in rows(db_path, "select tensor_name, base_name, expert_id, offset_start, size_bytes, "
                                              "n_dims, ne0, ne1, ne2, category, ggml_type, layer_id, component "
                                              "from v1.tensors")}
    assert len(got) == expected
    for t in reader.tensors:
        dims = [int(d) for d in t.shape]
        if "_exps" in t.name:
            share = t.n_bytes // N_EXPERTS
            for e in range(N_EXPERTS):
                r = got[f"{t.name}[{e}]"]
                assert r[:4] == (t.name, e, t.data_offset + e * share, share)
                assert r[4] == len(dims) - 1 and list(r[5:5 + len(dims) - 1]) == dims[:-1]
                assert r[9] == t.tensor_type.name
                assert r[8] == ("expert_bias" if t.name.endswith(".bias") else "expert")
        else:
            r = got[t.name]
            assert r[:4] == (t.name, None, t.data_offset, t.n_bytes) and r[9] == t.tensor_type.name
    assert got["blk.1.ffn_gate_inp.weight"][8:] == ("router", "F32", 1, "ffn_gate_inp")
    assert got["blk.0.attn_q.bias"][8:] == ("attention", "F32", 0, "attn_q")
    assert got["blk.1.attn_norm.weight"][8] == "norm"
    assert got["token_embd.weight"][8:] == ("embedding", "F16", None, "token_embd")
    assert got["output.weight"][8] == "output" and got["output_norm.weight"][8] == "norm"
    (model,) = rows(db_path, "select model_name, architecture, n_layers, n_experts, n_experts_used, n_vocab, "
                             "alignment, n_tensors, file_size_bytes, data_offset from v1.models")
    assert model == ("tiny", "testmoe", 2, 4, 2, 50, 64, len(moe_tensors()), moe.stat().st_size, reader.data_offset)
    code, out, _ = cli("check", "layout")
    assert code == 0 and "0 overlaps" in out and "0 gaps" in out


def test_reingest_and_renamed_copy_change_nothing(cli, db_path, moe, tmp_path):
    assert cli("ingest", "model", str(moe))[0] == 0
    before = snapshot(db_path)
    counts = rows(db_path, "select (select count(*) from models), (select count(*) from tensors), "
                           "(select count(*) from model_metadata)")
    code, out, _ = cli("ingest", "model", str(moe), "--name", "other")
    assert code == 0 and "already in the warehouse" in out and "nothing changed" in out
    copy = tmp_path / "renamed.gguf"
    shutil.copy(moe, copy)
    code, out, _ = cli("ingest", "model", str(copy))
    assert code == 0 and "already in the warehouse as 'tiny-moe.gguf'" in out
    assert rows(db_path, "select (select count(*) from models), (select count(*) from tensors), "
                         "(select count(*) from model_metadata)") == counts
    layout = tmp_path / "layout.csv"
    assert cli("layout", "export", "-o", str(layout))[0] == 0
    # the exported layout describes the model it came from: recognised, not a second model
    code, out, _ = cli("ingest", "layout", str(layout))
    assert code == 0 and "describes model" in out and "nothing changed" in out
    renamed = tmp_path / "old-name.csv"
    shutil.copy(layout, renamed)
    code, out, _ = cli("ingest", "layout", str(renamed))
    assert code == 0 and "nothing changed" in out
    assert rows(db_path, "select count(*) from models") == [(1,)]
    assert before[0] == snapshot(db_path)[0]


def test_export_round_trip_through_ingest_layout(cli, db_path, tmp_path, capsys):
    tensors = [(n, GGMLQuantizationType.Q4_K if "_exps.weight" in n else t, d if "_exps.weight" not in n
                else (256, d[1], d[2])) for n, t, d in moe_tensors()]
    path = write_gguf(tmp_path / "q4k.gguf", tensors, alignment=128, arch="testmoe",
                      metadata={"testmoe.expert_count": (N_EXPERTS, GGUFValueType.UINT32)})
    assert cli("ingest", "model", str(path), "--name", "q4k")[0] == 0
    out = tmp_path / "q4k.csv"
    code, _, err = cli("layout", "export", "--model", "q4k", "--format", "csv", "--output", str(out))
    assert code == 0, err
    code, text, _ = cli("ingest", "layout", str(out), "--name", "q4k-csv")
    assert code == 0 and "describes model" in text  # same names, offsets and sizes: the same model
    # into another warehouse, where it is a model of its own, every column compares
    from warehouse.cli import run

    other = str(tmp_path / "other.duckdb")
    assert run(["--db", other, "ingest", "layout", str(out), "--name", "q4k-csv"]) == 0
    capsys.readouterr()
    cols = "tensor_name, base_name, expert_id, layer_id, n_dims, ne0, ne1, ne2, offset_start, offset_end, size_bytes, " \
           "file_index, category"
    a = rows(db_path, f"select {cols} from v1.tensors join v1.models using (model_id) where model_name = 'q4k' "
                      "order by tensor_name")
    b = rows(other, f"select {cols} from v1.tensors join v1.models using (model_id) where model_name = 'q4k-csv' "
                    "order by tensor_name")
    assert a == b and len(a) > len(tensors)
    fact_cols = "model_name, data_offset, alignment, file_size_bytes, n_experts"
    facts = rows(db_path, f"select {fact_cols} from v1.models") + rows(other, f"select {fact_cols} from v1.models")
    assert facts[0][1:] == facts[1][1:]
    assert facts[0][2] == 128
    # stdout export equals the file
    code, printed, _ = cli("layout", "export", "-m", "q4k")
    assert printed == out.read_text()


def test_model_selection(cli, db_path, moe, tmp_path):
    other = write_gguf(tmp_path / "dense.gguf", [("w", GGMLQuantizationType.F32, (8,))])
    assert cli("ingest", "model", str(moe), "--name", "tiny")[0] == 0
    assert cli("ingest", "model", str(other), "--name", "dense")[0] == 0
    ids = dict(rows(db_path, "select model_name, model_id from models"))
    code, _, err = cli("layout", "export")
    assert code == 2 and "holds 2 models" in err and "--model" in err
    for spec in (ids["dense"], ids["dense"][:6], "dense"):
        code, out, _ = cli("layout", "export", "--model", spec)
        assert code == 0 and out.splitlines()[-1].startswith("w,")
    code, _, err = cli("check", "layout", "--model", "nope")
    assert code == 2 and "no model matches" in err
    code, out, _ = cli("check", "layout")
    assert code == 0 and out.count("ok: model") == 2


def test_empty_warehouse_and_help(cli, capsys):
    code, _, err = cli("check", "layout")
    assert code in (2, 3) and "\n" == err[-1] and err.count("\n") == 1
    from warehouse.cli import run

    for args in (["ingest", "model", "--help"], ["ingest", "layout", "--help"], ["layout", "export", "--help"],
                 ["check", "layout", "--help"]):
        assert run(args) == 0
    text = capsys.readouterr().out
    assert "NAME[e]" in text and "memory-map.json" in text and "exit 1" in text


# ---- bad input: exit 2, one line naming file and offset, database untouched ---------------------

def _bad_files(moe: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    data = moe.read_bytes()

    def patched(name, at, fmt, value):
        buf = bytearray(data)
        struct.pack_into(fmt, buf, at, value)
        p = tmp / name
        p.write_bytes(bytes(buf))
        return p

    def cut(name, n):
        p = tmp / name
        p.write_bytes(data[:n])
        return p

    text = tmp / "readme.gguf"
    text.write_text("# not a model\n")
    ti = tensor_info_fields(data, "blk.0.ffn_up_exps.weight")
    kv = kv_fields(data, "tokenizer.ggml.tokens")
    return {
        "not a GGUF": (text, "byte offset 0: not a GGUF file"),
        "truncated header": (cut("trunc.gguf", ti["type"]), f"byte offset {ti['type']}: truncated header"),
        "version": (patched("v9.gguf", 4, "<I", 9), "byte offset 4: unsupported GGUF version 9"),
        "past EOF": (cut("short.gguf", len(data) - 100), "runs past the end of the file"),
        "tensor count": (patched("count.gguf", 8, "<Q", 2**62), "byte offset 8: absurd tensor count"),
        "string length": (patched("str.gguf", kv["key"], "<Q", 2**61), f"byte offset {kv['key']}: absurd length"),
        "array length": (patched("arr.gguf", kv["value"] + 4, "<Q", 2**61),
                         f"byte offset {kv['value'] + 4}: absurd array length"),
        "ggml type": (patched("type.gguf", ti["type"], "<I", 1234),
                      f"byte offset {ti['type']}: tensor 'blk.0.ffn_up_exps.weight' has unknown ggml type 1234"),
    }


def test_bad_gguf_inputs_leave_the_database_unchanged(cli, db_path, moe, tmp_path):
    assert cli("ingest", "model", str(moe))[0] == 0
    before = snapshot(db_path)
    for case, (path, message) in _bad_files(moe, tmp_path).items():
        code, out, err = cli("ingest", "model", str(path))
        assert code == 2, case
        assert err.count("\n") == 1 and str(path) in err and "byte offset" in err, (case, err)
        assert message in err, (case, err)
        assert snapshot(db_path) == before, case
    assert rows(db_path, "select count(*) from models") == [(1,)]


def test_bad_input_does_not_create_a_database(cli, db_path, tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"GGUF\x02\x00")
    code, _, err = cli("ingest", "model", str(bad))
    assert code == 2 and "truncated header" in err
    assert not Path(db_path).exists()
    code, _, err = cli("ingest", "model", str(tmp_path / "missing.gguf"))
    assert code == 2 and "cannot open" in err


def test_bad_layout_files_leave_the_database_unchanged(cli, db_path, moe, tmp_path):
    assert cli("ingest", "model", str(moe))[0] == 0
    before = snapshot(db_path)
    broken = tmp_path / "broken.json"
    broken_text = '{"tensors": [{"name": "x", "offset_start": 1,,}]}'
    broken.write_text(broken_text)
    bad_row = tmp_path / "bad.csv"
    bad_row.write_text("GGUF file: m.gguf\ntensor_name,file_offset,size_bytes,layer_id,component_type\n"
                       "a,0,4,-1,Other\nb,four,4,-1,Other\n")
    for path, message in [(broken, f"byte offset {broken_text.index(',,') + 1}: not valid JSON"), (bad_row, "line 4: file_offset is 'four'"),
                          (moe, "use `moewh ingest model`")]:
        code, _, err = cli("ingest", "layout", str(path))
        assert code == 2 and err.count("\n") == 1 and str(path) in err and message in err, err
        assert snapshot(db_path) == before
