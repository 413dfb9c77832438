"""Routing decoders against the known routing the fixture writers encoded (tests/data/routing/
truth.json; see tests/fixtures/routing/make_fixtures.py), and their refusals of bad input."""

from __future__ import annotations

import io
import json
import math
import pickle
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from warehouse.formats.routing import detect, torch_pickle
from warehouse.formats.routing.problems import RoutingInputError
from warehouse.formats.routing.routes import GENERATE, PROMPT

DATA = Path(__file__).parent / "data" / "routing"
T = json.loads((DATA / "truth.json").read_text())
K, L, P, G = T["k"], T["n_layers"], T["n_prompt"], T["n_generated"]


def sel(pos, layer):
    return T["ranking"][pos][layer][:K]


def rows(r, mask=None):
    """{(position, layer): [expert by rank]} of a decoded Routes."""
    out: dict = {}
    idx = range(len(r)) if mask is None else np.flatnonzero(mask)
    for i in idx:
        out.setdefault((int(r.position[i]), int(r.layer_id[i])), {})[int(r.rank[i])] = int(r.expert_id[i])
    return {key: [v[k] for k in sorted(v)] for key, v in out.items()}


def truth_rows(positions, layers=range(L)):
    return {(p, layer): sel(p, layer) for p in positions for layer in layers}


def test_detection_names_every_fixture():
    expected = {
        "route_trace.csv": "route-trace-v1", "moe_trace.csv": "llama-moe-trace",
        "moe_trace_phased.csv": "llama-moe-trace-phased", "moe_trace_pos.csv": "llama-moe-trace-pos",
        "sglang_per_token.pt": "sglang-expert-distribution", "sglang_stat.pt": "sglang-expert-distribution",
        "sglang_per_pass.pt": "sglang-expert-distribution",
        "sglang_counts.csv": "sglang-count-csv", "vllm_response.json": "vllm-routed-experts",
        "vllm_routes.npz": "vllm-routed-experts-npz", "vllm_single.npy": "vllm-routed-experts-npz",
        "hf_router_logits.safetensors": "hf-router-logits", "hf_router_logits.npz": "hf-router-logits",
    }
    assert {name: detect.detect(DATA / name) for name in expected} == expected


def test_ambiguity_and_unknown_are_refused(tmp_path):
    with pytest.raises(RoutingInputError, match="ambiguous: fits a and b equally; choose with --format"):
        detect.choose(tmp_path / "x", {"a": 0.6, "b": 0.6, "c": 0.2})
    assert detect.choose(tmp_path / "x", {"a": 0.6, "b": 0.9}) == "b"
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, world\n")
    with pytest.raises(RoutingInputError, match=r"notes.txt, byte offset 0: not a routing format"):
        detect.detect(bad)


def test_route_trace_turns_weights_residency_and_bytes():
    runs = detect.read(DATA / "route_trace.csv")
    assert [r.run_name for r in runs] == ["turn 0", "turn 1"]
    t0, t1 = runs
    # prefill: every layer for every prompt token except the last layer, which routes the final one
    prompt = truth_rows(range(P), range(L - 1)) | {(P - 1, L - 1): sel(P - 1, L - 1)}
    assert rows(t0, t0.phase == PROMPT) == prompt
    assert rows(t0, t0.phase == GENERATE) == truth_rows(range(P, P + 3))
    assert rows(t1) == truth_rows(range(P + 3, P + G))
    assert sorted(set(t1.step.tolist())) == [0, 1, 2]
    assert set(t0.step[t0.phase == PROMPT].tolist()) == {-1}
    for i in range(len(t0)):
        pos, layer, rank = int(t0.position[i]), int(t0.layer_id[i]), int(t0.rank[i])
        if pos == 1 and layer == 0:
            assert math.isnan(t0.weight[i])
        else:
            assert t0.weight[i] == pytest.approx(T["weights"][pos][layer][rank], rel=1e-5)
    # the writer's toy cache: hit when the previous routed token of the layer used the expert
    last: dict[int, set] = {}
    expect = []
    for pos in range(P + G):
        for layer in range(L):
            if pos < P and layer == L - 1 and pos != P - 1:
                continue
            expect += [(pos, layer, r, 1 if e in last.get(layer, set()) else 0) for r, e in enumerate(sel(pos, layer))]
            last[layer] = set(sel(pos, layer))
    got = sorted((int(a), int(b), int(c), int(d)) for r in runs for a, b, c, d in
                 zip(r.position, r.layer_id, r.rank, r.recorded_residency, strict=True))
    assert got == sorted(expect)
    assert (t0.n_layers, t0.n_experts, t0.experts_used, t0.architecture) == (L, T["n_experts"], K, "qwen3moe")
    assert t0.layer_bytes.expert_bytes.tolist() == [1000, 2000, 3000]
    assert t0.layer_bytes.dense_bytes.tolist() == [50, 100, 150]


def test_moe_trace_rebuilds_positions_and_flags_the_strided_prompt_rows():
    (r,) = detect.read(DATA / "moe_trace.csv", experts_used=K, n_layers=L)
    got = rows(r)
    assert set(got) == set(truth_rows(range(P), range(L - 1))) | {(P - 1, L - 1)} | set(truth_rows(range(P, P + G)))
    trusted = rows(r, r.trusted)
    untrusted = rows(r, ~r.trusted)
    assert set(untrusted) == set(truth_rows(range(1, P), range(L - 1)))
    # every trusted row is the true selection; the untrusted ones are the misread strided memory
    assert trusted == {key: sel(*key) for key in trusted}
    assert any(untrusted[key] != sel(*key) for key in untrusted)
    assert r.step[r.phase == GENERATE].max() == G - 1
    assert len(np.unique(r.pass_id)) == 1 + G


def test_moe_trace_needs_k_and_refuses_counts_that_do_not_fit(tmp_path):
    with pytest.raises(RoutingInputError, match="--experts-used K or --model"):
        detect.read(DATA / "moe_trace.csv")
    lines = (DATA / "moe_trace.csv").read_text().splitlines()
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # one id of the prompt's layer 0 lost
    with pytest.raises(RoutingInputError, match=r"cut.csv, line 1: layer 0 has 9 rows in this evaluation, not a "
                                                 r"multiple of k = 2"):
        detect.read(cut, experts_used=K)
    with pytest.raises(RoutingInputError, match="routes 3 MoE layers, the model has 4"):
        detect.read(DATA / "moe_trace.csv", experts_used=K, n_layers=4)
    bad = tmp_path / "bad.csv"
    bad.write_text("0,1\n0,2\n0,x\n")
    with pytest.raises(RoutingInputError, match=r"bad.csv, line 3: expert 'x' is not an integer"):
        detect.read(bad, experts_used=K)


@pytest.mark.parametrize("name", ["moe_trace_phased.csv", "moe_trace_pos.csv"])
def test_moe_trace_fork_variants(name):
    (r,) = detect.read(DATA / name)
    assert rows(r) == truth_rows(range(P + G))
    assert (r.phase == GENERATE).tolist() == (r.position >= P).tolist()
    assert (r.step[r.phase == GENERATE] == r.position[r.phase == GENERATE] - P).all()
    assert r.experts_used == K


def test_fork_variant_errors_name_the_line(tmp_path):
    text = (DATA / "moe_trace_phased.csv").read_text().splitlines()
    text[4] = text[4].replace("prefill", "warmup")
    bad = tmp_path / "p.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(RoutingInputError, match=r"p.csv, line 5: phase 'warmup' is neither prefill nor decode"):
        detect.read(bad)
    text = (DATA / "moe_trace_pos.csv").read_text().splitlines()
    dup = tmp_path / "d.csv"
    dup.write_text("\n".join(text + [text[2]]) + "\n")
    with pytest.raises(RoutingInputError, match=rf"d.csv, line {len(text) + 1}: duplicate"):
        detect.read(dup)


@pytest.mark.parametrize("restricted", [True, False])
def test_sglang_per_token_maps_physical_ids(restricted):
    if not restricted:
        pytest.importorskip("torch")
    (r,) = detect.read(DATA / "sglang_per_token.pt", force_restricted=restricted)
    assert rows(r) == truth_rows(range(P + G))
    by_pos = {int(p): int(t) for p, t in zip(r.position, r.token_id, strict=True)}
    assert by_pos == {p: T["token_ids"][p] for p in range(P + G)}
    assert (r.phase == GENERATE).tolist() == (r.position >= P).tolist()
    assert (r.n_layers, r.n_experts, r.experts_used) == (L, T["n_experts"], K)


def _counts():
    c = np.zeros((L, T["n_experts"]), int)
    for pos in range(P + G):
        for layer in range(L):
            for e in sel(pos, layer):
                c[layer, e] += 1
    return c


@pytest.mark.parametrize("name", ["sglang_stat.pt", "sglang_per_pass.pt", "sglang_counts.csv"])
def test_sglang_counts(name):
    (r,) = detect.read(DATA / name, force_restricted=True)
    assert len(r) == 0
    got = np.zeros((L, T["n_experts"]), int)
    got[r.counts.layer_id, r.counts.expert_id] = r.counts.count
    assert (got == _counts()).all()


def _torch_zip(path: Path, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")


def test_restricted_unpickler_runs_no_code(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (shutil.copy, (str(DATA / "truth.json"), str(marker)))

    evil = tmp_path / "evil.pt"
    _torch_zip(evil, pickle.dumps({"records": Evil()}, protocol=2))
    with pytest.raises(RoutingInputError, match=r"evil.pt, key archive/data.pkl: refusing the pickled global "
                                                r"shutil.copy"):
        torch_pickle.load_restricted(evil)
    assert not marker.exists()
    missing = tmp_path / "missing.pt"
    buf = io.BytesIO()
    pickle.dump({"logical_count": 1}, buf, protocol=2)
    _torch_zip(missing, buf.getvalue())
    with pytest.raises(RoutingInputError, match=r"missing.pt, key logical_count: expected a 3-D integer tensor"):
        detect.read(missing, "sglang-expert-distribution", force_restricted=True)
    notzip = tmp_path / "legacy.pt"
    notzip.write_bytes(b"\x80\x02" + b"x" * 20)
    with pytest.raises(RoutingInputError, match=r"legacy.pt, byte offset 0: not a torch zip archive"):
        torch_pickle.load_restricted(notzip)


def test_vllm_response_npz_and_single_layout():
    cached_prompt = truth_rows(range(1, P))  # position 0 was prefix-cached (-1)
    generated = truth_rows(range(P, P + G - 1))  # the last generated token is never fed back
    for r in (detect.read(DATA / "vllm_response.json")[0], detect.read(DATA / "vllm_routes.npz")[0],
              detect.read(DATA / "vllm_single.npy", prompt_tokens=P)[0]):
        assert rows(r) == cached_prompt | generated
        assert (r.step[r.phase == GENERATE] == r.position[r.phase == GENERATE] - P).all()
    (r,) = detect.read(DATA / "vllm_response.json")
    assert {int(p): int(t) for p, t in zip(r.position, r.token_id, strict=True)} == {
        p: T["token_ids"][p] for p in list(range(1, P + G - 1))}
    assert any("prefix-cached" in w for w in r.warnings)


def test_vllm_errors(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"choices": [\n {"routed_experts": [[[1, 2]], [[3]]]}\n ,]}')
    with pytest.raises(RoutingInputError, match=r"r.json, line 3: not JSON"):
        detect.read(bad, "vllm-routed-experts")
    bad.write_text('{"choices": [{"routed_experts": [[[1, 2]], [[3]]]}]}')
    with pytest.raises(RoutingInputError, match=r"r.json, key choices\[0\].routed_experts: ragged"):
        detect.read(bad)
    with pytest.raises(RoutingInputError, match="--layout single needs --prompt-tokens"):
        detect.read(DATA / "vllm_single.npy")


def _softmax(xs):
    m = max(xs)
    z = [math.exp(x - m) for x in xs]
    return [v / sum(z) for v in z]


@pytest.mark.parametrize("name", ["hf_router_logits.safetensors", "hf_router_logits.npz"])
def test_hf_router_logits_both_routings(name):
    n = P + G
    (r,) = detect.read(DATA / name, experts_used=K, routing="topk-softmax", prompt_tokens=P)
    assert rows(r) == truth_rows(range(n))
    w = {(int(a), int(b), int(c)): float(x) for a, b, c, x in zip(r.position, r.layer_id, r.rank, r.weight, strict=True)}
    assert all(w[(p, layer, k)] == pytest.approx(T["weights"][p][layer][k], rel=1e-6)
               for p in range(n) for layer in range(L) for k in range(K))
    (s,) = detect.read(DATA / name, experts_used=K, routing="softmax-topk")
    full = {(p, layer): _softmax(T["logits"][p][layer]) for p in range(n) for layer in range(L)}
    for a, b, e, x in zip(s.position, s.layer_id, s.expert_id, s.weight, strict=True):
        assert x == pytest.approx(full[(int(a), int(b))][int(e)], rel=1e-5)
    assert (s.phase == PROMPT).all()
    # renormalised softmax over the top k is the softmax of the top k logits
    (nt,) = detect.read(DATA / name, experts_used=K, routing="softmax-topk", norm_topk=True, prompt_tokens=P)
    assert np.allclose(nt.weight, r.weight, rtol=1e-6)


def test_hf_logits_already_probabilities_are_not_softmaxed_again(tmp_path):
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], np.float32)
    np.savez(tmp_path / "p.npz", layer_0=probs)
    (r,) = detect.read(tmp_path / "p.npz", experts_used=2, routing="softmax-topk")
    assert r.expert_id.tolist() == [1, 2, 0, 2]
    assert np.allclose(r.weight, [0.6, 0.3, 0.5, 0.3])


def test_safetensors_errors_name_the_key_or_offset(tmp_path):
    data = (DATA / "hf_router_logits.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    long = tmp_path / "long.safetensors"
    long.write_bytes(struct.pack("<Q", len(data)) + data[8:])
    with pytest.raises(RoutingInputError, match=r"long.safetensors, byte offset 0: header length"):
        detect.read(long, "hf-router-logits", experts_used=K, routing="topk-softmax")
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"][1] += 4
    text = json.dumps(header).encode()
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])
    with pytest.raises(RoutingInputError, match=rf"broken.safetensors, key {name}: data_offsets"):
        detect.read(broken, experts_used=K, routing="topk-softmax")
    with pytest.raises(RoutingInputError, match="--routing"):
        detect.read(DATA / "hf_router_logits.npz", experts_used=K)


def test_route_trace_errors_name_the_line(tmp_path):
    lines = (DATA / "route_trace.csv").read_text().splitlines()

    def bad(i, line, pattern):
        text = list(lines)
        text[i] = line
        p = tmp_path / "t.csv"
        p.write_text("\n".join(text) + "\n")
        with pytest.raises(RoutingInputError, match=pattern):
            detect.read(p)

    bad(9, "0,0,1,0,0,99,0.5,1,0,0", r"t.csv, line 10: expert 99 outside \[0, 7\]")
    bad(9, "0,0,1,0,0,3,heavy,1,0,0", r"t.csv, line 10: weight 'heavy' is not a number")
    bad(9, "0,0,1,0,0,3", r"t.csv, line 10: expected 10 fields")
    bad(9, lines[8], r"t.csv, line 10: duplicate \(turn, phase, step, layer, slot\)")
    bad(5, "turn,phase,step,layer,expert", r"t.csv, line 6: header lacks column\(s\) slot")
    bad(2, "# layer=zero", r"t.csv, line 3: unknown preamble line")
    bad(0, "# route_trace v2", "line 1: expected '# route_trace v1'")


def test_route_trace_columns_are_read_by_name(tmp_path):
    # columns reordered and the optional ones left out: the same routes
    import csv

    lines = (DATA / "route_trace.csv").read_text().splitlines()
    pre = [ln for ln in lines if ln.startswith("#")]
    body = list(csv.DictReader(ln for ln in lines if not ln.startswith("#")))
    cols = ["expert", "slot", "layer", "step", "phase", "turn"]
    p = tmp_path / "r.csv"
    p.write_text("\n".join(pre + [",".join(cols)] + [",".join(row[c] for c in cols) for row in body]) + "\n")
    a, b = detect.read(DATA / "route_trace.csv"), detect.read(p)
    assert [rows(x) for x in a] == [rows(x) for x in b]
    assert np.isnan(b[0].weight).all() and (b[0].recorded_residency == -1).all()


def _interchange_rows(seed=11):
    """Plain rows of two interleaved runs (run, position, phase, layer, rank, expert, weight, step),
    in shuffled order; run "b" has no step for its prompt rows, as the format says."""
    import random

    rng = random.Random(seed)
    out = []
    for run, n_tokens, n_prompt in (("b", 7, 2), ("a", 5, 3)):
        for pos in range(n_tokens):
            gen = pos >= n_prompt
            for layer in range(L):
                for rank, e in enumerate(rng.sample(range(8), K)):
                    out.append((run, pos, "generate" if gen else "prompt", layer, rank, e,
                                rng.choice([None, rng.random()]), pos - n_prompt if gen else None))
    rng.shuffle(out)
    return out


def test_interchange_parquet_reads_dictionaries_row_groups_and_other_integer_widths(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from warehouse.formats.routing import interchange

    data = _interchange_rows()
    col = list(zip(*data, strict=True))
    # run as chunks with dictionaries of their own, "b" twice in one and a value no row uses
    half = len(data) // 2
    words = (["b", "unused", "a", "b"], ["a", "b"])
    chunks = []
    for w, part in zip(words, (col[0][:half], col[0][half:]), strict=True):
        idx = [w.index(r) if i % 2 else len(w) - 1 - w[::-1].index(r) for i, r in enumerate(part)]
        chunks.append(pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(w)))
    table = pa.table({
        "run": pa.chunked_array(chunks), "position": pa.array(col[1], pa.int32()),
        "phase": pa.array(col[2]).dictionary_encode(), "layer": pa.array(col[3], pa.uint8()),
        "rank": pa.array(col[4], pa.int64()), "expert": pa.array(col[5], pa.int16()),
        "weight": pa.array(col[6], pa.float32()), "step": pa.array(col[7], pa.int64())})
    p = tmp_path / "r.parquet"
    pq.write_table(table, p, row_group_size=7)
    plain = tmp_path / "plain.parquet"
    pq.write_table(table.cast(pa.schema([(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type)
                                         for f in table.schema])), plain, row_group_size=1000)
    decoded = [interchange.from_table(p, table, None, interchange.FORMAT_PARQUET), detect.read(p),
               detect.read(plain)]
    for runs in decoded:
        assert [r.run_name for r in runs] == list(dict.fromkeys(d[0] for d in data))  # the order of first rows
        for r in runs:
            mine = [d for d in data if d[0] == r.run_name]
            by_rank: dict = {}
            for _, pos, _, layer, rank, e, _, _ in mine:
                by_rank.setdefault((pos, layer), {})[rank] = e
            assert rows(r) == {key: [v[k] for k in sorted(v)] for key, v in by_rank.items()}
            got = {(int(a), int(b), int(c)): (int(ph), int(st), float(w))
                   for a, b, c, ph, st, w in zip(r.position, r.layer_id, r.rank, r.phase, r.step, r.weight,
                                                 strict=True)}
            for _, pos, phase, layer, rank, _, w, step in mine:
                ph, st, weight = got[(pos, layer, rank)]
                assert ph == (GENERATE if phase == "generate" else PROMPT)
                assert st == (-1 if step is None else step)
                assert math.isnan(weight) if w is None else weight == float(np.float32(w))


def test_interchange_parquet_errors_name_the_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _interchange_rows()
    col = list(zip(*data, strict=True))
    names = ("run", "position", "phase", "layer", "rank", "expert", "weight", "step")

    def bad(name, values, pattern):
        cols = dict(zip(names, col, strict=True))
        cols[name] = values
        p = tmp_path / "t.parquet"
        pq.write_table(pa.table({k: pa.array(v) for k, v in cols.items()}), p, row_group_size=5)
        with pytest.raises(RoutingInputError, match=pattern):
            detect.read(p)

    at = 13
    bad("position", [v + 0.5 if i == at else float(v) for i, v in enumerate(col[1])],
        rf"t.parquet, row {at}: position is not an integer")
    # the same (run, position, layer, rank) twice: the later row is named
    twin = next(i for i in range(at + 1, len(data)) if data[i][0] == data[at][0])
    rank = list(col[4])
    same = next(i for i in range(len(data)) if data[i][:2] == data[twin][:2] and data[i][3] == data[twin][3]
                and i != twin)
    rank[twin] = rank[same]
    bad("rank", rank, rf"t.parquet, row {max(twin, same)}: duplicate \(run, position, layer, rank\)")
    bad("phase", [("decode" if i == at else v) for i, v in enumerate(col[2])],
        rf"t.parquet, row {at}: phase 'decode' is neither prompt nor generate")
    bad("layer", [(-1 if i == at else v) for i, v in enumerate(col[3])], rf"t.parquet, row {at}: negative layer")
