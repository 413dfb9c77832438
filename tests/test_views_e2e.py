"""End to end: synthetic GPT-OSS traces through the real trace ingest, views against the generator's truth.

The layout is the old pipeline's memory-map.json (expert weights split, biases whole; the
warehouse splits the biases too), read here a second time as plain JSON for the byte recount.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from trace_samples import MEMORY_MAP, ingest, store_with_layout

from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.synth import generate_run


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    store, model_id = store_with_layout(str(tmp / "w.duckdb"))
    truths = {}
    for domain, seed, steps in (("code", 1, 14), ("math", 2, 9)):
        truth = generate_run(tmp / f"{domain}.bin", domain=domain, n_steps=steps, seed=seed, warmup=True)
        result = ingest(store, tmp / f"{domain}.bin", model_id=model_id, domain=domain)
        truths[result.run_id] = truth
    yield store.con, truths
    store.close()


def steps_of(truth):
    return [p for p in truth.passes if not p.is_warmup]


def test_hotness_equals_the_generated_selections(wh):
    con, truths = wh
    for run_id, truth in truths.items():
        got = {(la, e): (a, rk) for la, e, a, rk in con.execute(
            "select layer_id, expert_id, activations, rank_in_layer from v1.expert_hotness where run_id = ?",
            [run_id]).fetchall()}
        assert len(got) == truth.n_layers * truth.n_experts
        counts = Counter()
        for p in steps_of(truth):
            for la, ids in p.selections.items():
                counts.update((la, e) for e in set(ids))
        assert {k: v[0] for k, v in got.items()} == {(la, e): counts[(la, e)]
                                                       for la in range(truth.n_layers) for e in range(truth.n_experts)}
        assert any(v[0] == 0 for v in got.values())  # some experts never fire in a short run
        steps = con.execute("select count(*) from v1.decode_steps where run_id = ?", [run_id]).fetchone()[0]
        assert steps == len(steps_of(truth)) and steps < len(truth.passes)  # the warm-up is not a step


# GET_ROWS in the op table of the 1024-byte tracer (trace-format spec, section 5).
GET_ROWS = 40


def recount_dense_reads(records, by_offset, expert_bias) -> dict[int, int]:
    """Bytes of each non-expert tensor one pass's records read, by disk offset, in plain Python.

    GET_ROWS(weight, ids) reads one row of the weight per I32 id of its second source (rows
    are ne[1..] of the layout's shape); any other op reads the whole tensor; a tensor named
    several times in a pass counts once, whole if any op read it whole, else the rows summed.
    """
    whole, rows = set(), Counter()
    for r in records:
        srcs = r["sources"][: r["num_sources"]]
        for slot, s in enumerate(srcs):
            off = int(s["disk_offset_or_buffer_id"])
            if s["memory_source"] != 0 or not off:
                continue
            t = by_offset[off]
            if t.get("expert_id") is not None or off in expert_bias:
                continue
            if r["operation_type"] == GET_ROWS and slot == 0 and len(srcs) > 1:
                rows[off] += int(srcs[1]["size_bytes"]) // 4
            else:
                whole.add(off)
    out = {}
    for off in whole | set(rows):
        t = by_offset[off]
        n_rows = int(np.prod(t["shape"][1:]))
        out[off] = t["size_bytes"] if off in whole else min(rows[off], n_rows) * (t["size_bytes"] // n_rows)
    return out


def test_bytes_per_step_recounted_from_the_trace_records_and_the_layout_json(wh):
    con, truths = wh
    layout = json.loads(MEMORY_MAP.read_text())["tensors"]
    by_offset = {t["offset_start"]: t for t in layout}
    slice_bytes = Counter()
    expert_bias = set()
    for t in layout:
        if t.get("expert_id") is not None:
            slice_bytes[(t["layer_id"], t["expert_id"])] += t["size_bytes"]
        elif "_exps.bias" in t["name"]:
            # the file keeps an expert bias whole; the warehouse splits it into 32 equal rows
            expert_bias.add(t["offset_start"])
            for e in range(32):
                slice_bytes[(t["layer_id"], e)] += t["size_bytes"] // 32
    embd = next(t for t in layout if t["name"] == "token_embd.weight")
    weight_bytes = sum(t["size_bytes"] for t in layout)
    for run_id, truth in truths.items():
        rec = np.fromfile(truth.path, dtype=RECORD_DTYPE)
        starts = list(np.flatnonzero(rec["dst_name"] == b"inp_embd")) + [len(rec)]
        per_pass = [rec[a:b] for a, b in zip(starts, starts[1:], strict=False)]
        got = con.execute("select pass_id, dense_bytes, expert_bytes, model_fraction from v1.pass_bytes "
                          "where run_id = ? order by pass_id", [run_id]).fetchall()
        want, embd_rows = [], []
        for p in steps_of(truth):
            reads = recount_dense_reads(per_pass[p.pass_id], by_offset, expert_bias)
            dense = sum(reads.values())
            expert = sum(slice_bytes[(la, e)] for la, ids in p.selections.items() for e in set(ids))
            want.append((p.pass_id, dense, expert, pytest.approx((dense + expert) / weight_bytes)))
            embd_rows.append((p.pass_id, p.n_tokens, reads[embd["offset_start"]]))
        assert got == want
        # the embedding is gathered, one 5,760-byte row per token, not read whole (1,158,266,880 bytes)
        assert embd_rows == con.execute(
            "select pass_id, read_rows, read_bytes from v1.pass_tensor_reads "
            "where run_id = ? and tensor_name = 'token_embd.weight' order by pass_id", [run_id]).fetchall()
        assert {n for _, n, _ in embd_rows} == {1, 8} and embd_rows[-1][2] == 5760
        totals = [d + e for _, d, e, _ in want]
        mean, p95 = con.execute("select mean_step_bytes, p95_step_bytes from v1.run_bytes where run_id = ?",
                                [run_id]).fetchone()
        assert mean == pytest.approx(np.mean(totals)) and p95 == pytest.approx(np.percentile(totals, 95))


def test_stickiness_and_transitions_follow_the_generated_steps(wh):
    con, truths = wh
    for run_id, truth in truths.items():
        steps = steps_of(truth)
        got = dict(con.execute("select layer_id, repeat_probability from v1.expert_stickiness where run_id = ?",
                               [run_id]).fetchall())
        trans = Counter()
        for la in range(truth.n_layers):
            kept = sum(len(set(a.selections[la]) & set(b.selections[la])) for a, b in zip(steps, steps[1:], strict=False))
            size = sum(len(set(a.selections[la])) for a in steps[:-1])
            assert got[la] == pytest.approx(kept / size)
            for a, b in zip(steps, steps[1:], strict=False):
                trans[(la, a.selections[la][0], b.selections[la][0])] += 1
        got_t = {(la, f, t): n for la, f, t, n in con.execute(
            "select layer_id, from_expert, to_expert, transitions from v1.expert_transitions where run_id = ?",
            [run_id]).fetchall()}
        assert got_t == dict(trans)


def test_file_regions_and_touches_count_the_bytes_read(wh):
    """Summed over the file, the bytes read per step are the steps' mean total_bytes; the
    embedding is read a row per token, not 100 %."""
    con, truths = wh
    total = sum(len(steps_of(t)) for t in truths.values())
    tokens = sum(p.n_tokens for t in truths.values() for p in steps_of(t))
    embd = con.execute("select touches, touched_bytes, read_fraction, size_bytes from v1.tensor_touches "
                       "where tensor_name = 'token_embd.weight'").fetchone()
    assert embd[:2] == (total, tokens * 5760)
    assert embd[2] == pytest.approx(tokens * 5760 / (embd[3] * total)) and embd[2] < 1e-4
    mean_total = con.execute("select avg(total_bytes) from v1.pass_bytes").fetchone()[0]
    per_step = con.execute("select sum(mean_touched_bytes_per_step) from v1.file_regions").fetchone()[0]
    assert per_step == pytest.approx(mean_total, rel=1e-9)
