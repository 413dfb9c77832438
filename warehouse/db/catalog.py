"""What the database holds: its tables, their columns and keys, read from DuckDB's catalogue.

The one place that asks; everything else (the view loader, the lake, the ingest's insert
schemas, run deletion, the dashboard's health check) goes through these functions, so a table
added by a migration is seen everywhere without being named again in Python.
"""

from __future__ import annotations

import duckdb

from .sqlfiles import load_sql

# Bookkeeping of this database file itself, not warehouse data: never exported or deleted.
BOOKKEEPING = ("schema_migrations", "view_sets")


def columns(con: duckdb.DuckDBPyConnection, schema: str = "main",
            base_tables_only: bool = True) -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, DuckDB type)] in column order."""
    out: dict[str, list[tuple[str, str]]] = {}
    rows = con.execute(load_sql("catalog/columns.sql"),
                       {"schema": schema, "base_tables_only": base_tables_only}).fetchall()
    for table, column, dtype in rows:
        out.setdefault(table, []).append((column, dtype))
    return out


def table_columns(con: duckdb.DuckDBPyConnection, table: str, schema: str = "main") -> list[str]:
    """Column names of one table or view, in order; empty if it does not exist."""
    return [c for c, _ in columns(con, schema, base_tables_only=False).get(table, [])]


def has_table(con: duckdb.DuckDBPyConnection, table: str, schema: str = "main") -> bool:
    return table in columns(con, schema)


def data_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The warehouse's base tables without the bookkeeping ones."""
    return {t: c for t, c in columns(con).items() if t not in BOOKKEEPING}


def run_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every base table with a run_id column, the runs table last (rows of a run go before it)."""
    tables = sorted(t for t, cols in data_tables(con).items() if "run_id" in {c for c, _ in cols})
    return [t for t in tables if t != "runs"] + (["runs"] if "runs" in tables else [])


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    row = con.execute(load_sql("catalog/primary_key.sql"), {"table": table}).fetchone()
    return list(row[0]) if row else []
