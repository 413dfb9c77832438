"""Finding an ingested model from what a user types: model_id, a unique id prefix, or a name."""

from __future__ import annotations

import duckdb

from .errors import UsageError
from .sqlfiles import load_sql


def resolve_model(con: duckdb.DuckDBPyConnection, spec: str | None) -> str:
    """model_id for ``spec``; with ``spec`` None the warehouse must hold exactly one model."""
    models = con.execute(load_sql("layout/models.sql")).fetchall()
    if not models:
        raise UsageError("the warehouse holds no model yet; add one with `moewh ingest model FILE.gguf`, "
                         "`moewh ingest layout FILE` or `moewh ingest demo`")
    listing = ", ".join(f"{mid} ({name})" for mid, name in models[:10])
    if spec is None:
        if len(models) == 1:
            return models[0][0]
        raise UsageError(f"the warehouse holds {len(models)} models; choose one with --model: {listing}")
    for predicate in (lambda mid, name: mid == spec,
                      lambda mid, name: name == spec,
                      lambda mid, name: mid.startswith(spec)):
        hits = [mid for mid, name in models if predicate(mid, name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UsageError(f"--model {spec!r} matches {len(hits)} models ({', '.join(hits[:10])}); "
                             "give more of the model_id")
    raise UsageError(f"no model matches --model {spec!r}; models: {listing}")


def all_model_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every model_id, in the order listings show them."""
    return [row[0] for row in con.execute(load_sql("layout/models.sql")).fetchall()]
