"""Finding an ingested model or run from what a user types: its id, a unique name, or a unique
id prefix (tried in that order)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ..errors import UsageError
from .sqlfiles import load_sql


def pick(rows: list[tuple[str, str]], spec: str, kind: str) -> tuple[str, str]:
    """The (id, name) row ``spec`` names; ``kind`` ("model", "run") words the errors."""
    for matches in (lambda rid, name: rid == spec,
                    lambda rid, name: name == spec,
                    lambda rid, name: rid.startswith(spec)):
        hits = [(rid, name) for rid, name in rows if matches(rid, name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UsageError(f"{kind} {spec!r} matches {len(hits)} {kind}s "
                             f"({', '.join(h[0] for h in hits[:10])}); give more of the {kind}_id")
    listing = ", ".join(f"{rid} ({name})" for rid, name in rows[:10])
    raise UsageError(f"no {kind} matches {spec!r}; {kind}s: {listing or 'none'}")


def resolve_model(con: duckdb.DuckDBPyConnection, spec: str | None) -> str:
    """model_id for ``spec``; with ``spec`` None the warehouse must hold exactly one model."""
    models = con.execute(load_sql("layout/models.sql")).fetchall()
    if not models:
        raise UsageError("the warehouse holds no model yet; add one with `moewh ingest model FILE.gguf`, "
                         "`moewh ingest layout FILE` or `moewh ingest demo`")
    if spec is None:
        if len(models) == 1:
            return models[0][0]
        listing = ", ".join(f"{mid} ({name})" for mid, name in models[:10])
        raise UsageError(f"the warehouse holds {len(models)} models; choose one with --model: {listing}")
    return pick(models, spec, "model")[0]


def resolve_run(con: duckdb.DuckDBPyConnection, spec: str) -> tuple[str, str]:
    """(run_id, run_name) of the run ``spec`` names."""
    return pick(con.execute(load_sql("runs/ids.sql")).fetchall(), spec, "run")


def resolve_runs(con: duckdb.DuckDBPyConnection, specs: list[str]) -> list[str]:
    """run_ids of the runs ``specs`` name, in the order given, each once."""
    rows = con.execute(load_sql("runs/ids.sql")).fetchall()
    return list(dict.fromkeys(pick(rows, spec, "run")[0] for spec in specs))


def all_model_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every model_id, in the order listings show them."""
    return [row[0] for row in con.execute(load_sql("layout/models.sql")).fetchall()]


def all_run_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute(load_sql("runs/ids.sql")).fetchall()]


def list_runs(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per run with what a user needs to pick it by id or name (`moewh runs list`)."""
    return con.sql(load_sql("runs/list.sql")).to_arrow_table()

