"""The v1 views on Spark over an exported lake give the DuckDB results, row for row.

One local Spark session for the module (Java 17+ and pyspark, both installed by `make test`
and `.ci/run`). The warehouse is built through the real ingest paths (tests/spark_warehouse.py).
"""

from __future__ import annotations

import decimal
import json
import math

import pyarrow as pa
import pytest

from tests.spark_warehouse import build
from warehouse.db import viewset as views
from warehouse.db.store import open_store
from warehouse.lake.ddl import column_type
from warehouse.lake.parquet import export_parquet, read_manifest
from warehouse.lake.spark import SparkLake, start_session, stop_session

pytestmark = [pytest.mark.spark,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")]

# Every view of the set: the lake must reproduce each of them on Spark, row for row.
VIEWS = [d.name for d in views.definitions("v1")]


# Small data and a short-lived JVM: compiling with C1 only halves the module's CPU time. The
# flags change how the JVM compiles Spark, not what Spark computes (code generation stays on).
# C1 alone reserves only 48 MB for compiled code, which the 35 views' generated classes fill
# ("CodeCache is full", then every later query fails): reserve what tiered compilation would.
QUICK = {"java_options": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:ReservedCodeCacheSize=256m"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark")
    build(root / "w.duckdb", root)
    store = open_store(root / "w.duckdb", read_only=True)
    lake_dir = root / "lake"
    export_parquet(store.con, lake_dir)
    spark = start_session("local[2]", shuffle_partitions=2, **QUICK)
    lake = SparkLake(str(lake_dir), spark=spark)
    yield store.con, lake, lake_dir
    stop_session(spark)
    store.close()


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or (pa.types.is_decimal(t) and t.scale == 0):
        return "integer"  # DuckDB sums integers into HUGEINT, Spark into BIGINT: same values
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_list(t):
        return f"list<{_kind(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{_kind(t.key_type)}, {_kind(t.item_type)}>"
    return str(t)


def _value(v):
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, list) and v and all(isinstance(x, tuple) for x in v):
        return sorted(v)  # MAP entries
    return v


def _sort_key(row: tuple) -> tuple:
    # Floats can differ in the last bit (summation order differs between engines and threads),
    # so they take part in the ordering only rounded.
    return tuple(("" if v is None else f"{v:.9g}" if isinstance(v, float) else repr(v)) for v in row)


def assert_same_rows(duck: pa.Table, spark: pa.Table) -> None:
    assert spark.column_names == duck.column_names
    assert [_kind(f.type) for f in spark.schema] == [_kind(f.type) for f in duck.schema]
    a = sorted((tuple(_value(v) for v in r.values()) for r in duck.to_pylist()), key=_sort_key)
    b = sorted((tuple(_value(v) for v in r.values()) for r in spark.to_pylist()), key=_sort_key)
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        for name, x, y in zip(duck.column_names, ra, rb, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15), (name, ra, rb)
            else:
                assert x == y, (name, ra, rb)


@pytest.mark.parametrize("view", VIEWS)
def test_view_on_spark_equals_duckdb(env, view):
    con, lake, _ = env
    duck = con.sql(f"select * from v1.{view}").to_arrow_table()
    assert duck.num_rows > 0
    assert_same_rows(duck, lake.sql(f"select * from v1.{view}"))


def test_printed_spark_ddl_registers_the_lake_and_every_view(env, cli):
    # The path for spark-sql / spark-submit users: `moewh export ddl --dialect spark`, run as is.
    con, lake, lake_dir = env
    code, out, err = cli("export", "ddl", str(lake_dir), "--dialect", "spark")
    assert code == 0, err
    statements = [s.strip() for s in out.split(";\n") if s.strip()]
    assert sum(s.startswith("CREATE OR REPLACE VIEW v1.") for s in statements) == len(views.definitions("v1"))
    lake.spark.sql("DROP DATABASE IF EXISTS v1 CASCADE")  # the statements recreate every view
    for statement in statements:
        lake.spark.sql(statement)
    assert {t.name for t in lake.spark.catalog.listTables("v1")} == {d.name for d in views.definitions("v1")}
    query = "select * from v1.pass_bytes"
    assert_same_rows(con.sql(query).to_arrow_table(), lake.spark.sql(query).toArrow())


def test_views_cover_every_run_and_real_trace(env):
    con, lake, _ = env
    # the comparison above is only as good as the data: synthetic and edge-case runs all have
    # hot experts; the real trace is warm-up only (no decode steps), so it has no hotness rows
    runs = {r[0] for r in con.execute("select run_id from runs").fetchall()}
    hot = lake.sql("select run_id, sum(activations) as n from v1.expert_hotness group by run_id").to_pylist()
    # routing-only runs select through step_selections (generated tokens) or bring counts
    with_selections = {r[0] for r in con.execute(
        "select run_id from selections union select run_id from step_selections "
        "union select run_id from routing_counts").fetchall()}
    assert {r["run_id"] for r in hot if r["n"] > 0} == with_selections
    assert len(with_selections) >= 10 and {r["run_id"] for r in hot} <= runs
    real = con.execute("select run_id from runs where run_name = 'real'").fetchall()[0][0]
    assert real in runs and real not in {r["run_id"] for r in hot}


def test_base_tables_keep_names_order_and_types(env):
    con, lake, lake_dir = env
    manifest = read_manifest(lake_dir)
    for name, t in manifest["tables"].items():
        cols = lake.spark.table(name).schema
        assert [f.name for f in cols] == [c["name"] for c in t["columns"]], name
        assert [f.dataType.simpleString() for f in cols] == [
            lake.spark.sql(f"select cast(null as {column_type(c['type'], 'spark')}) as x").schema[0].dataType.simpleString()
            for c in t["columns"]], name
    # partition columns come back as the strings they were, on every row
    assert_same_rows(con.sql("select * from sources").to_arrow_table(), lake.sql("select * from sources"))
    assert_same_rows(con.sql("select * from tensors").to_arrow_table(), lake.sql("select * from tensors"))


def test_cli_spark_query_prints_json_rows(env, cli):
    con, _, lake_dir = env
    sql = "select run_id, count(*) as n from v1.expert_selections group by run_id order by run_id"
    code, out, err = cli("spark", "query", str(lake_dir), sql, "--format", "json")
    assert code == 0, err
    expected = [{"run_id": r, "n": n} for r, n in con.execute(sql).fetchall()]
    assert json.loads(out) == expected
    code, out, err = cli("spark", "query", str(lake_dir), "select * from no_such_table")
    assert code == 2 and err.splitlines()[-1].startswith("moewh: error: Spark query failed")
