"""`moewh layout repack`: real GGUF files written with the gguf package, read back with GGUFReader.

Tiny models with random bytes (F32, F16 and quantised Q8_0 / MXFP4 expert weights) check that
every tensor's bytes arrive where the order and the permutation say; the GPT-OSS-20B replica
checks bounded memory, a sound layout and the slices' places at full size; a synthetic trace
ingested against a repacked replica maps back to the original expert ids.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFReader, GGUFWriter
from layout_samples import shared_replica

from warehouse.errors import InputError, UsageError
from warehouse.ingest.models import decode_gguf
from warehouse.layout import plan as lp
from warehouse.layout.repack import repack

N_LAYERS, N_EXPERTS = 3, 4
ROOT = Path(__file__).parent.parent


def _bytes_tensor(rng, qtype, dims):
    block, type_size = GGML_QUANT_SIZES[qtype]
    shape = (*reversed(dims[1:]), dims[0] // block * type_size)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def write_moe(path: Path, seed: int = 0, expert_type=GGMLQuantizationType.Q8_0, extra: dict | None = None) -> dict:
    """A small MoE-shaped GGUF with random bytes; returns name -> (ggml type, raw bytes array)."""
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, "gpt-oss")
    w.add_uint32("gpt-oss.block_count", N_LAYERS)
    w.add_uint32("gpt-oss.expert_count", N_EXPERTS)
    w.add_uint32("gpt-oss.expert_used_count", 2)
    w.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(50)])
    w.add_array("tokenizer.ggml.scores", [float(i) / 3 for i in range(50)])
    w.add_string("general.description", "x" * 70_000)  # longer than the layout parser keeps
    for key, value in (extra or {}).items():
        w.add_string(key, value)
    tensors = {}
    # file order like GPT-OSS: expert weights of every block first, then the rest per block
    names = []
    for la in reversed(range(N_LAYERS)):
        for comp in ("ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"):
            names.append((f"blk.{la}.{comp}.weight", expert_type, (64, 8, N_EXPERTS)))
    for la in range(N_LAYERS):
        for comp in ("ffn_down_exps", "ffn_gate_exps", "ffn_up_exps"):
            names.append((f"blk.{la}.{comp}.bias", GGMLQuantizationType.F32, (8, N_EXPERTS)))
        names += [(f"blk.{la}.ffn_gate_inp.weight", GGMLQuantizationType.F32, (64, N_EXPERTS)),
                  (f"blk.{la}.ffn_gate_inp.bias", GGMLQuantizationType.F32, (N_EXPERTS,)),
                  (f"blk.{la}.attn_q.weight", GGMLQuantizationType.F16, (64, 64))]
    names += [("output.weight", GGMLQuantizationType.F16, (64, 10)),
              ("token_embd.weight", GGMLQuantizationType.Q8_0, (64, 10))]
    for name, qtype, dims in names:
        data = _bytes_tensor(rng, qtype, dims)
        w.add_tensor(name, data, raw_dtype=qtype)
        tensors[name] = (qtype, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return tensors


def _read(path: Path):
    r = GGUFReader(path)
    tensors = {t.name: np.array(t.data).view(np.uint8).reshape(np.array(t.data).shape[0], -1) for t in r.tensors}
    fields = {f.name: f.contents() for f in r.fields.values() if not f.name.startswith("GGUF.")}
    return r, tensors, fields


def _expert_slices(arr: np.ndarray) -> np.ndarray:
    """The array split into N_EXPERTS equal byte blocks along its outermost dimension."""
    return arr.reshape(N_EXPERTS, -1)


def _random_perms(seed=3):
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(N_EXPERTS) for _ in range(N_LAYERS)])


@pytest.mark.parametrize("expert_type", [GGMLQuantizationType.Q8_0, GGMLQuantizationType.MXFP4,
                                         GGMLQuantizationType.F16])
def test_layer_order_moves_whole_tensors_byte_for_byte(tmp_path, expert_type):
    src = tmp_path / "in.gguf"
    written = write_moe(src, expert_type=expert_type)
    out = tmp_path / "out.gguf"
    result = repack(src, out, "layer")
    reader, got, fields = _read(out)
    _, orig, orig_fields = _read(src)
    assert fields == orig_fields  # metadata copied whole (long strings, arrays)
    assert set(got) == set(written)
    for name in written:
        assert np.array_equal(got[name].ravel(), orig[name].ravel()), name
        assert np.array_equal(got[name].ravel(), written[name][1].ravel()), name
    order = [t.name for t in reader.tensors]
    blocks = [int(n.split(".")[1]) for n in order if n.startswith("blk.")]
    assert blocks == sorted(blocks)  # block 0's tensors, then block 1's, ...
    assert order[0] == "token_embd.weight" and order[-1] == "output.weight"
    assert result.n_permuted == 0 and result.n_moved > 0


@pytest.mark.parametrize("order", ["hot-first", "coact"])
def test_expert_permutation_moves_slices_router_rows_and_biases(tmp_path, order):
    src = tmp_path / "in.gguf"
    write_moe(src, expert_type=GGMLQuantizationType.MXFP4)
    perms = _random_perms()
    out = tmp_path / "out.gguf"
    result = repack(src, out, order, perms)
    _, got, fields = _read(out)
    _, orig, _ = _read(src)
    for la in range(N_LAYERS):
        assert fields[f"moewh.expert_permutation.{la}"] == ",".join(map(str, perms[la]))
    n_perm = 0
    for name, arr in orig.items():
        if name.startswith("blk.") and ("_exps." in name or "ffn_gate_inp" in name):
            la = int(name.split(".")[1])
            want = _expert_slices(arr.ravel())[perms[la]]
            assert np.array_equal(_expert_slices(got[name].ravel()), want), name
            n_perm += 1
        else:
            assert np.array_equal(got[name].ravel(), arr.ravel()), name
    assert result.n_permuted == n_perm == N_LAYERS * 8


def test_repacking_a_repacked_file_composes_the_permutations(tmp_path):
    src = tmp_path / "in.gguf"
    write_moe(src)
    p1, p2 = _random_perms(1), _random_perms(2)
    repack(src, tmp_path / "a.gguf", "coact", p1)
    # p2 is in original ids: the second file must hold original expert p2[j] at position j
    repack(tmp_path / "a.gguf", tmp_path / "b.gguf", "hot-first", p2)
    _, got, fields = _read(tmp_path / "b.gguf")
    _, orig, _ = _read(src)
    for la in range(N_LAYERS):
        assert fields[f"moewh.expert_permutation.{la}"] == ",".join(map(str, p2[la]))
        name = f"blk.{la}.ffn_up_exps.weight"
        assert np.array_equal(_expert_slices(got[name].ravel()), _expert_slices(orig[name].ravel())[p2[la]])


@pytest.mark.parametrize("order", ["layer", "hot-first"])
def test_the_plan_predicts_the_repacked_layout(tmp_path, order):
    src = tmp_path / "in.gguf"
    write_moe(src)
    perms = _random_perms() if order != "layer" else None
    out = tmp_path / "out.gguf"
    repack(src, out, order, perms)
    before, after = decode_gguf(src), decode_gguf(out)
    rows = [(t["tensor_name"], t["base_name"], t["layer_id"], t["expert_id"], t["category"], t["offset_start"],
             t["size_bytes"]) for t in before.tensors]
    layout = lp.Layout.from_rows(rows, before.model["data_offset"], before.model["alignment"], N_EXPERTS)
    predicted = lp.order_offsets(layout, order, perms)
    want = {(t["base_name"], t["expert_id"]): int(p) - before.model["data_offset"]
            for t, p in zip(before.tensors, predicted, strict=True)}
    # model ingest names and numbers the repacked slices by their original experts
    got = {(t["base_name"], t["expert_id"]): t["offset_start"] - after.model["data_offset"] for t in after.tensors}
    assert got == want
    if perms is not None:
        t = next(t for t in after.tensors if t["base_name"] == "blk.1.ffn_gate_exps.weight" and t["expert_id"] == 0)
        assert t["tensor_name"] == "blk.1.ffn_gate_exps.weight[0]"
        share = t["size_bytes"]
        base = min(x["offset_start"] for x in after.tensors if x["base_name"] == t["base_name"])
        assert (t["offset_start"] - base) // share == list(perms[1]).index(0)


def test_refusals_leave_no_output(tmp_path):
    src = tmp_path / "in.gguf"
    write_moe(src)
    out = tmp_path / "out.gguf"
    with pytest.raises(UsageError, match="expert-major cannot be written: gate, up and down are separate"):
        repack(src, out, "expert-major")
    with pytest.raises(UsageError, match="repack writes layer, hot-first, coact"):
        repack(src, out, "file")
    with pytest.raises(UsageError, match="permutation is for 2 layers"):
        repack(src, out, "coact", _random_perms()[:2])
    bad = _random_perms()
    bad[1, 0] = bad[1, 1]
    with pytest.raises(UsageError, match="each expert id once"):
        repack(src, out, "coact", bad)
    with pytest.raises(UsageError, match="would overwrite the input"):
        repack(src, src, "layer")
    # a file cut short inside its tensor data: refused while streaming, nothing left behind
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(src.read_bytes()[:-3000])
    with pytest.raises(InputError):
        repack(cut, out, "layer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.gguf", "in.gguf"]


def test_a_byte_written_wrong_is_caught_and_leaves_no_output(tmp_path, monkeypatch):
    # the checksums are taken over the bytes meant for OUT; the verify reads OUT back, so one
    # byte flipped on its way into the file fails the repack
    from warehouse.layout import repack as rp

    src = tmp_path / "in.gguf"
    write_moe(src)
    real, calls = rp._write_at, []

    def flip_one_byte(fd, view, to):
        calls.append(to)
        if len(calls) == 5:
            bad = bytearray(view)
            bad[len(bad) // 2] ^= 0xFF
            view = memoryview(bad)
        real(fd, view, to)

    monkeypatch.setattr(rp, "_write_at", flip_one_byte)
    with pytest.raises(InputError, match="checksum mismatch after writing"):
        repack(src, tmp_path / "out.gguf", "coact", _random_perms())
    assert len(calls) > 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gguf"]


def test_cli_repack_and_its_errors(tmp_path, db_path, cli):
    src = tmp_path / "in.gguf"
    write_moe(src)
    out = tmp_path / "out.gguf"
    code, stdout, err = cli("layout", "repack", str(src), str(out), "--order", "layer")
    assert code == 0, err
    assert "every tensor's checksum verified" in stdout
    code, _, err = cli("layout", "repack", str(src), str(out), "--order", "layer")
    assert code == 2 and "exists; give --force" in err
    code, _, err = cli("layout", "repack", str(src), str(tmp_path / "x.gguf"), "--order", "expert-major")
    assert code == 2 and err.startswith("moewh: error: expert-major cannot be written")
    # trained orders need the model's runs in the warehouse
    code, _, err = cli("ingest", "model", str(src))
    assert code == 0, err
    code, _, err = cli("layout", "repack", str(src), str(tmp_path / "y.gguf"), "--order", "coact")
    assert code == 2 and "has no run with decode steps" in err
    assert not (tmp_path / "x.gguf").exists() and not (tmp_path / "y.gguf").exists()


# ---- the GPT-OSS-20B replica ---------------------------------------------------------------

_REPACK_CHILD = """
import sys, numpy as np
from warehouse.layout.repack import repack
perms = np.load(sys.argv[3])
repack(sys.argv[1], sys.argv[2], "coact", perms)
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


@pytest.fixture(scope="module")
def repacked_replica(tmp_path_factory):
    replica = shared_replica(tmp_path_factory)
    folder = tmp_path_factory.mktemp("repacked")
    rng = np.random.default_rng(11)
    perms = np.stack([rng.permutation(32) for _ in range(24)])
    np.save(folder / "perms.npy", perms)
    out = folder / "coact.gguf"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", _REPACK_CHILD, str(replica), str(out), str(folder / "perms.npy")],
                           capture_output=True, text=True, env=env, check=True)
    return replica, out, perms, int(child.stdout.split()[-1])


@pytest.mark.slow
def test_replica_repack_is_bounded_sound_and_places_every_slice(repacked_replica, tmp_path):
    replica, out, perms, peak_kib = repacked_replica
    # the data section is 13.8 GB; the process stays at interpreter + header + a few chunks
    assert peak_kib < 400 * 1024, peak_kib
    assert out.stat().st_size >= replica.stat().st_size
    assert out.stat().st_blocks * 512 < 256 * 2**20  # holes stay holes
    from warehouse.cli import run

    db = str(tmp_path / "w.duckdb")
    assert run(["--db", db, "ingest", "model", str(out)]) == 0
    assert run(["--db", db, "check", "layout"]) == 0
    from warehouse.db.store import open_store

    with open_store(db, read_only=True) as store:
        n_over, n_gaps = (store.con.execute(f"select count(*) from v1.{v}").fetchone()[0]
                          for v in ("layout_overlaps", "layout_gaps"))
        rows = store.con.execute("select base_name, expert_id, offset_start, size_bytes from v1.tensors "
                                 "where expert_id is not null").fetchall()
    assert (n_over, n_gaps) == (0, 0)
    start = {}
    for base, _, off, _ in rows:
        start[base] = min(off, start.get(base, off))
    for base, e, off, size in rows:
        layer = int(base.split(".")[1])
        assert (off - start[base]) // size == list(perms[layer]).index(e), (base, e)
        assert (off - start[base]) % size == 0


@pytest.mark.slow
def test_trace_of_repacked_model_maps_back_to_original_experts(repacked_replica, tmp_path):
    from warehouse.db.store import open_store
    from warehouse.ingest.models import ingest_gguf
    from warehouse.ingest.traces import ingest_trace
    from warehouse.synth import generate_run

    _, out, perms, _ = repacked_replica
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=6, seed=5, warmup=True)
    db = str(tmp_path / "w.duckdb")
    with open_store(db) as store, store.transaction() as con:
        model = ingest_gguf(con, out)
        ingest_trace(con, tmp_path / "t.bin", model_id=model.model_id)
        got = sorted(con.execute("select pass_id, layer_id, rank, expert_id from v1.expert_selections").fetchall())
        raw = con.execute("select count(*) from record_experts").fetchone()[0]
    # the tracer of the repacked model recorded position ids; the warehouse holds original ids
    want = sorted((p, la, r, int(perms[la][e])) for p, la, r, e in truth.selection_rows())
    assert got == want and raw > 0
    assert got != sorted(truth.selection_rows())
