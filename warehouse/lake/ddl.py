"""SQL that points another engine at a Parquet lake: its tables as external, partitioned tables.

Spark statements are the ones ``warehouse.lake.spark`` runs itself (and are tested); Trino
statements target the Hive connector and are generated from the same manifest but not run by
the test suite. Both leave the v1 views to ``moewh views sql --dialect spark|trino``.
"""

from __future__ import annotations

from sqlglot import exp

from ..db.sqlfiles import Fragment, bare_ident, ident, idents, literal, render_sql, statement
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


def _columns(t: LakeTable, dialect: str, sep: str = ", ") -> Fragment:
    return Fragment(sep.join(f"{ident(c, dialect)} {column_type(d, dialect)}" for c, d in _partition_last(t)))


def spark_table(t: LakeTable, location: str) -> list[str]:
    """Register one lake table in Spark: external table in moewh_lake, then default.<name>
    with the warehouse's column order."""
    raw = Fragment(f"{ident(LAKE_DATABASE, 'spark')}.{ident(t.name, 'spark')}")
    where = literal(location, "spark")
    if t.partition_by:
        out = [render_sql("lake/spark/drop_table.sql", table=raw),
               render_sql("lake/spark/create_partitioned_table.sql", table=raw, columns=_columns(t, "spark"),
                          part=ident(t.partition_by, "spark"), location=where),
               render_sql("lake/spark/recover_partitions.sql", table=raw)]
    else:
        out = [render_sql("lake/spark/drop_table.sql", table=raw),
               render_sql("lake/spark/create_table.sql", table=raw, columns=_columns(t, "spark"), location=where)]
    out.append(render_sql("lake/spark/table_view.sql", name=ident(t.name, "spark"),
                          columns=idents(t.column_names, "spark"), table=raw))
    return [s.strip() for s in out]


def trino_table(t: LakeTable, location: str, catalog: str, schema: str) -> list[str]:
    """Register one lake table through Trino's Hive connector and load its partition list."""
    where = {"catalog": bare_ident(catalog), "schema": bare_ident(schema), "table": ident(t.name, "trino")}
    cols = _columns(t, "trino", ",\n  ")
    if not t.partition_by:
        return [render_sql("lake/trino/create_table.sql", **where, columns=cols,
                           location=literal(location, "trino")).strip()]
    return [render_sql("lake/trino/create_partitioned_table.sql", **where, columns=cols,
                       location=literal(location, "trino"), part=literal(t.partition_by, "trino")).strip(),
            render_sql("lake/trino/sync_partitions.sql", catalog=bare_ident(catalog),
                       schema_name=literal(schema, "trino"), table_name=literal(t.name, "trino")).strip()]


def lake_ddl(manifest: dict, location: str, dialect: str, catalog: str = "hive", schema: str = "moewh",
             view_set: str = "v1") -> list[str]:
    """Every statement an engine needs for the lake at ``location`` (a URI its workers read),
    the view set included, in order."""
    location = location.rstrip("/")
    out: list[str] = []
    if dialect == "spark":
        out.append(render_sql("lake/spark/create_database.sql", database=ident(LAKE_DATABASE, "spark")))
        out.append(statement("lake/spark/use_default.sql"))
        for t in manifest_tables(manifest):
            out += spark_table(t, f"{location}/{t.name}")
        out.append(render_sql("lake/spark/create_database.sql", database=bare_ident(view_set)))
    elif dialect == "trino":
        out.append(render_sql("lake/trino/create_schema.sql", catalog=bare_ident(catalog), schema=bare_ident(schema)))
        for t in manifest_tables(manifest):
            out += trino_table(t, f"{location}/{t.name}", catalog, schema)
        out.append(render_sql("lake/trino/create_schema.sql", catalog=bare_ident(catalog),
                              schema=bare_ident(view_set)))
        out.append(render_sql("lake/trino/use_schema.sql", catalog=bare_ident(catalog), schema=bare_ident(schema)))
    else:
        raise ValueError(f"no lake DDL for dialect {dialect!r}")
    out = [s.strip() for s in out]
    definitions(view_set)  # fails early on a broken view set
    out += transpile(view_set, dialect)
    return out
