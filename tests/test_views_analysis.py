"""Every analysis view against an independent recount in plain Python/NumPy over known truth."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

import numpy as np
import pytest

from tests.views_warehouse import Run, build_truth, insert
from warehouse.db.store import open_store


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    path = tmp_path_factory.mktemp("views") / "w.duckdb"
    truth = build_truth()
    store = open_store(path)
    insert(store.con, truth)
    yield store.con, truth
    store.close()


def rows(con, sql, params=None):
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ---- the recount: the definitions in the view docs, written again in Python -----------------

def step_sets(run: Run) -> list[dict[int, dict[int, int]]]:
    """Per decode step: layer -> {expert: best rank}, duplicates counted once."""
    out = []
    for p in run.steps:
        layers = {}
        for la, experts in p.selections.items():
            best: dict[int, int] = {}
            for rank, e in enumerate(experts):
                best.setdefault(e, rank)
            layers[la] = best
        out.append(layers)
    return out


def shape(run: Run) -> tuple[int, int]:
    if run.model:
        return run.model.n_layers, run.model.n_experts
    sets = step_sets(run)
    return (max(la for s in sets for la in s) + 1,
            max(e for s in sets for la in s for e in s[la]) + 1)


def hotness(run: Run) -> dict[tuple[int, int], int]:
    n_layers, n_experts = shape(run)
    counts = {(la, e): 0 for la in range(n_layers) for e in range(n_experts)}
    for s in step_sets(run):
        for la, best in s.items():
            for e in best:
                if (la, e) in counts:
                    counts[(la, e)] += 1
    return counts


def ranks(counts: dict[int, int]) -> dict[int, int | None]:
    """Rank among the experts that fired (ties to the lower id); None for an expert that never did."""
    order = sorted((e for e in counts if counts[e]), key=lambda e: (-counts[e], e))
    return {e: order.index(e) + 1 if counts[e] else None for e in counts}


def layer_counts(run: Run, layer: int) -> dict[int, int]:
    return {e: c for (la, e), c in hotness(run).items() if la == layer}


def dense_reads(run: Run, p) -> set[str]:
    m = run.model
    names = set()
    for name in p.dense_reads:
        t = m.by_name(name)
        names.add(t.tensor_name)
    # expert biases kept whole count as dense reads (which rows were read is unknown)
    if not m.split_bias:
        names |= {f"blk.{la}.ffn_gate_exps.bias" for la in p.selections}
    return names


def slices(run: Run, p) -> set[str]:
    m = run.model
    out = set()
    for la, experts in p.selections.items():
        for e in set(experts):
            for t in m.tensors:
                if t.layer_id == la and t.expert_id == e:
                    out.add(t.tensor_name)
    return out


def step_bytes(run: Run, p) -> tuple[int, int]:
    m = run.model
    return (sum(m.by_name(n).size_bytes for n in dense_reads(run, p)),
            sum(m.by_name(n).size_bytes for n in slices(run, p)))


# ---- tests -------------------------------------------------------------------------------------

def test_decode_steps_skip_warmups_and_number_in_pass_order(wh):
    con, truth = wh
    got = defaultdict(list)
    for r in rows(con, "select * from v1.decode_steps order by run_id, step"):
        got[r["run_id"]].append((r["step"], r["pass_id"], r["token_id"]))
    for run in truth.runs.values():
        assert got[run.run_id] == [(i, p.pass_id, p.token_id) for i, p in enumerate(run.steps)]
    # run-a2 has a warm-up in the middle: its steps skip that pass id
    ids = [pid for _, pid, _ in got["run-a2"]]
    assert ids != list(range(1, len(ids) + 1))


def test_run_shape_uses_the_model_else_what_was_observed(wh):
    con, truth = wh
    got = {r["run_id"]: r for r in rows(con, "select * from v1.run_shape")}
    for run in truth.runs.values():
        g = got[run.run_id]
        assert (g["n_layers"], g["n_experts"]) == shape(run)
        assert g["shape_source"] == ("model" if run.model else "observed")
        assert g["experts_used"] == run.k and g["n_steps"] == len(run.steps)


def test_expert_hotness_full_grid_with_zeros(wh):
    con, truth = wh
    got = {(r["run_id"], r["layer_id"], r["expert_id"]): r for r in rows(con, "select * from v1.expert_hotness")}
    expected_rows = 0
    zeros = 0
    for run in truth.runs.values():
        counts = hotness(run)
        expected_rows += len(counts)
        n_layers, _ = shape(run)
        for la in range(n_layers):
            lc = {e: c for (x, e), c in counts.items() if x == la}
            total = sum(lc.values())
            rk = ranks(lc)
            for e, c in lc.items():
                g = got[(run.run_id, la, e)]
                assert g["activations"] == c
                assert g["share"] == pytest.approx(c / total)
                assert g["rank_in_layer"] == rk[e]
                zeros += c == 0
    assert len(got) == expected_rows
    assert zeros >= 3  # dead experts are present with activations 0
    # warm-up selections (every expert) are not counted: k per step in every layer
    run = truth.runs["run-a2"]
    per_layer = {r["layer_id"]: r["s"] for r in rows(
        con, "select layer_id, sum(activations) s from v1.expert_hotness where run_id = 'run-a2' group by 1")}
    assert per_layer == {la: run.k * len(run.steps) for la in range(3)}


def test_expert_hotness_by_group(wh):
    con, truth = wh
    got = {(r["group_kind"], r["group_name"], r["model_id"], r["layer_id"], r["expert_id"]): r
           for r in rows(con, "select * from v1.expert_hotness_by_group")}
    groups = defaultdict(list)
    for run in truth.runs.values():
        if not run.model:
            continue
        groups[("all", None, run.model.model_id)].append(run)
        if run.domain:
            groups[("domain", run.domain, run.model.model_id)].append(run)
        if run.experiment:
            groups[("experiment", run.experiment, run.model.model_id)].append(run)
    n = 0
    for (kind, name, model_id), members in groups.items():
        m = members[0].model
        summed = Counter()
        for run in members:
            summed.update(hotness(run))
        for la in range(m.n_layers):
            lc = {e: summed[(la, e)] for e in range(m.n_experts)}
            rk = ranks(lc)
            for e in range(m.n_experts):
                g = got[(kind, name, model_id, la, e)]
                assert g["activations"] == lc[e] and g["n_runs"] == len(members)
                assert g["share"] == pytest.approx(lc[e] / sum(lc.values()))
                assert g["rank_in_layer"] == rk[e]
                n += 1
    assert n == len(got)
    assert not any(k[2] is None for k in got)  # the run without a model is in no group


def test_layer_routing_stats(wh):
    con, truth = wh
    got = {(r["run_id"], r["layer_id"]): r for r in rows(con, "select * from v1.layer_routing_stats")}
    for run in truth.runs.values():
        n_layers, n = shape(run)
        for la in range(n_layers):
            x = np.array([layer_counts(run, la)[e] for e in range(n)], dtype=float)
            s = x.sum()
            p = x / s
            g = got[(run.run_id, la)]
            assert g["n_activations"] == s and g["experts_used"] == (x > 0).sum()
            assert g["coverage"] == pytest.approx((x > 0).sum() / n)
            assert g["chance_coverage"] == pytest.approx(1 - (1 - 1 / n) ** s)
            assert g["max_share_ratio"] == pytest.approx(p.max() * n)
            # Gini by the mean-absolute-difference definition, independent of the rank formula
            gini = np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean())
            assert g["gini"] == pytest.approx(gini)
            h = -(p[p > 0] * np.log2(p[p > 0])).sum()
            assert g["entropy_bits"] == pytest.approx(h)
            assert g["normalised_entropy"] == pytest.approx(h / math.log2(n))
            cum = np.cumsum(np.sort(x)[::-1])
            for pct in (50, 80, 90, 99):
                assert g[f"experts_for_{pct}pct"] == int(np.argmax(cum >= pct / 100 * s)) + 1


def test_expert_slice_accesses(wh):
    con, truth = wh
    got = {(r["run_id"], r["pass_id"], r["tensor_name"]) for r in rows(con, "select * from v1.expert_slice_accesses")}
    want = set()
    for run in truth.runs.values():
        if run.model:
            for p in run.steps:
                want |= {(run.run_id, p.pass_id, name) for name in slices(run, p)}
    assert got == want
    # split biases appear as slices of model-a only
    cats = dict(con.execute("select category, count(*) from v1.expert_slice_accesses where run_id = 'run-b1' "
                            "group by 1").fetchall())
    assert set(cats) == {"expert"}
    assert rows(con, "select count(*) n from v1.expert_slice_accesses where run_id = 'run-x1'")[0]["n"] == 0


def test_pass_bytes_and_run_bytes(wh):
    con, truth = wh
    got = {(r["run_id"], r["pass_id"]): r for r in rows(con, "select * from v1.pass_bytes")}
    runs_got = {r["run_id"]: r for r in rows(con, "select * from v1.run_bytes")}
    assert len(got) == sum(len(run.steps) for run in truth.runs.values())
    for run in truth.runs.values():
        if not run.model:
            assert all(got[(run.run_id, p.pass_id)]["total_bytes"] is None for p in run.steps)
            assert runs_got[run.run_id]["distinct_bytes"] is None
            continue
        totals = []
        seen: set[str] = set()
        for p in run.steps:
            dense, expert = step_bytes(run, p)
            g = got[(run.run_id, p.pass_id)]
            assert (g["dense_bytes"], g["expert_bytes"], g["total_bytes"]) == (dense, expert, dense + expert)
            assert g["model_fraction"] == pytest.approx((dense + expert) / run.model.weight_bytes)
            totals.append(dense + expert)
            seen |= dense_reads(run, p) | slices(run, p)
        r = runs_got[run.run_id]
        assert r["n_steps"] == len(totals)
        assert r["mean_step_bytes"] == pytest.approx(np.mean(totals))
        assert r["p50_step_bytes"] == pytest.approx(np.percentile(totals, 50))
        assert r["p95_step_bytes"] == pytest.approx(np.percentile(totals, 95))
        distinct = sum(run.model.by_name(n).size_bytes for n in seen)
        assert r["distinct_bytes"] == distinct
        assert r["distinct_fraction"] == pytest.approx(distinct / run.model.weight_bytes)


def test_expert_stickiness(wh):
    con, truth = wh
    got = {(r["run_id"], r["layer_id"]): r for r in rows(con, "select * from v1.expert_stickiness")}
    for run in truth.runs.values():
        sets = step_sets(run)
        n_layers, n = shape(run)
        for la in range(n_layers):
            kept = size = 0
            jac = []
            for a, b in zip(sets, sets[1:], strict=False):
                sa, sb = set(a[la]), set(b[la])
                kept += len(sa & sb)
                size += len(sa)
                jac.append(len(sa & sb) / len(sa | sb))
            g = got[(run.run_id, la)]
            assert g["n_pairs"] == len(sets) - 1
            assert g["repeat_probability"] == pytest.approx(kept / size)
            assert g["baseline"] == pytest.approx(run.k / n)
            assert g["lift"] == pytest.approx(kept / size / (run.k / n))
            assert g["mean_jaccard"] == pytest.approx(np.mean(jac))


def test_expert_transitions(wh):
    con, truth = wh
    got = {(r["run_id"], r["layer_id"], r["from_expert"], r["to_expert"]): r
           for r in rows(con, "select * from v1.expert_transitions")}
    want = Counter()
    for run in truth.runs.values():
        tops = [{la: next(e for e, rk in s[la].items() if rk == 0) for la in s} for s in step_sets(run)]
        for a, b in zip(tops, tops[1:], strict=False):
            for la in a:
                want[(run.run_id, la, a[la], b[la])] += 1
    assert {k: g["transitions"] for k, g in got.items()} == dict(want)
    leaving = Counter()
    for (run_id, la, f, _), c in want.items():
        leaving[(run_id, la, f)] += c
    for (run_id, la, f, t), g in got.items():
        assert g["probability"] == pytest.approx(want[(run_id, la, f, t)] / leaving[(run_id, la, f)])


def test_expert_coactivation(wh):
    con, truth = wh
    got = {(r["run_id"], r["layer_id"], r["expert_a"], r["expert_b"]): r
           for r in rows(con, "select * from v1.expert_coactivation")}
    n_rows = 0
    for run in truth.runs.values():
        sets = step_sets(run)
        n_layers, _ = shape(run)
        for la in range(n_layers):
            counts = layer_counts(run, la)
            active = sorted(e for e, c in counts.items() if c > 0)
            co = Counter()
            for s in sets:
                for a, b in combinations(sorted(s[la]), 2):
                    co[(a, b)] += 1
            for a, b in combinations(active, 2):
                g = got[(run.run_id, la, a, b)]
                expected = counts[a] * counts[b] / len(sets)
                assert g["co_selections"] == co[(a, b)] and g["n_steps"] == len(sets)
                assert g["expected"] == pytest.approx(expected)
                assert g["lift"] == pytest.approx(co[(a, b)] / expected)
                n_rows += 1
    assert n_rows == len(got)


def test_domain_specialisation(wh):
    con, truth = wh
    got = {(r["model_id"], r["layer_id"], r["expert_id"], r["domain"]): r
           for r in rows(con, "select * from v1.domain_specialisation")}
    labels = Counter(r["label"] for r in got.values())
    for m in truth.models.values():
        doms = sorted({r.domain for r in truth.runs.values() if r.model is m and r.domain})
        d = len(doms)
        for la in range(m.n_layers):
            shares = {}
            for dom in doms:
                summed = Counter()
                for run in truth.runs.values():
                    if run.model is m and run.domain == dom:
                        summed.update(layer_counts(run, la))
                total = sum(summed.values())
                shares[dom] = {e: summed[e] / total for e in range(m.n_experts)}
            for e in range(m.n_experts):
                vec = np.array([shares[dom][e] for dom in doms])
                if vec.sum() == 0:
                    assert all(got[(m.model_id, la, e, dom)]["label"] == "inactive" for dom in doms)
                    continue
                aff = vec / vec.sum()
                h = -(aff[aff > 0] * np.log2(aff[aff > 0])).sum()
                label = "specialist" if aff.max() >= (1 + 1 / d) / 2 else "generalist"
                for i, dom in enumerate(doms):
                    g = got[(m.model_id, la, e, dom)]
                    assert g["n_domains"] == d
                    assert g["domain_share"] == pytest.approx(shares[dom][e])
                    assert g["affinity"] == pytest.approx(aff[i])
                    assert g["entropy_bits"] == pytest.approx(h)
                    assert g["normalised_entropy"] == pytest.approx(h / math.log2(d))
                    assert g["top_affinity"] == pytest.approx(aff.max())
                    assert g["top_domain"] == doms[int(np.argmax(aff))]
                    assert g["label"] == label
    assert labels["inactive"] > 0 and labels["specialist"] > 0 and labels["generalist"] > 0
    assert len(got) == sum(
        m.n_layers * m.n_experts * len({r.domain for r in truth.runs.values() if r.model is m and r.domain})
        for m in truth.models.values())


def test_run_similarity(wh):
    con, truth = wh
    got = {(r["run_a"], r["run_b"], r["layer_id"]): r for r in rows(con, "select * from v1.run_similarity")}
    n = 0
    runs = [r for r in truth.runs.values() if r.model]
    for a, b in combinations(sorted(runs, key=lambda r: r.run_id), 2):
        if a.model is not b.model:
            continue
        for la in range(a.model.n_layers):
            x = np.array([layer_counts(a, la)[e] for e in range(a.model.n_experts)], dtype=float)
            y = np.array([layer_counts(b, la)[e] for e in range(a.model.n_experts)], dtype=float)
            p, q = x / x.sum(), y / y.sum()
            mix = (p + q) / 2
            kl = lambda u, v: sum(ui * math.log2(ui / vi) for ui, vi in zip(u, v, strict=True) if ui > 0)  # noqa: E731
            g = got[(a.run_id, b.run_id, la)]
            assert g["js_divergence"] == pytest.approx(kl(p, mix) / 2 + kl(q, mix) / 2)
            assert g["cosine"] == pytest.approx(x @ y / np.linalg.norm(x) / np.linalg.norm(y))
            assert g["model_id"] == a.model.model_id
            n += 1
    assert n == len(got)


@pytest.mark.parametrize("bucket", [None, 1000, 4096])
def test_tensor_touches_and_file_regions(wh, bucket):
    con, truth = wh
    if bucket is not None:
        con.execute("update settings set value = ? where key = 'file_region_bucket_bytes'", [str(bucket)])
    try:
        got = {(r["model_id"], r["bucket"], r["category"]): r for r in rows(con, "select * from v1.file_regions")}
        touches_got = {(r["model_id"], r["tensor_name"]): r["touches"] for r in rows(con, "select * from v1.tensor_touches")}
    finally:
        con.execute("update settings set value = '67108864' where key = 'file_region_bucket_bytes'")
    size = bucket or 64 * 2**20
    want = {}
    for m in truth.models.values():
        runs = [r for r in truth.runs.values() if r.model is m]
        touches = Counter()
        n_steps = 0
        for run in runs:
            for p in run.steps:
                n_steps += 1
                touches.update(dense_reads(run, p) | slices(run, p))
        for t in m.tensors:
            assert touches_got[(m.model_id, t.tensor_name)] == touches[t.tensor_name]
        per = defaultdict(lambda: [0, 0])
        for t in m.tensors:
            for off in range(t.offset_start, t.offset_end):  # byte by byte: slow but obviously right
                key = (m.model_id, off // size, t.category)
                per[key][0] += 1
                per[key][1] += touches[t.tensor_name]
        for key, (nbytes, touched) in per.items():
            want[key] = (nbytes, touched / n_steps)
    assert set(got) == set(want)
    for key, (nbytes, mean) in want.items():
        g = got[key]
        assert g["bytes"] == nbytes
        assert g["bucket_start"] == key[1] * size and g["bucket_end"] == (key[1] + 1) * size
        assert g["mean_touched_bytes_per_step"] == pytest.approx(mean)
        assert g["touched_fraction"] == pytest.approx(mean / nbytes)
    if bucket == 1000:
        assert len({k[1] for k in want}) > 20  # rows really span several buckets
