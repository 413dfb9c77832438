"""The GGUF layout parser against gguf.GGUFReader (the oracle), and its bad-input errors."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFValueType
from layout_samples import every_type_tensors, kv_fields, tensor_info_fields, write_gguf, write_moe_gguf

from warehouse.errors import InputError
from warehouse.formats.gguf.layout import read_gguf_layout


def assert_agrees_with_reader(path):
    ours = read_gguf_layout(path)
    reader = GGUFReader(path)
    assert ours.alignment == reader.alignment
    assert ours.data_offset == reader.data_offset
    assert [t.name for t in ours.tensors] == [t.name for t in reader.tensors]
    for mine, theirs in zip(ours.tensors, reader.tensors, strict=False):
        assert mine.ggml_type == theirs.tensor_type.name, mine.name
        assert mine.type_id == int(theirs.tensor_type)
        assert list(mine.dims) == [int(d) for d in theirs.shape], mine.name
        assert mine.size_bytes == theirs.n_bytes, mine.name
        assert mine.data_start == theirs.data_offset, mine.name
        # and the bytes there are the tensor's own: the reader's view ends where ours does
        assert mine.data_start + mine.size_bytes == theirs.data_offset + theirs.data.nbytes
    fields = {k: f for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert [m.key for m in ours.metadata] == list(fields)
    for m in ours.metadata:
        f = fields[m.key]
        assert m.value_type == GGUFValueType(f.types[0]).name
        if m.value_type == "ARRAY":
            assert m.array_type == GGUFValueType(f.types[-1]).name
            assert m.array_length == len(f.data)
        elif m.value_type == "STRING":
            assert m.value == f.contents()
            assert m.value_length == len(f.contents().encode())
        elif m.value_type in ("FLOAT32", "FLOAT64"):
            assert np.isclose(m.value, f.contents())
        else:
            assert m.value == f.contents()
    return ours, reader


def test_covers_every_type_the_gguf_package_knows(tmp_path):
    tensors = every_type_tensors()
    assert {t[1] for t in tensors} == set(GGML_QUANT_SIZES)
    ours, _ = assert_agrees_with_reader(write_gguf(tmp_path / "all.gguf", tensors))
    assert len(ours.tensors) == len(GGML_QUANT_SIZES)
    assert {len(t.dims) for t in ours.tensors} == {1, 2, 3, 4}


@pytest.mark.parametrize("alignment", [8, 64, 256, 4096])
def test_non_default_alignment(tmp_path, alignment):
    ours, reader = assert_agrees_with_reader(write_gguf(tmp_path / "a.gguf", every_type_tensors(seed=alignment),
                                                        alignment=alignment))
    assert ours.alignment == alignment
    assert ours.data_offset % alignment == 0
    assert all(t.offset % alignment == 0 for t in ours.tensors)
    # sizes that are not multiples of the alignment are padded, never overlapped
    ends = sorted((t.data_start, t.data_end) for t in ours.tensors)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(ends, ends[1:], strict=False))


def test_metadata_scalars_and_arrays(tmp_path):
    meta = {
        "x.u8": (200, GGUFValueType.UINT8), "x.i8": (-5, GGUFValueType.INT8),
        "x.u16": (60000, GGUFValueType.UINT16), "x.i16": (-300, GGUFValueType.INT16),
        "x.u32": (4_000_000_000, GGUFValueType.UINT32), "x.i32": (-7, GGUFValueType.INT32),
        "x.f32": (0.5, GGUFValueType.FLOAT32), "x.bool": (True, GGUFValueType.BOOL),
        "x.u64": (2**63 + 5, GGUFValueType.UINT64), "x.i64": (-(2**40), GGUFValueType.INT64),
        "x.f64": (1e-300, GGUFValueType.FLOAT64), "x.str": ("héllo wörld", GGUFValueType.STRING),
        "x.strs": (["a", "", "ccc" * 100], GGUFValueType.ARRAY),
        "x.ints": ([1, 2, 3, 4, 5], GGUFValueType.ARRAY),
        "x.floats": ([1.5, 2.5], GGUFValueType.ARRAY),
    }
    path = write_gguf(tmp_path / "m.gguf", [("w", GGMLQuantizationType.F32, (4,))], metadata=meta)
    ours, _ = assert_agrees_with_reader(path)
    by_key = {m.key: m for m in ours.metadata}
    assert by_key["x.strs"].array_type == "STRING" and by_key["x.strs"].array_length == 3
    assert by_key["x.u64"].value == 2**63 + 5


def test_moe_model_facts(tmp_path):
    ours, _ = assert_agrees_with_reader(write_moe_gguf(tmp_path / "moe.gguf"))
    assert ours.architecture == "testmoe"
    assert ours.arch_int("expert_count") == 4
    assert ours.arch_int("block_count") == 2
    assert ours.n_vocab == 50  # no vocab_size key: the length of tokenizer.ggml.tokens


def test_fingerprint_covers_header_only(tmp_path):
    a = write_moe_gguf(tmp_path / "a.gguf", fill=0)
    b = write_moe_gguf(tmp_path / "b.gguf", fill=7)
    assert a.read_bytes() != b.read_bytes()
    la, lb = read_gguf_layout(a), read_gguf_layout(b)
    assert la.fingerprint == lb.fingerprint  # same header, different weights
    c = write_gguf(tmp_path / "c.gguf", every_type_tensors())
    assert read_gguf_layout(c).fingerprint != la.fingerprint
    import hashlib
    data = a.read_bytes()
    assert la.fingerprint == hashlib.sha256(data[:la.header_end]).hexdigest()
    assert la.header_end <= la.data_offset < la.header_end + la.alignment


# ---- bad input: every case names the file and the byte offset of the fault --------------------

def _error(path) -> InputError:
    with pytest.raises(InputError) as info:
        read_gguf_layout(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    return info.value


@pytest.fixture
def good(tmp_path):
    path = write_moe_gguf(tmp_path / "good.gguf")
    return path, path.read_bytes()


def _patched(tmp_path, data: bytes, at: int, fmt: str, value) -> str:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, at, value)
    out = tmp_path / "bad.gguf"
    out.write_bytes(bytes(buf))
    return out


def test_not_a_gguf(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("tensor_name,file_offset\nthis is not a model\n")
    err = _error(p)
    assert err.offset == 0 and "not a GGUF" in str(err)
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    assert _error(empty).offset == 0


@pytest.mark.parametrize("cut", [6, 20, 30, 200])
def test_truncated_header(tmp_path, good, cut):
    path, data = good
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[:cut])
    err = _error(p)
    assert "truncated" in str(err) or "absurd" in str(err)
    assert err.offset is not None and err.offset <= cut


def test_truncated_inside_tensor_infos(tmp_path, good):
    path, data = good
    f = tensor_info_fields(data, "output.weight")
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[:f["type"] + 2])
    err = _error(p)
    assert "truncated header" in str(err) and "output.weight" in str(err)
    assert err.offset == f["type"]


@pytest.mark.parametrize("version", [1, 4, 0x03000000])
def test_unsupported_version(tmp_path, good, version):
    _, data = good
    err = _error(_patched(tmp_path, data, 4, "<I", version))
    assert err.offset == 4 and f"unsupported GGUF version {version}" in str(err)


def test_tensor_data_past_end_of_file(tmp_path, good):
    path, data = good
    ours = read_gguf_layout(path)
    last = max(ours.tensors, key=lambda t: t.data_end)
    p = tmp_path / "short.gguf"
    p.write_bytes(data[:last.data_start + 10])
    err = _error(p)
    assert last.name in str(err) and "past the end" in str(err)
    assert err.offset == last.data_start


def test_absurd_counts(tmp_path, good):
    _, data = good
    err = _error(_patched(tmp_path, data, 8, "<Q", 2**60))
    assert err.offset == 8 and "absurd tensor count" in str(err)
    err = _error(_patched(tmp_path, data, 16, "<Q", 2**40))
    assert err.offset == 16 and "absurd metadata count" in str(err)


def test_absurd_string_lengths(tmp_path, good):
    _, data = good
    first_key = 24  # header: magic, version, two u64 counts
    err = _error(_patched(tmp_path, data, first_key, "<Q", 2**50))
    assert err.offset == first_key and "absurd length" in str(err)
    f = tensor_info_fields(data, "blk.1.attn_q.weight")
    err = _error(_patched(tmp_path, data, f["name"], "<Q", len(data)))
    assert err.offset == f["name"] and "absurd length" in str(err)


def test_absurd_array_length_and_string_inside_array(tmp_path, good):
    _, data = good
    f = kv_fields(data, "tokenizer.ggml.tokens")
    length_at = f["value"] + 4  # element type, then the u64 count
    err = _error(_patched(tmp_path, data, length_at, "<Q", 2**58))
    assert err.offset == length_at and "absurd array length" in str(err)
    first_string_at = length_at + 8
    err = _error(_patched(tmp_path, data, first_string_at, "<Q", 2**45))
    assert err.offset == first_string_at and "tokenizer.ggml.tokens" in str(err)


def test_unknown_value_type(tmp_path, good):
    _, data = good
    f = kv_fields(data, "testmoe.block_count")
    err = _error(_patched(tmp_path, data, f["type"], "<I", 77))
    assert err.offset == f["type"] and "unknown GGUF value type 77" in str(err)


def test_unknown_ggml_type_names_the_tensor(tmp_path, good):
    _, data = good
    f = tensor_info_fields(data, "blk.0.ffn_up_exps.weight")
    err = _error(_patched(tmp_path, data, f["type"], "<I", 99))
    assert err.offset == f["type"]
    assert re.search(r"'blk\.0\.ffn_up_exps\.weight' has unknown ggml type 99", str(err))


def test_too_many_dimensions(tmp_path, good):
    _, data = good
    f = tensor_info_fields(data, "blk.0.attn_norm.weight")
    err = _error(_patched(tmp_path, data, f["n_dims"], "<I", 5))
    assert err.offset == f["n_dims"] and "5 dimensions" in str(err)


def test_row_not_a_whole_number_of_blocks(tmp_path, good):
    _, data = good
    f = tensor_info_fields(data, "blk.0.ffn_down_exps.weight")  # Q4_0, block size 32
    err = _error(_patched(tmp_path, data, f["ne0"], "<Q", 95))
    assert "blk.0.ffn_down_exps.weight" in str(err) and "block size 32" in str(err)


def test_misaligned_tensor_offset(tmp_path, good):
    _, data = good
    f = tensor_info_fields(data, "output.weight")
    (offset,) = struct.unpack_from("<Q", data, f["offset"])
    err = _error(_patched(tmp_path, data, f["offset"], "<Q", offset + 4))
    assert err.offset == f["offset"] and "alignment" in str(err)


def test_bad_alignment_value(tmp_path):
    path = write_gguf(tmp_path / "x.gguf", [("w", GGMLQuantizationType.F32, (4,))], alignment=64)
    data = path.read_bytes()
    f = kv_fields(data, "general.alignment")
    err = _error(_patched(tmp_path, data, f["value"], "<I", 48))
    assert err.offset == f["key"] and "not a power of two" in str(err)
