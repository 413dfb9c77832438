"""The layout planner's inputs read from the warehouse, and its results written back.

``plan_model`` reads the layout and the decode steps (SQL in ``sql/layout/plan_*.sql``),
runs ``warehouse.layout.plan.make_plan`` and returns the plan with what identifies it;
``store_plan`` writes it into the ``layout_plan*`` tables (one transaction, the caller's).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..db.lookup import resolve_runs
from ..db.sqlfiles import load_sql
from ..errors import UsageError
from .plan import ORDERS, TRAINED_ORDERS, Layout, Params, Plan, Selections, Steps, build_steps, make_plan
from .plan import train as train_orders

PLAN_ID_CHARS = 16


@dataclass
class PlanRun:
    plan_id: str
    model_id: str
    model_name: str
    scored: list[str]
    train: list[str]
    layout: Layout
    plan: Plan
    steps: Steps


def load_layout(con: duckdb.DuckDBPyConnection, model_id: str) -> tuple[Layout, str]:
    facts = con.execute(load_sql("layout/plan_model.sql"), {"model_id": model_id}).fetchone()
    _, name, _, n_experts, data_offset, alignment = facts
    rows = con.execute(load_sql("layout/plan_rows.sql"), {"model_id": model_id}).fetchall()
    return Layout.from_rows(rows, data_offset, alignment, n_experts), name


def _index(values: pa.ChunkedArray, keys: list[str]) -> np.ndarray:
    return pc.index_in(values, value_set=pa.array(keys, pa.string())).to_numpy(zero_copy_only=False)


def _ints(table: pa.Table, column: str) -> np.ndarray:
    return table[column].to_numpy().astype(np.int64)


def load_steps(con: duckdb.DuckDBPyConnection, layout: Layout, run_ids: list[str]) -> tuple[Steps, Selections]:
    """The decode steps of ``run_ids`` (sorted by run, then step) and their selections."""
    run_ids = sorted(run_ids)
    params = {"run_ids": run_ids}
    steps = con.sql(load_sql("layout/plan_steps.sql"), params=params).to_arrow_table()
    run_index, step = _ints(steps, "run_index"), _ints(steps, "step")
    # (run, step) -> step index: steps are sorted by run, then step
    width = int(step.max()) + 1 if len(step) else 1
    step_key = run_index * width + step

    def step_index(table: pa.Table) -> np.ndarray:
        return np.searchsorted(step_key, _ints(table, "run_index") * width + _ints(table, "step"))

    dense = con.sql(load_sql("layout/plan_dense_reads.sql"), params=params).to_arrow_table()
    names = layout.tensor_name.astype(str).tolist()
    dense_rows = _index(dense["tensor_name"], names).astype(np.int64)
    sel = con.sql(load_sql("layout/plan_selections.sql"), params=params).to_arrow_table()
    selections = Selections(step_index(sel), _ints(sel, "layer_id"), _ints(sel, "expert_id"))
    ok = (selections.layer_id < max(layout.n_layers, 1)) & (selections.expert_id < max(layout.n_experts, 1)) \
        & (selections.layer_id >= 0) & (selections.expert_id >= 0)
    selections = Selections(selections.step_index[ok], selections.layer_id[ok], selections.expert_id[ok])
    built = build_steps(layout, run_ids, run_index, step,
                        (step_index(dense), dense_rows, _ints(dense, "read_bytes")), selections)
    return built, selections


def _check_runs(con, model_id: str, run_ids: list[str], what: str) -> None:
    rows = con.execute(load_sql("layout/plan_run_models.sql"), {"run_ids": run_ids}).fetchall()
    other = [(rid, name) for rid, name, mid in rows if mid != model_id]
    if other:
        raise UsageError(f"{what} run {other[0][1]} ({other[0][0]}) is not a run of model {model_id}")


def plan_id_of(model_id: str, scored: list[str], train: list[str], orders: list[str], params: Params) -> str:
    key = json.dumps([model_id, sorted(scored), sorted(train), list(orders),
                      [params.page, params.readahead, params.merge_gap]])
    return hashlib.sha1(key.encode()).hexdigest()[:PLAN_ID_CHARS]


def plan_model(con: duckdb.DuckDBPyConnection, model_id: str, runs: list[str] | None, domain: str | None,
               orders: list[str], params: Params, train: list[str] | None) -> PlanRun:
    """Replay the runs (given, else every run of the model, of ``domain`` if given) under ``orders``.

    Trained orders learn from ``train`` runs, else from the scored runs themselves (then every
    trained result is in-sample)."""
    unknown = [o for o in orders if o not in ORDERS]
    if unknown:
        raise UsageError(f"--order {unknown[0]!r}: orders are {', '.join(ORDERS)}")
    if not orders:
        raise UsageError("--order: give at least one order")
    layout, model_name = load_layout(con, model_id)
    if runs:
        scored = resolve_runs(con, runs)
        _check_runs(con, model_id, scored, "scored")
    else:
        scored = [r[0] for r in con.execute(load_sql("layout/plan_runs.sql"),
                                            {"model_id": model_id, "domain": domain}).fetchall()]
    if not scored:
        where = f" of domain {domain!r}" if domain else ""
        raise UsageError(f"model {model_name} ({model_id}) has no run{where} with decode steps to replay")
    train_ids = resolve_runs(con, train) if train else list(scored)
    _check_runs(con, model_id, train_ids, "training")
    steps, sel = load_steps(con, layout, scored)
    if train and any(o in TRAINED_ORDERS for o in orders):
        _, training = load_steps(con, layout, train_ids)
    else:
        training = sel
    plan = make_plan(layout, steps, orders, params, training, set(train_ids))
    pid = plan_id_of(model_id, scored, train_ids, orders, params)
    return PlanRun(pid, model_id, model_name, sorted(scored), sorted(train_ids), layout, plan, steps)


def trained_permutations(con: duckdb.DuckDBPyConnection, model_id: str, train: list[str] | None) -> tuple[
        dict[str, np.ndarray], list[str], Layout]:
    """hot-first and coact permutations learned from ``train`` runs (default: every run of the
    model with decode steps), the training run ids, and the model's layout."""
    layout, name = load_layout(con, model_id)
    if train:
        ids = resolve_runs(con, train)
        _check_runs(con, model_id, ids, "training")
    else:
        ids = [r[0] for r in con.execute(load_sql("layout/plan_runs.sql"),
                                                 {"model_id": model_id, "domain": None}).fetchall()]
    if not ids:
        raise UsageError(f"model {name} ({model_id}) has no run with decode steps to learn an expert order from")
    _, sel = load_steps(con, layout, ids)
    return train_orders(sel, layout.n_layers, layout.n_experts), sorted(ids), layout


def results_table(run: PlanRun) -> pa.Table:
    """One row per scored run and order (the columns of ``layout_plan_results``)."""
    rows = [{"plan_id": run.plan_id, **vars(r)} for r in run.plan.results]
    return pa.Table.from_pylist(rows)


def _append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    if data.num_rows:
        con.from_arrow(data).insert_into(table)


def store_plan(con: duckdb.DuckDBPyConnection, run: PlanRun) -> None:
    """Write the plan into the layout_plan* tables, replacing an earlier plan with its plan_id."""
    plan, pid = run.plan, run.plan_id
    for statement in load_sql("layout/plan_delete.sql").split(";"):  # parameters bind one statement at a time
        if statement.strip():
            con.execute(statement, {"plan_id": pid})
    p = plan.params
    _append(con, "layout_plans", pa.table({
        "plan_id": [pid], "model_id": [run.model_id], "orders": [plan.orders], "scored_runs": [run.scored],
        "train_runs": [run.train], "page_bytes": [p.page], "readahead_bytes": [p.readahead],
        "merge_gap_bytes": [p.merge_gap],
        "created_at": pa.array([np.datetime64("now", "us")], pa.timestamp("us")),
    }))
    _append(con, "layout_plan_results", results_table(run))
    steps = run.steps
    n, names = steps.n_steps, run.layout.tensor_name.astype(str)
    run_col = np.array(steps.run_ids, dtype=object)[steps.run_index] if n else np.zeros(0, dtype=object)
    for o in plan.orders:
        sc = plan.steps[o]
        _append(con, "layout_plan_steps", pa.table({
            "plan_id": pa.array([pid] * n, pa.string()), "run_id": pa.array(run_col, pa.string()),
            "order_name": pa.array([o] * n, pa.string()), "step": pa.array(steps.step, pa.int32()),
            "bytes": sc.bytes, "extents": pa.array(sc.extents, pa.int32()), "pages": sc.pages,
            "readahead_windows": sc.windows,
        }))
        off = plan.offsets[o]
        _append(con, "layout_plan_offsets", pa.table({
            "plan_id": pa.array([pid] * len(off), pa.string()), "order_name": pa.array([o] * len(off), pa.string()),
            "tensor_name": pa.array(names, pa.string()), "offset_start": off, "offset_end": off + run.layout.size,
        }))
    for o, perm in plan.permutations.items():
        layers, positions = np.indices(perm.shape)
        _append(con, "layout_plan_permutations", pa.table({
            "plan_id": pa.array([pid] * perm.size, pa.string()), "order_name": pa.array([o] * perm.size, pa.string()),
            "layer_id": pa.array(layers.ravel(), pa.int32()), "position": pa.array(positions.ravel(), pa.int32()),
            "expert_id": pa.array(perm.ravel(), pa.int32()),
        }))
