"""Routing runs through the warehouse: every routing view against a plain-Python recount of
the fixtures' known routing (tests/data/routing/truth.json), counts-only and trace runs in
v1.token_routes, the export / re-ingest round trip, and bad input leaving the database as it was."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from gguf import GGML_QUANT_SIZES
from layout_samples import moe_metadata, moe_tensors, write_gguf

DATA = Path(__file__).parent / "data" / "routing"
T = json.loads((DATA / "truth.json").read_text())
K, L, E, P, G = T["k"], T["n_layers"], T["n_experts"], T["n_prompt"], T["n_generated"]
ARCH = "testmoe"


def sel(pos, layer):
    return T["ranking"][pos][layer][:K]


# What each ingested file routes (independent of the decoders): generated positions in step
# order, and prompt positions per layer.
RUNS = {
    "rt turn 0": dict(file="route_trace.csv", gen=range(P, P + 3),
                      prompt={layer: range(P) if layer < L - 1 else [P - 1] for layer in range(L)}, domain="chat"),
    "rt turn 1": dict(file="route_trace.csv", gen=range(P + 3, P + G), prompt={}, domain="chat"),
    "phased": dict(file="moe_trace_phased.csv", gen=range(P, P + G), prompt={x: range(P) for x in range(L)},
                   domain="code"),
    "sglang": dict(file="sglang_per_token.pt", gen=range(P, P + G), prompt={x: range(P) for x in range(L)},
                   domain="math"),
    "vllm": dict(file="vllm_response.json", gen=range(P, P + G - 1), prompt={x: range(1, P) for x in range(L)},
                 domain="code"),
    "hf": dict(file="hf_router_logits.npz", gen=range(P, P + G), prompt={x: range(P) for x in range(L)},
               domain="math", extra=["--routing", "topk-softmax", "--prompt-tokens", str(P)]),
}


def expert_bytes_and_dense():
    """Bytes of one expert's slices per layer and the dense bytes of one token, from the
    tensor specs the GGUF was written from and ggml's block sizes (not from the warehouse)."""
    per_expert, dense = 0, 0
    for name, qtype, dims in moe_tensors(n_layers=L, n_experts=E):
        block, size = GGML_QUANT_SIZES[qtype]
        row = dims[0] // block * size
        n_rows = math.prod(dims[1:])
        if "_exps" in name:
            if name.startswith("blk.0."):
                per_expert += row * n_rows // dims[-1]
        elif name == "token_embd.weight":
            dense += row  # one row of the lookup table per token
        else:
            dense += row * n_rows
    return per_expert, dense


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from warehouse.cli import run

    tmp = tmp_path_factory.mktemp("routing")
    db = str(tmp / "w.duckdb")
    gguf = write_gguf(tmp / "tiny.gguf", moe_tensors(n_layers=L, n_experts=E), arch=ARCH,
                      metadata=moe_metadata(ARCH, L, E))
    assert run(["--db", db, "ingest", "model", str(gguf), "--name", "tiny"]) == 0
    names = {"route_trace.csv": "rt"}
    done = set()
    for label, spec in RUNS.items():
        if spec["file"] in done:
            continue
        done.add(spec["file"])
        args = ["--db", db, "ingest", "routing", str(DATA / spec["file"]), "--model", "tiny", "--domain",
                spec["domain"], "--name", names.get(spec["file"], label), *spec.get("extra", [])]
        assert run(args) == 0, args
    assert run(["--db", db, "ingest", "routing", str(DATA / "sglang_stat.pt"), "--model", "tiny",
                "--name", "counts"]) == 0
    return db, gguf


def query(db, sql, params=None):
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        cur = con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def run_ids(db):
    return {r["run_name"]: r["run_id"] for r in query(db, "select run_name, run_id from v1.runs")}


def steps_of(label):
    """[ {layer: [experts by rank]} ] per decode step of a run."""
    return [{layer: sel(pos, layer) for layer in range(L)} for pos in RUNS[label]["gen"]]


def hotness(label):
    c = {(layer, e): 0 for layer in range(L) for e in range(E)}
    for s in steps_of(label):
        for layer, ids in s.items():
            for e in set(ids):
                c[(layer, e)] += 1
    return c


def test_runs_steps_and_tokens(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    assert set(RUNS) | {"counts"} <= set(ids)
    for label in RUNS:
        steps = query(db, "select step, phase from v1.decode_steps where run_id = ? order by step", [ids[label]])
        assert [s["step"] for s in steps] == list(range(len(RUNS[label]["gen"])))
        assert {s["phase"] for s in steps} == {"GENERATE"}
        shape = query(db, "select * from v1.run_shape where run_id = ?", [ids[label]])[0]
        assert (shape["n_layers"], shape["n_experts"], shape["experts_used"], shape["shape_source"]) == (L, E, K, "model")
    # token routes: every generated and prompt row of every run, as routed
    for label, spec in RUNS.items():
        got = {(r["position"], r["layer_id"], r["rank"]): r["expert_id"] for r in query(
            db, "select * from v1.token_routes where run_id = ?", [ids[label]])}
        want = {(p, layer, r): e for p in spec["gen"] for layer in range(L) for r, e in enumerate(sel(p, layer))}
        want |= {(p, layer, r): e for layer, ps in spec["prompt"].items() for p in ps
                 for r, e in enumerate(sel(p, layer))}
        assert got == want, label
    toks = query(db, "select position, token_id, phase, step from v1.tokens where run_id = ? order by position",
                 [ids["sglang"]])
    assert [(t["position"], t["token_id"]) for t in toks] == [(p, T["token_ids"][p]) for p in range(P + G)]
    assert [t["step"] for t in toks] == [None] * P + list(range(G))


def test_expert_hotness_and_counts_only(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    for label in RUNS:
        got = {(r["layer_id"], r["expert_id"]): r["activations"] for r in query(
            db, "select * from v1.expert_hotness where run_id = ?", [ids[label]])}
        assert got == hotness(label), label
    counts = {(layer, e): 0 for layer in range(L) for e in range(E)}
    for pos in range(P + G):
        for layer in range(L):
            for e in sel(pos, layer):
                counts[(layer, e)] += 1
    got = {(r["layer_id"], r["expert_id"]): r["activations"] for r in query(
        db, "select * from v1.expert_hotness where run_id = ?", [ids["counts"]])}
    assert got == counts


def test_layer_routing_stats(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    for label in RUNS:
        h = hotness(label)
        for row in query(db, "select * from v1.layer_routing_stats where run_id = ?", [ids[label]]):
            x = [h[(row["layer_id"], e)] for e in range(E)]
            s = sum(x)
            assert row["n_activations"] == s
            assert row["experts_used"] == sum(v > 0 for v in x)
            gini = sum(abs(a - b) for a in x for b in x) / (2 * E * s)
            assert row["gini"] == pytest.approx(gini)
            entropy = -sum(v / s * math.log2(v / s) for v in x if v)
            assert row["entropy_bits"] == pytest.approx(entropy)


def test_stickiness_transitions_coactivation(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    for label in RUNS:
        steps = steps_of(label)
        sticky = {r["layer_id"]: r for r in query(db, "select * from v1.expert_stickiness where run_id = ?",
                                                  [ids[label]])}
        trans = {(r["layer_id"], r["from_expert"], r["to_expert"]): r["transitions"] for r in query(
            db, "select * from v1.expert_transitions where run_id = ?", [ids[label]])}
        co = {(r["layer_id"], r["expert_a"], r["expert_b"]): r["co_selections"] for r in query(
            db, "select * from v1.expert_coactivation where run_id = ?", [ids[label]])}
        want_trans, want_co = {}, {}
        for layer in range(L):
            pairs = list(zip(steps, steps[1:], strict=False))
            kept = sum(len(set(a[layer]) & set(b[layer])) for a, b in pairs)
            assert sticky[layer]["n_pairs"] == len(pairs)
            assert sticky[layer]["repeat_probability"] == pytest.approx(kept / sum(len(set(a[layer])) for a, _ in pairs))
            jac = [len(set(a[layer]) & set(b[layer])) / len(set(a[layer]) | set(b[layer])) for a, b in pairs]
            assert sticky[layer]["mean_jaccard"] == pytest.approx(sum(jac) / len(jac))
            for a, b in pairs:
                key = (layer, a[layer][0], b[layer][0])
                want_trans[key] = want_trans.get(key, 0) + 1
            for s in steps:
                for x, y in itertools.combinations(sorted(set(s[layer])), 2):
                    want_co[(layer, x, y)] = want_co.get((layer, x, y), 0) + 1
        assert trans == want_trans, label
        assert {key: v for key, v in co.items() if v} == want_co, label


def test_bytes_are_estimated_from_the_layout(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    per_expert, dense = expert_bytes_and_dense()
    for label in RUNS:
        rows = query(db, "select * from v1.pass_bytes where run_id = ? order by step", [ids[label]])
        assert len(rows) == len(RUNS[label]["gen"])
        for row, s in zip(rows, steps_of(label), strict=True):
            assert row["bytes_basis"] == "estimated"
            assert row["dense_bytes"] == dense
            assert row["expert_bytes"] == per_expert * sum(len(set(v)) for v in s.values())
        n_slices = query(db, "select count(*) as n from v1.expert_slice_accesses where run_id = ?", [ids[label]])[0]["n"]
        assert n_slices == 4 * sum(len(set(v)) for s in steps_of(label) for v in s.values())  # gate, up, down, bias
        mean = query(db, "select mean_step_bytes from v1.run_bytes where run_id = ?", [ids[label]])[0]
        assert mean["mean_step_bytes"] == pytest.approx(sum(r["total_bytes"] for r in rows) / len(rows))


def test_prefill_experts(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    per_expert, _ = expert_bytes_and_dense()
    for label, spec in RUNS.items():
        got = {}
        for r in query(db, "select * from v1.prefill_experts where run_id = ?", [ids[label]]):
            got.setdefault(r["layer_id"], []).append(r)
        want = {layer: {e for p in ps for e in sel(p, layer)} for layer, ps in spec["prompt"].items()}
        # one batch per run here: the whole prompt, or moe-trace's single prompt evaluation
        assert {layer: len(rs) for layer, rs in got.items()} == {layer: 1 for layer in want}, label
        for layer, experts in want.items():
            r = got[layer][0]
            assert r["distinct_experts"] == len(experts)
            assert r["expert_share"] == pytest.approx(len(experts) / E)
            assert r["expert_bytes"] == per_expert * len(experts) and r["bytes_basis"] == "layout"
            assert r["n_tokens"] == len(spec["prompt"][layer])


def test_domains_groups_and_similarity(warehouse):
    db, _ = warehouse
    ids = run_ids(db)
    by_domain: dict = {}
    for label, spec in RUNS.items():
        for key, v in hotness(label).items():
            by_domain.setdefault(spec["domain"], {}).setdefault(key, 0)
            by_domain[spec["domain"]][key] += v
    got = {(r["group_name"], r["layer_id"], r["expert_id"]): r["activations"] for r in query(
        db, "select * from v1.expert_hotness_by_group where group_kind = 'domain'")}
    # the counts-only run has no domain; every domain's sum is the recount
    assert got == {(d, layer, e): v for d, c in by_domain.items() for (layer, e), v in c.items()}
    spec_rows = query(db, "select * from v1.domain_specialisation")
    assert {r["domain"] for r in spec_rows} == set(by_domain)
    sims = {(r["run_a"], r["run_b"], r["layer_id"]): r["cosine"] for r in query(db, "select * from v1.run_similarity")}
    for a, b in itertools.combinations(RUNS, 2):
        ha, hb = hotness(a), hotness(b)
        ra, rb = sorted([ids[a], ids[b]])
        if ra != ids[a]:
            ha, hb = hb, ha
        for layer in range(L):
            va = [ha[(layer, e)] for e in range(E)]
            vb = [hb[(layer, e)] for e in range(E)]
            cos = sum(x * y for x, y in zip(va, vb, strict=True)) / math.sqrt(sum(x * x for x in va) * sum(y * y for y in vb))
            assert sims[(ra, rb, layer)] == pytest.approx(cos)


def test_recorder_bytes_without_a_model(tmp_path):
    from warehouse.cli import run

    db = str(tmp_path / "w.duckdb")
    assert run(["--db", db, "ingest", "routing", str(DATA / "route_trace.csv")]) == 0
    ids = run_ids(db)
    shape = query(db, "select * from v1.run_shape where run_id = ?", [ids["route_trace turn 0"]])[0]
    assert (shape["n_layers"], shape["n_experts"], shape["shape_source"]) == (L, E, "recorder")
    layer_bytes = [1000, 2000, 3000]  # the fixture's preamble
    for label in ("rt turn 0", "rt turn 1"):
        rows = query(db, "select * from v1.pass_bytes where run_id = ? order by step",
                     [ids[label.replace("rt", "route_trace")]])
        for row, s in zip(rows, steps_of(label), strict=True):
            assert row["bytes_basis"] == "estimated" and row["dense_bytes"] == 50 + 100 + 150
            assert row["expert_bytes"] == sum(layer_bytes[layer] * len(set(v)) for layer, v in s.items())
    pre = {r["layer_id"]: r for r in query(db, "select * from v1.prefill_experts where run_id = ?",
                                           [ids["route_trace turn 0"]])}
    for layer, ps in RUNS["rt turn 0"]["prompt"].items():
        n = len({e for p in ps for e in sel(p, layer)})
        assert pre[layer]["expert_bytes"] == n * layer_bytes[layer] and pre[layer]["bytes_basis"] == "recorder"
    residency = query(db, "select recorded_residency as r, count(*) as n from v1.token_routes group by 1")
    assert {r["r"] for r in residency} == {"hit", "miss"}


def test_a_repacked_model_gets_original_ids_in_routes_and_step_selections(tmp_path):
    """A routing of a repacked model (positions as its recorder saw them) is stored in original
    expert ids, step_selections included; an id repeated within a selection is kept once at its
    best rank."""
    import random

    from gguf import GGUFValueType

    from warehouse.cli import run

    rng = random.Random(17)
    perms = [rng.sample(range(E), E) for _ in range(L)]  # position j of layer l holds perms[l][j]
    metadata = {**moe_metadata(ARCH, L, E),
                **{f"moewh.expert_permutation.{la}": (",".join(map(str, perms[la])), GGUFValueType.STRING)
                   for la in range(L)}}
    gguf = write_gguf(tmp_path / "repacked.gguf", moe_tensors(n_layers=L, n_experts=E), arch=ARCH, metadata=metadata)
    n_prompt, n_tokens = 3, 9
    lines = ["run,position,phase,layer,rank,expert,step"]
    recorded = {}
    for pos in range(n_tokens):
        gen = pos >= n_prompt
        for la in range(L):
            ids = [rng.randrange(E) for _ in range(K + 1)]
            if pos % 2:
                ids[-1] = ids[0]  # an id twice in one selection
            for rank, e in enumerate(ids):
                recorded[(pos, la, rank)] = e
                lines.append(f"r,{pos},{'generate' if gen else 'prompt'},{la},{rank},{e},{pos - n_prompt if gen else ''}")
    routes = tmp_path / "routes.csv"
    routes.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "w.duckdb")
    assert run(["--db", db, "ingest", "model", str(gguf), "--name", "rep"]) == 0
    assert run(["--db", db, "ingest", "routing", str(routes), "--model", "rep", "--experts-used", str(K + 1)]) == 0
    got = {(r["position"], r["layer_id"], r["rank"]): r["expert_id"]
           for r in query(db, "select position, layer_id, rank, expert_id from token_routes")}
    assert got == {key: perms[key[1]][e] for key, e in recorded.items()}
    best: dict = {}
    for (pos, la, rank), e in recorded.items():
        if pos >= n_prompt:
            key = (pos - n_prompt, la, perms[la][e])
            best[key] = min(best.get(key, rank), rank)
    steps = {(r["step"], r["layer_id"], r["expert_id"]): r["rank"]
             for r in query(db, "select step, layer_id, expert_id, rank from step_selections")}
    assert steps == best
    assert query(db, "select count(*) as n from step_selections")[0]["n"] == len(best)


def test_trace_runs_show_one_token_per_pass(tmp_path):
    from warehouse.db.store import open_store
    from warehouse.ingest.traces import ingest_trace
    from warehouse.synth import generate_run

    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=4, seed=3, warmup=True)
    with open_store(tmp_path / "w.duckdb") as store, store.transaction() as con:
        run_id = ingest_trace(con, tmp_path / "t.bin", experts_used=truth.k).run_id
    want, pos, step = set(), 0, 0
    for p in truth.passes:
        if p.is_warmup:
            continue
        phase = "prompt" if p.phase == "PROMPT" else "generate"
        for layer, experts in p.selections.items():
            for r, e in enumerate(experts):
                want.add((pos, phase, step if phase == "generate" else None, p.pass_id, layer, r, e))
        pos += p.n_tokens
        step += 1
    got = {(r["position"], r["phase"], r["step"], r["pass_id"], r["layer_id"], r["rank"], r["expert_id"])
           for r in query(str(tmp_path / "w.duckdb"), "select * from v1.token_routes where run_id = ?", [run_id])}
    assert got == want
    tokens = query(str(tmp_path / "w.duckdb"), "select * from v1.tokens where run_id = ? order by position", [run_id])
    assert len(tokens) == sum(not p.is_warmup for p in truth.passes)


ANALYSIS_VIEWS = ("expert_hotness", "layer_routing_stats", "expert_stickiness", "expert_transitions",
                  "expert_coactivation", "pass_bytes", "run_bytes", "prefill_experts", "token_routes", "tokens",
                  "decode_steps", "run_shape", "expert_slice_accesses", "expert_hotness_by_group",
                  "domain_specialisation", "run_similarity")


def snapshot(db, views=ANALYSIS_VIEWS, schema="v1"):
    out = {}
    for v in views:
        rows = query(db, f"select * from {schema}.{v}")
        # floats to 12 significant digits: sums may add in another order
        out[v] = sorted(tuple((k, float(f"{x:.12g}") if isinstance(x, float) else x) for k, x in r.items())
                        for r in rows)
    return out


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_and_reingest_gives_identical_analysis_rows(warehouse, tmp_path, suffix):
    from warehouse.cli import run

    db, gguf = warehouse
    out = tmp_path / f"routes{suffix}"
    assert run(["--db", db, "export", "routes", "-o", str(out)]) == 0
    fresh = str(tmp_path / "fresh.duckdb")
    assert run(["--db", fresh, "ingest", "model", str(gguf), "--name", "tiny"]) == 0
    assert run(["--db", fresh, "ingest", "routing", str(out), "--model", "tiny"]) == 0
    # a counts-only run has no token routes to export; it joins the model's groups, so bring it too
    assert run(["--db", fresh, "ingest", "routing", str(DATA / "sglang_stat.pt"), "--model", "tiny",
                "--name", "counts"]) == 0
    # domains are run metadata, not routing: set them as the original ingest did
    import duckdb

    names = {r["run_id"]: r["domain"] for r in query(db, "select run_id, domain from runs")}
    con = duckdb.connect(fresh)
    for run_id, domain in names.items():
        con.execute("update runs set domain = ? where run_id = ?", [domain, run_id])
    con.close()
    a, b = snapshot(db), snapshot(fresh)
    for v in ANALYSIS_VIEWS:
        assert a[v] == b[v], v
    # exporting the fresh warehouse again gives the same file
    again = tmp_path / f"again{suffix}"
    assert run(["--db", fresh, "export", "routes", "-o", str(again)]) == 0
    if suffix == ".csv":
        assert again.read_text() == out.read_text()


def test_bad_input_exits_2_and_leaves_the_database_unchanged(warehouse, tmp_path, capsys):
    import shutil

    from warehouse.cli import run

    db, _ = warehouse
    copy = str(tmp_path / "copy.duckdb")
    shutil.copy(db, copy)
    before = snapshot(copy, ("runs", "token_routes", "tokens", "step_selections"), "main")
    lines = (DATA / "route_trace.csv").read_text().splitlines()
    lines[20] = "0,1,6,0,0,99,0.5,1,0,0"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert run(["--db", copy, "ingest", "routing", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"moewh: error: {bad}, line 21: expert 99 outside [0, 7]"]
    # a file that decodes but names an expert the model does not have: refused, nothing kept
    lines = (DATA / "moe_trace_phased.csv").read_text().splitlines()
    lines[-1] = "decode,10,2,1,9"
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join(lines) + "\n")
    assert run(["--db", copy, "ingest", "routing", str(wide), "--model", "tiny"]) == 2
    assert "expert 9: the model has 8 experts per layer" in capsys.readouterr().err
    after = snapshot(copy, ("runs", "token_routes", "tokens", "step_selections"), "main")
    assert after == before


def test_same_routing_again_changes_nothing(warehouse, tmp_path, capsys):
    import shutil

    from warehouse.cli import run

    db, _ = warehouse
    copy = str(tmp_path / "copy.duckdb")
    shutil.copy(db, copy)
    capsys.readouterr()
    assert run(["--db", copy, "ingest", "routing", str(DATA / "moe_trace_pos.csv"), "--model", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "already ingested as run" in out  # the same routes as the phased fork variant
    assert snapshot(copy, ("runs", "token_routes"), "main") == snapshot(db, ("runs", "token_routes"), "main")


def test_capture_attaches_token_routes_to_a_traced_run(tmp_path):
    """The capture path: a run with passes gets its own token routes (every token of a batch);
    v1.token_routes shows those instead of one token per pass, decode steps stay the passes'."""
    import numpy as np

    from warehouse.db.store import open_store
    from warehouse.formats.routing.routes import GENERATE, PROMPT, Routes, Tokens
    from warehouse.ingest.routing import ingest_routes
    from warehouse.ingest.traces import ingest_trace
    from warehouse.synth import generate_run

    truth = generate_run(tmp_path / "t.bin", domain="math", n_steps=3, seed=5, warmup=False, prompt_tokens=4)
    db = tmp_path / "w.duckdb"
    with open_store(db) as store, store.transaction() as con:
        run_id = ingest_trace(con, tmp_path / "t.bin", experts_used=truth.k).run_id
    steps_before = query(str(db), "select * from v1.decode_steps where run_id = ? order by step", [run_id])
    n_tokens = 4 + 3
    pos = np.repeat(np.arange(n_tokens), 2)
    routes = Routes.from_columns(
        {"position": pos, "phase": np.where(pos >= 4, GENERATE, PROMPT), "step": np.where(pos >= 4, pos - 3, -1),
         "pass_id": np.where(pos >= 4, pos - 3, 0), "layer_id": np.zeros(len(pos)), "rank": np.tile([0, 1], n_tokens),
         "expert_id": (pos * 3 + np.tile([0, 1], n_tokens)) % 32, "weight": np.full(len(pos), 0.5)},
        "capture", tokens=Tokens(np.arange(n_tokens), 1000 + np.arange(n_tokens), (np.arange(n_tokens) >= 4) * 1,
                                 np.where(np.arange(n_tokens) >= 4, np.arange(n_tokens) - 3, -1),
                                 np.where(np.arange(n_tokens) >= 4, np.arange(n_tokens) - 3, 0),
                                 [f"t{i}" for i in range(n_tokens)]))
    with open_store(db) as store, store.transaction() as con:
        ingest_routes(con, routes, attach_to=run_id)
    got = query(str(db), "select position, rank, expert_id, weight from v1.token_routes where run_id = ? "
                         "order by position, rank", [run_id])
    assert [(r["position"], r["rank"], r["expert_id"]) for r in got] == [
        (int(p), int(r), int(e)) for p, r, e in zip(routes.position, routes.rank, routes.expert_id, strict=True)]
    assert {r["weight"] for r in got} == {0.5}
    pieces = query(str(db), "select piece from v1.tokens where run_id = ? order by position", [run_id])
    assert [p["piece"] for p in pieces] == [f"t{i}" for i in range(n_tokens)]
    assert query(str(db), "select * from v1.decode_steps where run_id = ? order by step", [run_id]) == steps_before
    assert query(str(db), "select count(*) as n from runs")[0]["n"] == 1
