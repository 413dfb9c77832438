"""Run cache and predictor simulations over a warehouse's runs and store their results.

Reads the access sequences from v1.step_experts / v1.run_shape and the item sizes from
v1.tensors (SQL in sql/simulate/), simulates with the engine, and replaces the earlier rows of
the same simulation (same scope, capacity unit and training set; per run, policy and
capacity) in one transaction. The results are read through v1.cache_results,
v1.cache_layer_results and v1.predictor_results.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from ..db.lookup import resolve_runs
from ..db.sqlfiles import load_sql
from ..db.store import Store
from ..errors import UsageError
from . import predictors as pred
from .engine import POLICIES, SCOPES, simulate
from .sequence import AccessSequence, capacity_from_budget


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_name: str
    model_id: str | None
    domain: str | None
    experiment: str | None
    n_layers: int
    n_experts: int
    k: int
    n_steps: int


@dataclass
class Outcome:
    """What a simulation did: its id, the runs it simulated and those it had to leave out."""

    sim_id: str
    run_ids: list[str]
    skipped: list[str] = field(default_factory=list)  # warnings, one per run left out


@dataclass(frozen=True)
class TrainingSet:
    label: str  # self | domain:D | run names
    run_ids: tuple[str, ...] | None  # None = each run trains on itself


def _runs(con: duckdb.DuckDBPyConnection) -> dict[str, RunInfo]:
    out = {}
    for row in con.execute(load_sql("simulate/runs.sql")).fetchall():
        run_id, name, model_id, domain, experiment, n_layers, n_experts, k, n_steps = row
        out[run_id] = RunInfo(run_id, name, model_id, domain, experiment, int(n_layers or 0),
                              int(n_experts or 0), int(k or 0), int(n_steps or 0))
    return out


def select_runs(con: duckdb.DuckDBPyConnection, specs: list[str] | None, domain: str | None = None,
                experiment: str | None = None) -> tuple[list[RunInfo], bool]:
    """The runs named (or all), filtered by domain and experiment; also whether they were named."""
    runs = _runs(con)
    named = bool(specs)
    ids = resolve_runs(con, specs) if specs else list(runs)
    chosen = [runs[r] for r in ids if (domain is None or runs[r].domain == domain)
              and (experiment is None or runs[r].experiment == experiment)]
    if not chosen:
        what = [f"domain {domain!r}"] * (domain is not None) + [f"experiment {experiment!r}"] * (experiment is not None)
        raise UsageError("no run to simulate" + (f" with {' and '.join(what)}" if what else "; ingest a trace first"))
    return chosen, named


def training_set(con: duckdb.DuckDBPyConnection, train: list[str] | None, train_domain: str | None) -> TrainingSet:
    if train and train_domain:
        raise UsageError("give --train or --train-domain, not both")
    runs = _runs(con)
    if train:
        ids = resolve_runs(con, train)
        return TrainingSet(",".join(sorted(runs[r].run_name for r in ids)), tuple(sorted(ids)))
    if train_domain is not None:
        ids = sorted(r for r, info in runs.items() if info.domain == train_domain)
        if not ids:
            raise UsageError(f"--train-domain {train_domain}: no run of that domain")
        return TrainingSet(f"domain:{train_domain}", tuple(ids))
    return TrainingSet("self", None)


def _sim_id(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]


def _sequences(con: duckdb.DuckDBPyConnection, runs: list[RunInfo]) -> dict[str, AccessSequence]:
    """The access sequence of every run in ``runs``, with item sizes where the layout gives them."""
    models = sorted({r.model_id for r in runs if r.model_id is not None})
    sizes: dict[str, dict[tuple[int, int], int]] = {}
    for model_id, layer, expert, size in con.execute(load_sql("simulate/item_sizes.sql"),
                                                     {"model_ids": models}).fetchall():
        sizes.setdefault(model_id, {})[(int(layer), int(expert))] = int(size)
    cols = con.execute(load_sql("simulate/accesses.sql"), {"run_ids": [r.run_id for r in runs]}).fetchnumpy()
    run_col = np.asarray(cols["run_id"], dtype=object)
    out = {}
    bounds = np.flatnonzero(run_col[1:] != run_col[:-1]) + 1 if len(run_col) else np.zeros(0, int)
    starts = np.concatenate([[0], bounds]) if len(run_col) else np.zeros(0, int)
    ends = np.concatenate([bounds, [len(run_col)]]) if len(run_col) else np.zeros(0, int)
    spans = {run_col[a]: (a, b) for a, b in zip(starts, ends, strict=True)}
    for r in runs:
        a, b = spans.get(r.run_id, (0, 0))
        item_sizes = None
        known = sizes.get(r.model_id or "", {})
        grid = [(la, e) for la in range(r.n_layers) for e in range(r.n_experts)]
        if known and all(g in known for g in grid):
            item_sizes = np.array([known[g] for g in grid], dtype=np.int64)
        out[r.run_id] = AccessSequence.from_selections(
            np.asarray(cols["step"][a:b]), np.asarray(cols["layer_id"][a:b]), np.asarray(cols["expert_id"][a:b]),
            r.n_layers, r.n_experts, r.n_steps, item_sizes)
    return out


def _training_runs(run: RunInfo, training: TrainingSet, runs: dict[str, RunInfo]) -> list[str]:
    if training.run_ids is None:
        return [run.run_id]
    same = [t for t in training.run_ids
            if runs[t].model_id == run.model_id and (runs[t].n_layers, runs[t].n_experts) == (run.n_layers, run.n_experts)]
    if not same:
        raise UsageError(f"run {run.run_name}: no training run of the same model and layer x expert grid in "
                         f"{training.label}")
    if len(same) < len(training.run_ids) and training.label.startswith("domain:"):
        return same  # a domain may span models: each run trains on those of its own model
    if len(same) < len(training.run_ids):
        other = next(t for t in training.run_ids if t not in same)
        raise UsageError(f"--train {runs[other].run_name}: its model or grid differs from run {run.run_name}'s")
    return same


def _train_counts(ids: list[str], seqs: dict[str, AccessSequence], n_items: int) -> np.ndarray:
    counts = np.zeros(n_items, np.int64)
    for t in ids:
        counts += np.bincount(seqs[t].items, minlength=n_items)
    return counts


def simulate_cache(store: Store, runs: list[str] | None = None, *, domain: str | None = None,
                   experiment: str | None = None, policies: tuple[str, ...] = POLICIES,
                   budgets: list[int] | None = None, slots: list[int] | None = None, scope: str = "global",
                   train: list[str] | None = None, train_domain: str | None = None) -> Outcome:
    """Simulate ``policies`` at every budget (bytes) or slot count over the chosen runs and
    store the results, replacing the same simulation's earlier rows for these capacities."""
    if (budgets is None) == (slots is None):
        raise UsageError("give --budget or --slots (one of them)")
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}; choose one of {', '.join(SCOPES)}")
    bad = [p for p in policies if p not in POLICIES]
    if bad or not policies:
        raise UsageError(f"unknown policy {', '.join(bad) or '(none)'}; choose among {', '.join(POLICIES)}")
    wanted = budgets if budgets is not None else slots
    if not wanted or any(int(v) <= 0 for v in wanted):
        raise UsageError("budgets and slot counts are positive")
    unit = "bytes" if budgets is not None else "slots"
    con = store.con
    chosen, named = select_runs(con, runs, domain, experiment)
    training = training_set(con, train, train_domain)
    all_runs = _runs(con)
    seqs = _sequences(con, list({r.run_id: r for r in chosen + [all_runs[t] for t in training.run_ids or ()]}.values()))
    sim_id = _sim_id("cache", scope, unit, training.label, ",".join(training.run_ids or ()))
    outcome = Outcome(sim_id, [])
    rows: list[dict] = []
    layer_rows: list[dict] = []
    for run in chosen:
        seq = seqs[run.run_id]
        if unit == "bytes" and seq.sizes is None:
            msg = f"run {run.run_name} has no model layout with expert sizes; simulate it with --slots"
            if named:
                raise UsageError(msg)
            outcome.skipped.append(msg)
            continue
        if unit == "bytes":
            caps = np.array([capacity_from_budget(b, seq.sizes) for b in budgets], np.int64)
        else:
            caps = np.array(slots, np.int64)
        train_ids = _training_runs(run, training, all_runs) if "static" in policies else [run.run_id]
        counts = _train_counts(train_ids, seqs, seq.n_items)
        belady = simulate(seq, "belady", caps, scope)
        ws = seq.working_set_items()
        for policy in policies:
            res = belady if policy == "belady" else simulate(seq, policy, caps, scope, counts)
            for ci, cap in enumerate(caps):
                budget = int(budgets[ci]) if unit == "bytes" else None
                common = dict(sim_id=sim_id, run_id=run.run_id, policy=policy, budget_bytes=budget,
                              capacity_items=int(cap))
                rows.append(dict(common, n_layers=seq.n_layers, working_set_items=ws, n_steps=seq.n_steps,
                                 n_accesses=int(res.accesses.sum()), hits=int(res.hits[ci].sum()),
                                 bytes_loaded=int(res.bytes_loaded[ci].sum()) if seq.sizes is not None else None,
                                 belady_hits=int(belady.hits[ci].sum()),
                                 in_sample=(run.run_id in train_ids) if policy == "static" else None))
                for la in range(seq.n_layers):
                    layer_rows.append(dict(
                        common, layer_id=la,
                        layer_capacity_items=int(cap) // seq.n_layers if scope == "layer" else None,
                        n_accesses=int(res.accesses[la]), hits=int(res.hits[ci, la]),
                        bytes_loaded=int(res.bytes_loaded[ci, la]) if seq.sizes is not None else None,
                        belady_hits=int(belady.hits[ci, la])))
        outcome.run_ids.append(run.run_id)
    with store.transaction() as tx:
        tx.execute(load_sql("simulate/replace_simulation.sql"), dict(
            sim_id=sim_id, kind="cache", scope=scope, capacity_unit=unit, train=training.label,
            train_run_ids=",".join(training.run_ids) if training.run_ids else None))
        _replace(tx, "staged_cache", _table(rows, _CACHE_COLUMNS), ("simulate/delete_cache_results.sql",),
                 "simulate/insert_cache_results.sql")
        _replace(tx, "staged_cache", _table(layer_rows, _LAYER_COLUMNS), ("simulate/delete_cache_layers.sql",),
                 "simulate/insert_cache_layers.sql")
    return outcome


def simulate_predictors(store: Store, runs: list[str] | None = None, *, domain: str | None = None,
                        experiment: str | None = None, train: list[str] | None = None,
                        train_domain: str | None = None) -> Outcome:
    """Score every prefetch predictor over the chosen runs and store the results."""
    con = store.con
    chosen, _ = select_runs(con, runs, domain, experiment)
    training = training_set(con, train, train_domain)
    all_runs = _runs(con)
    seqs = _sequences(con, list({r.run_id: r for r in chosen + [all_runs[t] for t in training.run_ids or ()]}.values()))
    sim_id = _sim_id("predictors", training.label, ",".join(training.run_ids or ()))
    rows = []
    for run in chosen:
        seq = seqs[run.run_id]
        train_ids = _training_runs(run, training, all_runs)
        learned = pred.Training.from_grids([pred.selection_grid(seqs[t]) for t in train_ids],
                                           seq.n_layers, seq.n_experts)
        for name in pred.PREDICTORS:
            s = pred.score(name, seq, run.k, learned)
            rows.append(dict(sim_id=sim_id, run_id=run.run_id, predictor=name, n_steps=seq.n_steps,
                             n_predictions=s.n_predictions, recall=s.recall, precision=s.precision,
                             wasted_bytes=s.wasted_bytes,
                             in_sample=(run.run_id in train_ids) if name in pred.TRAINED else None))
    with store.transaction() as tx:
        tx.execute(load_sql("simulate/replace_simulation.sql"), dict(
            sim_id=sim_id, kind="predictors", scope=None, capacity_unit=None, train=training.label,
            train_run_ids=",".join(training.run_ids) if training.run_ids else None))
        tx.execute(load_sql("simulate/delete_predictor_results.sql"),
                   dict(sim_id=sim_id, run_ids=[r.run_id for r in chosen]))
        _replace(tx, "staged_predictors", _table(rows, _PREDICTOR_COLUMNS), (),
                 "simulate/insert_predictor_results.sql")
    return Outcome(sim_id, [r.run_id for r in chosen])


_CACHE_COLUMNS = {
    "sim_id": pa.string(), "run_id": pa.string(), "policy": pa.string(), "budget_bytes": pa.int64(),
    "capacity_items": pa.int64(), "n_layers": pa.int32(), "working_set_items": pa.int32(), "n_steps": pa.int32(),
    "n_accesses": pa.int64(), "hits": pa.int64(), "bytes_loaded": pa.int64(), "belady_hits": pa.int64(),
    "in_sample": pa.bool_(),
}
_LAYER_COLUMNS = {
    "sim_id": pa.string(), "run_id": pa.string(), "policy": pa.string(), "budget_bytes": pa.int64(),
    "capacity_items": pa.int64(), "layer_id": pa.int32(), "layer_capacity_items": pa.int64(),
    "n_accesses": pa.int64(), "hits": pa.int64(), "bytes_loaded": pa.int64(), "belady_hits": pa.int64(),
}
_PREDICTOR_COLUMNS = {
    "sim_id": pa.string(), "run_id": pa.string(), "predictor": pa.string(), "n_steps": pa.int32(),
    "n_predictions": pa.int64(), "recall": pa.float64(), "precision": pa.float64(), "wasted_bytes": pa.int64(),
    "in_sample": pa.bool_(),
}


def _table(rows: list[dict], columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.table({name: pa.array([r[name] for r in rows], type=t) for name, t in columns.items()})


def _replace(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, deletes: tuple[str, ...],
             insert: str) -> None:
    con.register(name, table)
    try:
        for sql in deletes:
            con.execute(load_sql(sql))
        con.execute(load_sql(insert))
    finally:
        con.unregister(name)


def cache_table(con: duckdb.DuckDBPyConnection, outcome: Outcome, policies: tuple[str, ...],
                capacities: list[int]) -> pa.Table:
    """The stored rows of one simulate_cache call, for printing (sql/simulate/show_cache.sql)."""
    return con.sql(load_sql("simulate/show_cache.sql"), params=dict(
        sim_id=outcome.sim_id, run_ids=outcome.run_ids, policies=list(policies),
        capacities=[int(c) for c in capacities])).to_arrow_table()


def predictor_table(con: duckdb.DuckDBPyConnection, outcome: Outcome) -> pa.Table:
    return con.sql(load_sql("simulate/show_predictors.sql"), params=dict(
        sim_id=outcome.sim_id, run_ids=outcome.run_ids, predictors=list(pred.PREDICTORS))).to_arrow_table()
