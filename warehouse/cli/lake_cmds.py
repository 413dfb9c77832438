"""`moewh export parquet`, `moewh ingest parquet` and `moewh spark query`: the Parquet lake."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.store import open_store
from ..errors import UsageError
from .app import app, export_app, ingest_app, state
from .output import check_format, emit

spark_app = typer.Typer(
    help="Run SQL and the v1 views on Apache Spark over a Parquet lake (see `moewh export parquet`).",
    no_args_is_help=True,
)
app.add_typer(spark_app, name="spark")


@export_app.command("parquet")
def export_parquet(
    lake: Path = typer.Argument(..., metavar="DIR", help="Lake directory; created if missing."),
    run: list[str] = typer.Option(None, "--run", metavar="RUN",
                                  help="Export only this run (id, or a unique name); repeatable. "
                                       "Its model goes along."),
) -> None:
    """Write the base tables as a Hive-partitioned Parquet lake, plus DIR/manifest.json.

    Run tables are partitioned by run_id (DIR/records/run_id=<id>/...), model tables by
    model_id. Exporting into an existing lake replaces exactly the exported runs' and models'
    partitions and keeps everything else, so several warehouses can feed one lake.

    \b
    Example:
      moewh export parquet lake/ --run synthetic-code
    """
    from ..lake.parquet import export_parquet as export

    with open_store(state.db, read_only=True) as store:
        summary = export(store.con, lake, runs=run or None, progress=True)
    typer.echo(summary.describe("exported"), err=True)


@ingest_app.command("parquet")
def ingest_parquet(
    lake: Path = typer.Argument(..., metavar="DIR", help="Lake directory written by `moewh export parquet`."),
    run: list[str] = typer.Option(None, "--run", metavar="RUN",
                                  help="Load only this run (id or unique name) and its model; repeatable."),
) -> None:
    """Load a Parquet lake (or some of its runs) into the warehouse, in one transaction.

    Runs and models already in the warehouse are replaced by the lake's copy, so loading the
    same lake twice changes nothing. Row counts are checked against the lake's manifest.
    """
    from ..lake.parquet import import_parquet

    with open_store(state.db) as store, store.transaction() as con:
        summary = import_parquet(con, lake, runs=run or None, progress=True)
    typer.echo(summary.describe("loaded"), err=True)


@spark_app.command("query")
def spark_query(
    lake: str = typer.Argument(..., metavar="LAKE_DIR",
                               help="Lake directory, or a URI every executor can read (hdfs://, s3a://)."),
    sql: str = typer.Argument(None, help="Spark SQL to run; omit when using --file."),
    file: Path = typer.Option(None, "--file", "-f", exists=True, dir_okay=False, help="Read the SQL from a file."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet (parquet needs --output)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    master: str = typer.Option(None, "--master", metavar="URL",
                               help="Spark master, e.g. spark://host:7077; default local[*] (needs Java 17+)."),
) -> None:
    """Run SQL on Spark over a lake, with the base tables and the v1 views registered.

    Base tables keep their warehouse names (records, runs, ...); views live in database v1,
    created from `moewh views sql --dialect spark`. --format json prints one JSON array of row
    objects, as `moewh query` does.

    \b
    Example:
      moewh spark query lake/ "select * from v1.expert_hotness where rank_in_layer <= 3"
    """
    from ..lake.spark import SparkLake

    if (sql is None) == (file is None):
        raise UsageError("give the SQL as an argument or with --file, not both")
    check_format(fmt, output)
    text = file.read_text() if file is not None else sql
    with SparkLake(lake, master=master, progress=True) as session:
        table = session.sql(text)
    emit(table, fmt, output)


@export_app.command("ddl")
def export_ddl(
    lake: Path = typer.Argument(..., metavar="DIR", help="Lake directory (its manifest.json is read)."),
    dialect: str = typer.Option("trino", "--dialect", help="trino (Hive connector) | spark"),
    location: str = typer.Option(None, "--location", metavar="URI",
                                 help="Where the engine's workers find the lake, e.g. s3a://bucket/lake; "
                                      "default: DIR as a file: URI."),
    catalog: str = typer.Option("hive", "--catalog", help="Trino catalog of the Hive connector."),
    schema: str = typer.Option("moewh", "--schema", help="Trino schema for the lake tables."),
) -> None:
    """Print SQL that registers a lake's tables and the v1 views in Trino or Spark.

    Tables become external Parquet tables partitioned like the lake, partitions are loaded
    from the directories, then the v1 views follow (as `moewh views sql --dialect ...`).

    \b
    Example:
      moewh export ddl lake/ --dialect trino --location s3a://bucket/lake > trino.sql
    """
    from ..lake.ddl import lake_ddl
    from ..lake.parquet import read_manifest

    if dialect not in ("trino", "spark"):
        raise UsageError(f"--dialect is trino or spark, not {dialect!r}")
    manifest = read_manifest(lake)
    for statement in lake_ddl(manifest, location or lake.resolve().as_uri(), dialect, catalog, schema):
        typer.echo(statement + ";\n")
