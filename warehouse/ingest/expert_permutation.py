"""Traces of a repacked model, back in original expert ids.

A file written by ``moewh layout repack --order hot-first|coact`` records which original
expert sits at each position (``moewh.expert_permutation.N``); llama.cpp running it reports
positions. Trace, routing and capture ingest call ``to_original_ids`` after writing a run, so
every view of the run speaks of the same experts as the original model (whose slices model
ingest names by the same ids). ``record_experts`` keeps the ids as the tracer wrote them.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from ..db.sqlfiles import ident, load_sql, render_sql
from ..formats.gguf.expert_permutation import file_permutations


def to_original_ids(con: duckdb.DuckDBPyConnection, model_id: str | None, run_id: str, tables: tuple[str, ...]) -> bool:
    """Renumber the run's expert ids in ``tables``; False (nothing done) unless the model is repacked."""
    if model_id is None:
        return False
    rows = con.execute(load_sql("ingest/model_permutation.sql"), {"model_id": model_id}).fetchall()
    if not rows:
        return False
    n_layers, n_experts = rows[0][0] or 0, rows[0][1] or 0
    perms = file_permutations({key: value for _, _, key, value in rows}, n_layers, n_experts, f"model {model_id}")
    layer, position = np.indices(perms.shape)
    con.register("_moewh_expert_permutation", pa.table({
        "layer_id": pa.array(layer.ravel(), pa.int32()), "position": pa.array(position.ravel(), pa.int32()),
        "expert_id": pa.array(perms.ravel(), pa.int32())}))
    try:
        for table in tables:
            con.execute(render_sql("ingest/permute_experts.sql", table=ident(table)), {"run_id": run_id})
    finally:
        con.unregister("_moewh_expert_permutation")
    return True
