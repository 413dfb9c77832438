"""SQL that points another engine at a Parquet lake: its tables as external, partitioned tables.

Spark statements are the ones ``warehouse.lake.spark`` runs itself (and are tested); Trino
statements target the Hive connector and are generated from the same manifest but not run by
the test suite. Both leave the v1 views to ``moewh views sql --dialect spark|trino``.
"""

from __future__ import annotations

from sqlglot import exp

from ..db.viewset import definitions, transpile
from .parquet import LakeTable, manifest_tables

LAKE_DATABASE = "moewh_lake"

# Parquet's unsigned integers, as Spark reads them (one size up; UINT_64 as DECIMAL(20,0)).
_UNSIGNED = {
    exp.DataType.Type.UTINYINT: "SMALLINT",
    exp.DataType.Type.USMALLINT: "INT",
    exp.DataType.Type.UINT: "BIGINT",
    exp.DataType.Type.UBIGINT: "DECIMAL(20, 0)",
}


def column_type(duckdb_type: str, dialect: str) -> str:
    """A lake column's type in ``dialect`` (spark or trino), from its DuckDB type."""
    tree = exp.DataType.build(duckdb_type, dialect="duckdb")

    def widen(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this in _UNSIGNED:
            return exp.DataType.build(_UNSIGNED[node.this], dialect="spark")
        return node

    return tree.transform(widen).sql(dialect=dialect)


def _partition_last(t: LakeTable) -> list[tuple[str, str]]:
    # Spark and Hive list partition columns after the data columns.
    cols = [(c, d) for c, d in t.columns if c != t.partition_by]
    if t.partition_by:
        cols.append((t.partition_by, dict(t.columns)[t.partition_by]))
    return cols


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def spark_table(t: LakeTable, location: str) -> list[str]:
    """Register one lake table in Spark: external table in moewh_lake, then default.<name>
    with the warehouse's column order."""
    raw = f"{LAKE_DATABASE}.{_bq(t.name)}"
    ddl = ", ".join(f"{_bq(c)} {column_type(d, 'spark')}" for c, d in _partition_last(t))
    part = f" PARTITIONED BY ({_bq(t.partition_by)})" if t.partition_by else ""
    out = [
        f"DROP TABLE IF EXISTS {raw}",
        f"CREATE TABLE {raw} ({ddl}) USING parquet{part} LOCATION {_lit(location)}",
    ]
    if t.partition_by:
        out.append(f"ALTER TABLE {raw} RECOVER PARTITIONS")
    ordered = ", ".join(_bq(c) for c in t.column_names)
    out.append(f"CREATE OR REPLACE VIEW default.{_bq(t.name)} AS SELECT {ordered} FROM {raw}")
    return out


def trino_table(t: LakeTable, location: str, catalog: str, schema: str) -> list[str]:
    """Register one lake table through Trino's Hive connector and load its partition list."""
    name = f"{catalog}.{schema}.{_dq(t.name)}"
    cols = ",\n  ".join(f"{_dq(c)} {column_type(d, 'trino')}" for c, d in _partition_last(t))
    props = [f"external_location = '{location}'", "format = 'PARQUET'"]
    if t.partition_by:
        props.append(f"partitioned_by = ARRAY['{t.partition_by}']")
    out = [f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n) WITH ({', '.join(props)})"]
    if t.partition_by:
        out.append(f"CALL {catalog}.system.sync_partition_metadata('{schema}', '{t.name}', 'FULL')")
    return out


def lake_ddl(manifest: dict, location: str, dialect: str, catalog: str = "hive", schema: str = "moewh",
             view_set: str = "v1") -> list[str]:
    """Every statement an engine needs for the lake at ``location`` (a URI its workers read),
    the view set included, in order."""
    location = location.rstrip("/")
    out: list[str] = []
    if dialect == "spark":
        out.append(f"CREATE DATABASE IF NOT EXISTS {LAKE_DATABASE}")
        out.append("USE default")
        for t in manifest_tables(manifest):
            out += spark_table(t, f"{location}/{t.name}")
        out.append(f"CREATE DATABASE IF NOT EXISTS {view_set}")
    elif dialect == "trino":
        out.append(f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema}")
        for t in manifest_tables(manifest):
            out += trino_table(t, f"{location}/{t.name}", catalog, schema)
        out.append(f"CREATE SCHEMA IF NOT EXISTS {catalog}.{view_set}")
        out.append(f"USE {catalog}.{schema}")
    else:
        raise ValueError(f"no lake DDL for dialect {dialect!r}")
    definitions(view_set)  # fails early on a broken view set
    out += transpile(view_set, dialect)
    return out
