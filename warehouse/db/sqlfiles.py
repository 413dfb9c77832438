"""SQL statements kept as files under sql/ (never as long strings in Python)."""

from __future__ import annotations

from functools import cache

from ..paths import sql_dir


@cache
def load_sql(relative: str) -> str:
    """Text of ``sql/<relative>``, e.g. ``load_sql("ingest/passes.sql")``."""
    return (sql_dir() / relative).read_text()
