"""Routing ingest: a decoded ``Routes`` (any recorder, or capture) into the warehouse as one run.

Writes ``token_routes``, ``tokens``, ``routing_runs`` and, where the recorder gives them,
``routing_layer_bytes`` and ``routing_counts`` (``sql/schema/005_routing.sql``). A routing-only
run (no op-level records) also gets its ``runs`` row and ``step_selections`` keyed by decode
step = generated-token index, the derived table the analysis views already read, so hotness,
routing statistics, stickiness, transitions, co-activation, domains, similarity and bytes per
step work on it unchanged. The run_id is a digest of the routing content, so the same routing
again (from the same file, or its interchange export) is the same run. Everything happens in
the caller's transaction.

The capture helper calls ``ingest_routes(con, routes, attach_to=run_id)`` for a run whose
``runs`` row, passes and records it has written itself: then only the token-level tables are
filled (its decode steps come from its passes).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..db.sqlfiles import ident, load_sql, render_sql
from ..errors import UsageError
from ..formats.routing import detect, interchange
from ..formats.routing.problems import RoutingInputError, first_bad
from ..formats.routing.routes import GENERATE, PHASE_NAMES, RESIDENCY_NAMES, Routes, Tokens
from . import expert_permutation
from .arrow_columns import column, dictionary_column, strings
from .traces import RUN_ID_CHARS, delete_run


@dataclass
class RoutingResult:
    run_id: str
    created: bool
    run_name: str
    source_format: str
    n_rows: int = 0
    n_tokens: int = 0
    n_generated: int = 0
    counts_only: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class ModelFacts:
    n_layers: int | None
    n_experts: int | None
    k: int | None
    n_moe_layers: int | None
    dense_bytes_per_token: int | None


def model_facts(con: duckdb.DuckDBPyConnection, model_id: str | None) -> ModelFacts | None:
    if model_id is None:
        return None
    rows = con.execute(load_sql("routing/model_facts.sql"), {"model_id": model_id}).fetchall()
    if not rows:
        raise UsageError(f"no model {model_id!r} in the warehouse; ingest its GGUF or layout first")
    n_layers, n_experts, k, n_moe, dense = rows[0]
    return ModelFacts(n_layers, n_experts, k, n_moe or None, dense)


def digest(routes: Routes) -> str:
    """run_id of a routing: a digest of every routed row (canonical order) and of the counts."""
    return _digest(routes.sorted())


def _digest(r: Routes) -> str:
    h = hashlib.sha1(b"routes v1\n")
    for name in ("position", "token_id", "phase", "step", "pass_id", "layer_id", "rank", "expert_id",
                 "recorded_residency", "trusted"):
        h.update(name.encode())
        h.update(np.ascontiguousarray(getattr(r, name)).view(np.uint8))
    w = np.where(np.isnan(r.weight), np.nan, r.weight)  # one NaN bit pattern
    h.update(b"weight")
    h.update(np.ascontiguousarray(w).view(np.uint8))
    if r.counts is not None:
        order = np.lexsort((r.counts.expert_id, r.counts.layer_id))
        for a in (r.counts.layer_id, r.counts.expert_id, r.counts.count):
            h.update(np.ascontiguousarray(np.asarray(a, np.int64)[order]).view(np.uint8))
    return h.hexdigest()[:RUN_ID_CHARS]


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    null = codes < 0
    return dictionary_column(np.where(null, 0, codes).astype(np.int8), list(names), null)


def _route_table(run_id: str, r: Routes) -> pa.Table:
    n = len(r)
    return pa.table({
        "run_id": dictionary_column(np.zeros(n, np.int8), [run_id]),
        "position": column(r.position),
        "token_id": column(r.token_id, r.token_id < 0),
        "phase": _labels(r.phase, PHASE_NAMES),
        "step": column(r.step, r.step < 0),
        "pass_id": column(r.pass_id, r.pass_id < 0),
        "layer_id": column(r.layer_id),
        "rank": column(r.rank),
        "expert_id": column(r.expert_id),
        "weight": column(r.weight, np.isnan(r.weight)),
        "recorded_residency": _labels(r.recorded_residency, RESIDENCY_NAMES),
        "trusted": pa.array(r.trusted, pa.bool_()),
    })


def _token_table(run_id: str, t: Tokens) -> pa.Table:
    n = len(t)
    pieces = t.piece if t.piece is not None else [None] * n
    return pa.table({
        "run_id": dictionary_column(np.zeros(n, np.int8), [run_id]),
        "position": column(np.asarray(t.position, np.int64)),
        "token_id": column(np.asarray(t.token_id, np.int64), np.asarray(t.token_id) < 0),
        "piece": strings(pieces),
        "phase": _labels(np.asarray(t.phase, np.int8), PHASE_NAMES),
        "step": column(np.asarray(t.step, np.int32), np.asarray(t.step) < 0),
        "pass_id": column(np.asarray(t.pass_id, np.int32), np.asarray(t.pass_id) < 0),
    })


def _append(con, table: str, arrow: pa.Table) -> None:
    if arrow.num_rows:
        con.from_arrow(arrow).insert_into(table)


def _step_selections(con, run_id: str, r: Routes) -> None:
    """step_selections of a routing-only run, grouped from its generated rows as Arrow: reading
    them back out of token_routes costs more than the grouping itself."""
    gen = np.flatnonzero(r.phase == GENERATE)
    if not len(gen):
        return
    con.register(_GENERATED, pa.table({name: column(getattr(r, name)[gen])
                                       for name in ("step", "layer_id", "expert_id", "rank")}))
    try:
        con.execute(render_sql("routing/step_selections.sql", generated=ident(_GENERATED)), {"run_id": run_id})
    finally:
        con.unregister(_GENERATED)


_GENERATED = "_moewh_generated_routes"


def _check(path, r: Routes, facts: ModelFacts | None) -> None:
    n_layers = facts.n_layers if facts else r.n_layers
    n_experts = facts.n_experts if facts else r.n_experts
    src = "the model" if facts else "the recorder"
    layer = r.layer_id if r.counts is None else r.counts.layer_id
    expert = r.expert_id if r.counts is None else r.counts.expert_id
    if n_layers and (i := first_bad(layer >= n_layers)) is not None:
        raise RoutingInputError(path, f"row {i}", f"layer {int(layer[i])}: {src} has {n_layers} layers")
    if n_experts and (i := first_bad(expert >= n_experts)) is not None:
        raise RoutingInputError(path, f"row {i}", f"expert {int(expert[i])}: {src} has {n_experts} experts per layer")
    if len(r) and r.counts is None:
        gen = r.phase == GENERATE
        if (i := first_bad(gen & (r.step < 0))) is not None:
            raise RoutingInputError(path, f"row {i}", "a generated token without a decode step")


def ingest_routes(
    con: duckdb.DuckDBPyConnection,
    routes: Routes,
    *,
    model_id: str | None = None,
    name: str | None = None,
    experiment: str | None = None,
    domain: str | None = None,
    prompt: str | None = None,
    n_predict: int | None = None,
    tags: dict[str, str] | None = None,
    source_path: str | os.PathLike | None = None,
    file_size_bytes: int | None = None,
    experts_used: int | None = None,
    replace: bool = False,
    attach_to: str | None = None,
) -> RoutingResult:
    """Write one run's routing inside the caller's transaction; see the module doc."""
    path = Path(source_path) if source_path is not None else Path(routes.source_format)
    facts = model_facts(con, model_id)
    _check(path, routes, facts)
    r = routes.sorted()
    warnings = list(r.warnings)
    if attach_to is None:
        run_id = _digest(r)
        run_name = name or r.run_name or path.stem
        existing = con.execute(load_sql("routing/existing_run.sql"), {"run_id": run_id}).fetchall()
        if existing and not replace:
            return RoutingResult(run_id, False, existing[0][0], r.source_format,
                                 warnings=[f"already ingested as run {run_id} ({existing[0][0]}); nothing changed "
                                           "(use --replace to ingest it again)"])
        if existing:
            delete_run(con, run_id)
    else:
        run_id, run_name = attach_to, name or attach_to
    # k: what the recorder says it used, else the option, else the model, else the ranks seen.
    if r.experts_used:
        k, k_source = r.experts_used, "recorder"
        if experts_used is not None and experts_used != k:
            warnings.append(f"--experts-used {experts_used} ignored: the recorder says k = {k}")
    elif experts_used is not None:
        k, k_source = experts_used, "option"
    elif facts and facts.k:
        k, k_source = facts.k, "model"
    elif len(r):
        k, k_source = int(r.rank.max()) + 1, "observed"
    else:
        k, k_source = None, None
    if facts and facts.k and k and k != facts.k:
        warnings.append(f"k = {k} ({k_source}) differs from the model's expert_used_count {facts.k}")

    tokens = r.token_table()
    n_gen = int(np.count_nonzero(np.asarray(tokens.phase) == GENERATE))
    layer_bytes = r.layer_bytes
    if facts is not None:
        bytes_source, dense = "layout", facts.dense_bytes_per_token
    elif layer_bytes is not None:
        bytes_source, dense = "recorder", int(layer_bytes.dense_bytes.sum())
    else:
        bytes_source, dense = None, None
    routing_only = attach_to is None
    if routing_only:
        tag_items = sorted((tags or {}).items())
        n_passes = int(len(np.unique(r.pass_id[r.pass_id >= 0]))) if len(r) else 0
        con.execute(load_sql("routing/run_row.sql"), {
            "run_id": run_id, "run_name": run_name, "experiment": experiment, "domain": domain, "prompt": prompt,
            "n_predict": n_predict, "model_id": model_id, "source_path": str(source_path) if source_path else None,
            "source_format": r.source_format, "n_passes": n_passes, "experts_used": k,
            "experts_used_source": k_source, "file_size_bytes": file_size_bytes,
            "tag_keys": [a for a, _ in tag_items], "tag_values": [b for _, b in tag_items]})
    _append(con, "token_routes", _route_table(run_id, r))
    _append(con, "tokens", _token_table(run_id, tokens))
    if layer_bytes is not None:
        _append(con, "routing_layer_bytes", pa.table({
            "run_id": dictionary_column(np.zeros(len(layer_bytes.layer_id), np.int8), [run_id]),
            "layer_id": column(np.asarray(layer_bytes.layer_id, np.int32)),
            "expert_bytes": column(np.asarray(layer_bytes.expert_bytes, np.int64)),
            "dense_bytes": column(np.asarray(layer_bytes.dense_bytes, np.int64))}))
    if r.counts is not None:
        c = r.counts
        _append(con, "routing_counts", pa.table({
            "run_id": dictionary_column(np.zeros(len(c.layer_id), np.int8), [run_id]),
            "layer_id": column(np.asarray(c.layer_id, np.int32)),
            "expert_id": column(np.asarray(c.expert_id, np.int32)),
            "activations": column(np.asarray(c.count, np.int64))}))
    if routing_only:
        _step_selections(con, run_id, r)
    # a repacked model: renumbering each layer's ids one to one keeps step_selections' grouping
    expert_permutation.to_original_ids(con, model_id, run_id, ("token_routes", "routing_counts", "step_selections"))
    untrusted = int(np.count_nonzero(~r.trusted))
    con.execute(load_sql("routing/routing_run.sql"), {
        "run_id": run_id, "routing_only": routing_only, "n_layers": r.n_layers, "n_experts": r.n_experts,
        "n_tokens": len(tokens), "n_prompt_tokens": len(tokens) - n_gen, "n_generated_tokens": n_gen,
        "counts_only": r.counts is not None, "untrusted_rows": untrusted, "bytes_source": bytes_source,
        "dense_bytes_per_token": dense})
    return RoutingResult(run_id, True, run_name, r.source_format, len(r), len(tokens), n_gen,
                         r.counts is not None, warnings)


def read_routing_file(con: duckdb.DuckDBPyConnection | None, path: str | os.PathLike, *, fmt: str | None = None,
                      model_id: str | None = None, experts_used: int | None = None, routing: str | None = None,
                      norm_topk: bool = False, prompt_tokens: int | None = None, layout: str = "split",
                      force_restricted: bool = False) -> list[Routes]:
    """Decode a routing file; k and the MoE layer count come from the option or the model."""
    facts = model_facts(con, model_id) if con is not None else None
    k = experts_used if experts_used is not None else (facts.k if facts else None)
    return detect.read(Path(path), fmt, experts_used=k, n_layers=facts.n_moe_layers if facts else None,
                       routing=routing, norm_topk=norm_topk, prompt_tokens=prompt_tokens, layout=layout,
                       force_restricted=force_restricted)


def ingest_routing_file(con: duckdb.DuckDBPyConnection, path: str | os.PathLike, *, fmt: str | None = None,
                        model_id: str | None = None, name: str | None = None, experts_used: int | None = None,
                        routing: str | None = None, norm_topk: bool = False, prompt_tokens: int | None = None,
                        layout: str = "split", replace: bool = False, **run_facts) -> list[RoutingResult]:
    """Every run of one routing file, inside the caller's transaction (all of them or none)."""
    path = Path(path)
    decoded = read_routing_file(con, path, fmt=fmt, model_id=model_id, experts_used=experts_used, routing=routing,
                                norm_topk=norm_topk, prompt_tokens=prompt_tokens, layout=layout)
    size = path.stat().st_size
    results = []
    keeps_names = decoded[0].source_format in (interchange.FORMAT_CSV, interchange.FORMAT_PARQUET)
    for routes in decoded:
        run_name = name  # one run: the option, else the recorder's name, else the file's stem
        if len(decoded) > 1 and (name or not keeps_names):
            run_name = f"{name or path.stem} {routes.run_name}"
        results.append(ingest_routes(con, routes, model_id=model_id, name=run_name, source_path=path,
                                     file_size_bytes=size, experts_used=experts_used, replace=replace, **run_facts))
    return results


def export_routes(con: duckdb.DuckDBPyConnection, run_ids: list[str], out: str | os.PathLike) -> int:
    """Write the runs' token routes (all runs for an empty list) in the interchange format; rows written."""
    table = con.sql(load_sql("routing/export_routes.sql"), params={"run_ids": run_ids}).to_arrow_table()
    table = table.cast(interchange.SCHEMA)
    interchange.write(table, Path(out))
    return table.num_rows
