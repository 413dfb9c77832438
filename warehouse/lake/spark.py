"""The v1 views on Apache Spark, over a Parquet lake written by ``warehouse.lake.parquet``.

A session registers each lake table as an external, partitioned Parquet table in database
``moewh_lake`` (declared from the manifest's column types, so partition columns keep their
names and types, and a table without rows still exists), exposes it under its warehouse name
in ``default`` with the warehouse's column order (``warehouse.lake.ddl.spark_table``). Before
a query runs, the v1 views it reads (and their dependencies) are created in database ``v1``
from ``warehouse.db.viewset.transpile('v1', 'spark')``. Queries then read exactly as they do
against DuckDB: ``select * from v1.expert_hotness``.

The catalog is Spark's in-memory one, private to the session: nothing is written to a shared
metastore. With ``master`` set to a cluster URL the same code runs there; the lake must then
be at a path every executor can read (a shared file system, or an hdfs:// / s3a:// URI).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..db import viewset as views
from ..db.sqlfiles import bare_ident, ident, render_sql
from ..errors import DatabaseError, InputError, UsageError
from .ddl import LAKE_DATABASE, spark_table
from .parquet import MANIFEST, LakeTable, check_manifest, manifest_tables, read_manifest

_LOG4J = Path(__file__).with_name("spark_log4j2.properties")

# pyspark warns about pandas 3 on every Arrow conversion; nothing here goes through pandas.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
DEFAULT_MASTER = "local[*]"


def lake_uri(lake: str) -> str:
    """A URI Spark can read: URIs pass through, local paths become absolute file: URIs."""
    if "://" in lake or lake.startswith("file:"):
        return lake.rstrip("/")
    path = Path(lake).resolve()
    if not (path / MANIFEST).is_file():
        raise InputError(path / MANIFEST, "no lake manifest here; write a lake with `moewh export parquet DIR`")
    return path.as_uri()


def start_session(master: str | None = None, app_name: str = "moewh", shuffle_partitions: int = 8,
                  conf: dict[str, str] | None = None, java_options: str = ""):
    """A SparkSession for lake queries: UTC session time zone, no UI, a throw-away catalog.

    A local master binds the driver to 127.0.0.1; for a cluster the driver must be reachable,
    so Spark's own defaults (or spark-defaults.conf) decide. ``conf`` adds Spark settings and
    ``java_options`` driver JVM flags.
    """
    import os

    from pyspark.sql import SparkSession

    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise UsageError("Spark needs Java 17 or newer: no `java` on PATH and JAVA_HOME is not set "
                         "(Debian/Ubuntu: apt-get install default-jre-headless)")
    master = master or DEFAULT_MASTER
    scratch = tempfile.mkdtemp(prefix="moewh-spark-")
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.warehouse.dir", str(Path(scratch) / "spark-warehouse"))
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.driver.extraJavaOptions",
                f"-Dlog4j2.configurationFile={_LOG4J.as_uri()} {java_options}".strip())
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    if master.startswith("local"):
        builder = (builder.config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.local.dir", scratch))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # JVM missing or cluster unreachable: say which
        shutil.rmtree(scratch, ignore_errors=True)
        raise UsageError(f"cannot start Spark (master {master}): {str(exc).splitlines()[0]}") from None
    spark.sparkContext.setLogLevel("FATAL")
    # pyspark logs each failed query's context itself; the caller reports the error once
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    spark._moewh_scratch = scratch  # removed by stop_session
    return spark


def stop_session(spark) -> None:
    scratch = getattr(spark, "_moewh_scratch", None)
    spark.stop()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


def read_lake_manifest(spark, uri: str) -> dict:
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return read_manifest(Path(unquote(urlparse(uri).path)))
    # hdfs://, s3a://: read through Spark's file systems
    try:
        text = spark.read.text(f"{uri}/{MANIFEST}", wholetext=True).first()[0]
    except Exception as exc:  # missing file, unknown scheme, no credentials
        raise InputError(f"{uri}/{MANIFEST}", f"cannot read the lake manifest: {_first_line(exc)}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{uri}/{MANIFEST}", f"not a readable lake manifest: {exc}") from None
    check_manifest(manifest, f"{uri}/{MANIFEST}")
    return manifest


def _register_table(spark, uri: str, t: LakeTable) -> None:
    for statement in spark_table(t, f"{uri}/{t.name}"):
        spark.sql(statement)


def _state(spark) -> dict:
    # What this session already holds, so a second SparkLake on it does no DDL twice.
    if not hasattr(spark, "_moewh_state"):
        spark._moewh_state = {"lake": None, "views": set()}
    return spark._moewh_state


def register_lake(spark, lake: str) -> dict:
    """Register the lake's tables in ``spark`` (``default.<table>``); returns the manifest."""
    uri = lake_uri(lake)
    manifest = read_lake_manifest(spark, uri)
    state = _state(spark)
    stamp = (uri, manifest.get("written_at"), json.dumps(manifest["tables"], sort_keys=True))
    if state["lake"] == stamp:
        return manifest
    spark.sql(render_sql("lake/spark/create_database.sql", database=ident(LAKE_DATABASE, "spark")))
    spark.catalog.setCurrentDatabase("default")
    for t in manifest_tables(manifest):
        _register_table(spark, uri, t)
    state["lake"] = stamp
    return manifest


def referenced_views(sql: str, view_set: str = "v1") -> set[str] | None:
    """Views of ``view_set`` a Spark SQL text names; None when that cannot be told (then all)."""
    quiet = logging.getLogger("sqlglot")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "falling back to a Command" is no news here
    try:
        trees = sqlglot.parse(sql, read="spark")
    except sqlglot.errors.SqlglotError:
        return None
    finally:
        quiet.setLevel(level)
    names: set[str] = set()
    for tree in trees:
        if tree is None or isinstance(tree, exp.Command):
            return None
        names |= {t.name for t in tree.find_all(exp.Table) if t.db == view_set}
    return names


def create_views(spark, view_set: str = "v1", names: set[str] | None = None) -> None:
    """Create the set's views (``names`` and what they depend on, or all) in database ``view_set``.

    Spark analyses a view when it is created, which takes a good fraction of a second per
    view, so a query creates only the views it reads.
    """
    defs = {d.name: d for d in views.definitions(view_set)}
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name in defs and name not in wanted:
            wanted.add(name)
            for dep in defs[name].deps:
                add(dep)

    for name in defs if names is None else names:
        add(name)
    done = _state(spark)["views"]
    todo = [d for d in defs.values() if d.name in wanted and d.qualified not in done]
    if not todo:
        return
    spark.sql(render_sql("lake/spark/create_database.sql", database=bare_ident(view_set)))
    spark.catalog.setCurrentDatabase("default")  # views resolve base tables in default
    statements = dict(zip(defs, views.transpile(view_set, "spark"), strict=True))
    for d in todo:  # definitions() is in dependency order
        try:
            spark.sql(statements[d.name])
        except Exception as exc:
            raise DatabaseError(f"{d.path}: Spark cannot create {d.qualified}: {_first_line(exc)}") from None
        done.add(d.qualified)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def run_sql(spark, sql: str) -> pa.Table:
    """Run one Spark SQL query and return its result as an Arrow table."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                    category=FutureWarning)
            return spark.sql(sql).toArrow()
    except Exception as exc:
        if exc.__class__.__module__.startswith(("pyspark", "py4j")):
            raise UsageError(f"Spark query failed: {_first_line(exc)}") from None
        raise


class SparkLake:
    """A Spark session with a lake registered; ``sql()`` creates the views a query reads, runs
    it and returns an Arrow table.

    ``with SparkLake("lake/") as lake: lake.sql("select * from v1.runs")``. A session passed
    as ``spark``, or one already active in the process, is used and not stopped on exit; its
    catalog then gains the lake tables and the views, so give it an in-memory catalog rather
    than a shared metastore.
    """

    def __init__(self, lake: str, master: str | None = None, spark=None, view_set: str = "v1",
                 progress: bool = False):
        self._owns = spark is None
        self.spark = None
        self.view_set = view_set
        uri = lake_uri(str(lake))  # a missing or broken local lake fails before the JVM starts
        if uri.startswith("file:"):
            read_lake_manifest(None, uri)
        if spark is None:
            from pyspark.sql import SparkSession

            # Inside pyspark, a notebook or a test session, use the session that is running
            # (Spark allows one per process) and leave it running afterwards.
            spark = SparkSession.getActiveSession()
            self._owns = spark is None
        if spark is None and progress:
            print(f"starting Spark (master {master or DEFAULT_MASTER}) ...", file=sys.stderr)
        self.spark = spark if spark is not None else start_session(master)
        try:
            self.manifest = register_lake(self.spark, str(lake))
        except BaseException:
            self.close()
            raise

    def sql(self, query: str) -> pa.Table:
        create_views(self.spark, self.view_set, referenced_views(query, self.view_set))
        return run_sql(self.spark, query)

    def close(self) -> None:
        if self._owns and self.spark is not None:
            stop_session(self.spark)
            self.spark = None

    def __enter__(self) -> SparkLake:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
