"""Overlaps and gaps of model layouts, as `moewh check layout` reports them."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ..db.lookup import all_model_ids, resolve_model
from ..db.sqlfiles import load_sql


@dataclass
class LayoutCheck:
    model_id: str
    model_name: str
    n_layout_rows: int
    n_overlaps: int
    overlap_bytes: int
    n_gaps: int
    gap_bytes: int
    overlaps: pa.Table  # the first `limit` overlaps, in file order
    gaps: pa.Table  # the first `limit` gaps, in file order

    @property
    def ok(self) -> bool:
        # Gaps waste bytes but break nothing; two rows claiming the same bytes is a broken layout.
        return self.n_overlaps == 0


def check_layouts(con: duckdb.DuckDBPyConnection, model: str | None, limit: int = 20) -> list[LayoutCheck]:
    """One check per model: ``model`` (id, prefix or name) or, when None, every model."""
    ids = [resolve_model(con, model)] if model is not None else all_model_ids(con)
    if not ids:
        resolve_model(con, None)  # raises the "no model yet" message
    checks = []
    for model_id in ids:
        params = {"model_id": model_id}
        summary = con.sql(load_sql("layout/check_summary.sql"), params=params).fetchall()[0]
        listed = {"model_id": model_id, "limit": limit}
        checks.append(LayoutCheck(
            model_id, *summary,
            overlaps=con.sql(load_sql("layout/check_overlaps.sql"), params=listed).to_arrow_table(),
            gaps=con.sql(load_sql("layout/check_gaps.sql"), params=listed).to_arrow_table(),
        ))
    return checks
