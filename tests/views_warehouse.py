"""A small warehouse with known truth for the view tests, written straight into the base tables.

Two models of different shapes (one splits its expert biases, one keeps a bias whole), runs in
several domains and experiments, a run without a model, warm-up passes (one in the middle of a
run, with selections and DISK reads that must not count), experts that never fire, a selection
that repeats an expert id, DISK sources that name a tensor twice or an unknown offset. The
``Truth`` object keeps what was generated so the tests can recount every view in plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from warehouse.ingest.derived import refresh_run


@dataclass
class Tensor:
    model_id: str
    tensor_name: str
    base_name: str
    expert_id: int | None
    layer_id: int | None
    component: str | None
    category: str
    offset_start: int
    size_bytes: int
    file_index: int

    @property
    def offset_end(self) -> int:
        return self.offset_start + self.size_bytes


@dataclass
class Model:
    model_id: str
    n_layers: int
    n_experts: int
    k: int
    split_bias: bool
    tensors: list[Tensor] = field(default_factory=list)

    def by_name(self, name: str) -> Tensor:
        return next(t for t in self.tensors if t.tensor_name == name)

    @property
    def weight_bytes(self) -> int:
        return sum(t.size_bytes for t in self.tensors)


@dataclass
class Pass:
    pass_id: int
    warmup: bool
    token_id: int
    phase: str
    # layer -> experts in rank order (may repeat an id: an anomaly counted once)
    selections: dict[int, list[int]]
    dense_reads: list[str]  # tensor names read from DISK, with repeats


@dataclass
class Run:
    run_id: str
    model: Model | None
    domain: str | None
    experiment: str | None
    k: int
    passes: list[Pass]

    @property
    def steps(self) -> list[Pass]:
        return [p for p in self.passes if not p.warmup]


@dataclass
class Truth:
    models: dict[str, Model]
    runs: dict[str, Run]


def _make_model(model_id: str, n_layers: int, n_experts: int, k: int, split_bias: bool, base: int) -> Model:
    """A layout in file order: experts first (as GGUF files put them), then the rest."""
    m = Model(model_id, n_layers, n_experts, k, split_bias)
    off = base
    idx = 0

    def add(name, base_name, expert, layer, component, category, size):
        nonlocal off
        m.tensors.append(Tensor(model_id, name, base_name, expert, layer, component, category, off, size, idx))
        off += size

    for layer in range(n_layers):
        for comp, slice_bytes in (("ffn_gate_exps", 700), ("ffn_up_exps", 710), ("ffn_down_exps", 690)):
            base_name = f"blk.{layer}.{comp}.weight"
            for e in range(n_experts):
                add(f"{base_name}[{e}]", base_name, e, layer, comp, "expert", slice_bytes + layer)
            idx += 1
        bias = f"blk.{layer}.ffn_gate_exps.bias"
        if split_bias:
            for e in range(n_experts):
                add(f"{bias}[{e}]", bias, e, layer, "ffn_gate_exps", "expert_bias", 40)
        else:
            add(bias, bias, None, layer, "ffn_gate_exps", "expert_bias", 40 * n_experts)
        idx += 1
    for layer in range(n_layers):
        for comp, cat, size in (("attn_q", "attention", 1500 + 7 * layer), ("ffn_gate_inp", "router", 320),
                                ("attn_norm", "norm", 64)):
            add(f"blk.{layer}.{comp}.weight", f"blk.{layer}.{comp}.weight", None, layer, comp, cat, size)
            idx += 1
    add("output.weight", "output.weight", None, None, "output", "output", 5000)
    idx += 1
    add("token_embd.weight", "token_embd.weight", None, None, "token_embd", "embedding", 6000)
    return m


def _popularity(rng: np.random.Generator, n: int, dead: set[int]) -> np.ndarray:
    p = rng.gamma(0.7, size=n) + 0.02
    for e in dead:
        p[e] = 0.0
    return p / p.sum()


def _draw(rng, p: np.ndarray, k: int, prev: list[int] | None) -> list[int]:
    chosen: list[int] = []
    if prev is not None:
        for e in prev:  # stickiness: keep some of the previous step's experts
            if e not in chosen and rng.random() < 0.4:
                chosen.append(e)
    rest = [int(e) for e in rng.choice(len(p), size=len(p[p > 0]), replace=False, p=p)]
    for e in rest:
        if len(chosen) == k:
            break
        if e not in chosen:
            chosen.append(e)
    rng.shuffle(chosen)
    return chosen


def build_truth(seed: int = 7) -> Truth:
    rng = np.random.default_rng(seed)
    ma = _make_model("model-a", n_layers=3, n_experts=8, k=2, split_bias=True, base=4096)
    mb = _make_model("model-b", n_layers=2, n_experts=6, k=3, split_bias=False, base=1000)
    models = {m.model_id: m for m in (ma, mb)}
    dead = {("model-a", 0): {7}, ("model-a", 2): {3, 5}, ("model-b", 1): {0}}
    pop = {}
    for m in models.values():
        for dom in ("code", "math", "prose"):
            for layer in range(m.n_layers):
                pop[(m.model_id, dom, layer)] = _popularity(rng, m.n_experts, dead.get((m.model_id, layer), set()))
    specs = [  # run_id, model, domain, experiment, n_steps, mid-run warm-up
        ("run-a1", ma, "code", "exp1", 24, False),
        ("run-a2", ma, "code", "exp1", 17, True),
        ("run-a3", ma, "math", "exp2", 21, False),
        ("run-a4", ma, "prose", None, 9, False),
        ("run-a5", ma, None, "exp2", 12, False),
        ("run-b1", mb, "code", "exp1", 15, False),
        ("run-b2", mb, "math", "exp1", 13, False),
        ("run-x1", None, "code", "exp1", 11, False),
    ]
    runs: dict[str, Run] = {}
    for run_id, m, dom, exp_name, n_steps, mid_warmup in specs:
        k = m.k if m else 2
        n_layers = m.n_layers if m else 2
        n_exp = m.n_experts if m else 5
        passes = [Pass(0, True, 0, "PROMPT", {la: list(range(min(16, n_exp))) for la in range(n_layers)},
                       ["token_embd.weight"])]
        prev: dict[int, list[int]] = {}
        for s in range(n_steps):
            if mid_warmup and s == n_steps // 2:
                passes.append(Pass(len(passes), True, s, "GENERATE",
                                   {la: list(range(n_exp)) for la in range(n_layers)}, ["output.weight"]))
            sel = {}
            for la in range(n_layers):
                p = pop[((m.model_id if m else "model-a"), dom or "prose", la)][:n_exp].copy()
                if not m:
                    p[n_exp - 1] = 0.05  # the observed grid ends at the largest id seen: make it seen
                p = p / p.sum()
                sel[la] = _draw(rng, p, k, prev.get(la))
                prev[la] = sel[la]
            dense = ["token_embd.weight"]
            for la in range(n_layers):
                dense += [f"blk.{la}.attn_norm.weight", f"blk.{la}.attn_q.weight", f"blk.{la}.ffn_gate_inp.weight"]
                if rng.random() < 0.3:
                    dense.append(f"blk.{la}.attn_q.weight")  # read twice in one pass: counts once
            if rng.random() < 0.7:
                dense.append("output.weight")
            passes.append(Pass(len(passes), False, 100 + s, "PROMPT" if s == 0 else "GENERATE", sel, dense))
        runs[run_id] = Run(run_id, m, dom, exp_name, k, passes)
    # an anomaly: one selection repeats an expert id (counted once, at its best rank)
    r = runs["run-a1"].steps[3]
    r.selections[1] = r.selections[1] + [r.selections[1][0]]
    return Truth(models, runs)


class _TraceWriter:
    """Records and sources of one run, numbered in execution order."""

    def __init__(self, run: Run, records: list, sources: list):
        self.run, self.records, self.sources, self.rec_id = run, records, sources, 0

    def disk(self, name: str) -> tuple:
        m = self.run.model
        if m is None:
            return (name, "DISK", 10_000 + len(name))
        whole = next(t for t in m.tensors if t.base_name == name)  # slice 0 starts the whole tensor
        return (name, "DISK", whole.offset_start)

    def record(self, p: Pass, srcs: list, experts=()) -> None:
        run_id = self.run.run_id
        self.records.append(dict(run_id=run_id, record_id=self.rec_id, pass_id=p.pass_id,
                                 timestamp_ns=1000 + self.rec_id, token_id=p.token_id, thread_id=1, op_code=29,
                                 phase=p.phase, num_sources=len(srcs), num_experts=len(experts)))
        for slot, (name, kind, off) in enumerate(srcs):
            self.sources.append(dict(run_id=run_id, record_id=self.rec_id, slot=slot, name=name, size_bytes=100,
                                     memory_source=kind, disk_offset=off))
        self.rec_id += 1


def insert(con, truth: Truth) -> None:
    """Write the truth into the base tables (one transaction) and fill the derived table."""
    now = datetime(2026, 1, 1)
    models, tensors, runs, passes, records, sources, selections = [], [], [], [], [], [], []
    for m in truth.models.values():
        models.append(dict(model_id=m.model_id, model_name=m.model_id, source_kind="gguf", n_layers=m.n_layers,
                           n_experts=m.n_experts, n_experts_used=m.k, ingested_at=now))
        for t in m.tensors:
            tensors.append(dict(model_id=m.model_id, tensor_name=t.tensor_name, base_name=t.base_name,
                                expert_id=t.expert_id, layer_id=t.layer_id, component=t.component,
                                category=t.category, offset_start=t.offset_start, offset_end=t.offset_end,
                                size_bytes=t.size_bytes, file_index=t.file_index))
    for run in truth.runs.values():
        m = run.model
        w = _TraceWriter(run, records, sources)
        for p in run.passes:
            first = w.rec_id
            for name in p.dense_reads:
                w.record(p, [w.disk(name), ("inp", "BUFFER", None)])
            for la, experts in p.selections.items():
                for comp in ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"):
                    w.record(p, [w.disk(f"blk.{la}.{comp}.weight"), (f"x-{la}", "BUFFER", None)], experts)
                w.record(p, [w.disk(f"blk.{la}.ffn_gate_exps.bias")], experts)
            w.record(p, [("mystery", "DISK", 999_999_999), ("nameless", "DISK", None)])
            last = w.rec_id - 1
            passes.append(dict(run_id=run.run_id, pass_id=p.pass_id, token_id=p.token_id, phase=p.phase,
                               n_records=last + 1 - first, is_warmup=p.warmup, t_start_ns=1000 + first,
                               t_end_ns=1000 + last, first_record_id=first, last_record_id=last))
            for la, experts in p.selections.items():
                # the warm-up's "selections" must never count, even if a table held them
                for rank, e in enumerate(experts):
                    selections.append(dict(run_id=run.run_id, pass_id=p.pass_id, layer_id=la, rank=rank, expert_id=e))
        runs.append(dict(run_id=run.run_id, run_name=run.run_id, experiment=run.experiment, domain=run.domain,
                         model_id=m.model_id if m else None, source_format="trace-1024", op_table="ggml-2026-01",
                         n_records=w.rec_id, n_passes=len(run.passes), experts_used=run.k,
                         experts_used_source="model" if m else "option", ingested_at=now))
    con.begin()
    for table, rows in (("models", models), ("tensors", tensors), ("runs", runs), ("passes", passes),
                        ("records", records), ("sources", sources), ("selections", selections)):
        df = pd.DataFrame(rows)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM df")
    for run_id in truth.runs:
        refresh_run(con, run_id)
    con.commit()
