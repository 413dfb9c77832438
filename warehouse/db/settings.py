"""Tunable parameters of the analysis views (the settings table), read and changed safely."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from ..errors import UsageError
from .sqlfiles import load_sql


def list_settings(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql(load_sql("settings/list.sql")).to_arrow_table()


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Change an existing setting. Every current setting is a positive integer (a byte size),
    and the views cast it, so anything else would only fail later inside a view."""
    current = {k: v for k, v, _ in con.execute(load_sql("settings/list.sql")).fetchall()}
    if key not in current:
        raise UsageError(f"no setting {key!r}; settings: {', '.join(sorted(current)) or 'none'}")
    if current[key].lstrip("-").isdigit() and not (value.isdigit() and int(value) > 0):
        raise UsageError(f"setting {key} takes a positive whole number, not {value!r}")
    con.execute(load_sql("settings/set.sql"), {"key": key, "value": value})
