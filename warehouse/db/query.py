"""Read-only SQL over the warehouse, with bound parameters."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ..errors import UsageError
from .store import open_store


def parse_params(pairs: list[str]) -> dict[str, object]:
    """``name=value`` pairs; values that read as numbers are bound as numbers."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--param takes name=value, got {pair!r}")
        value: object = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                pass
        params[name] = value
    return params


def run_query(db: str, sql: str, params: dict[str, object] | None = None) -> pa.Table:
    with open_store(db, read_only=True) as store:
        try:
            return store.con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise UsageError(f"query failed: {exc}") from None
