"""Fill every base table of a warehouse with random rows of every column type it has.

Generic on purpose: a table or column added by a later migration is exercised by the lake
tests without anyone editing them, and a column type nobody wrote a generator for fails
loudly instead of being skipped.
"""

from __future__ import annotations

import datetime as dt
import random
import string

import pyarrow as pa

# Partition values that need escaping in a Hive directory name, beside ordinary hex ids.
RUN_IDS = ["3f9a0c1e77d2b6a4", "00123", "run/a b=c%'#?"]
MODEL_IDS = ["9e1b2c3d4e5f6a7b", "model:*[x] {y}"]

_ALPHABET = string.ascii_letters + string.digits + " ,'\"\\;\n\tä€🙂"


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, dtype: str):
    if dtype == "VARCHAR":
        return _text(rng)
    if dtype == "BOOLEAN":
        return rng.random() < 0.5
    if dtype == "SMALLINT":
        return rng.choice([-(2**15), 2**15 - 1, rng.randint(-100, 100)])
    if dtype == "INTEGER":
        return rng.choice([-(2**31), 2**31 - 1, rng.randint(-1000, 10**6)])
    if dtype == "BIGINT":
        return rng.choice([-(2**63), 2**63 - 1, rng.randint(-(10**12), 10**15)])
    if dtype == "UBIGINT":
        return rng.choice([0, 2**64 - 1, rng.randint(0, 2**64 - 1)])
    if dtype == "DOUBLE":
        return rng.choice([0.0, -1.5e300, rng.random() * 1e6])
    if dtype == "TIMESTAMP":
        return dt.datetime(2026, 1, 1) + dt.timedelta(microseconds=rng.randint(0, 10**14))
    if dtype == "VARCHAR[]":
        return [_text(rng) for _ in range(rng.randint(0, 3))]
    if dtype == "MAP(VARCHAR, VARCHAR)":
        return [(f"k{i}{_text(rng)}", _text(rng)) for i in range(rng.randint(0, 3))]
    raise AssertionError(f"tests/lake_data.py has no generator for column type {dtype}; add one")


_ARROW = {
    "VARCHAR": pa.string(), "BOOLEAN": pa.bool_(), "SMALLINT": pa.int16(), "INTEGER": pa.int32(),
    "BIGINT": pa.int64(), "UBIGINT": pa.uint64(), "DOUBLE": pa.float64(), "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR[]": pa.list_(pa.string()), "MAP(VARCHAR, VARCHAR)": pa.map_(pa.string(), pa.string()),
}


def fill_random(con, rows_per_table: int = 40, seed: int = 6) -> None:
    """Insert random rows into every base table (settings keep their defaults beside new keys)."""
    from warehouse.lake.parquet import base_tables

    rng = random.Random(seed)
    nullable = {(t, c): n == "YES" for t, c, n in con.execute(
        "select table_name, column_name, is_nullable from information_schema.columns "
        "where table_schema = 'main'").fetchall()}
    keys = {t: cols for t, cols in con.execute(
        "select table_name, constraint_column_names from duckdb_constraints() "
        "where schema_name = 'main' and constraint_type = 'PRIMARY KEY'").fetchall()}
    for t in base_tables(con):
        ids = RUN_IDS if t.partition_by == "run_id" else MODEL_IDS if t.partition_by == "model_id" else [None]
        one_per_id = keys.get(t.name) == [t.partition_by]
        n = len(ids) if one_per_id else rows_per_table
        data: dict[str, list] = {}
        for col, dtype in t.columns:
            if col == t.partition_by:
                # every id gets rows, except the last run id in one table: an empty partition
                data[col] = ids if one_per_id else [ids[i % len(ids)] for i in range(n)]
                continue
            if col == "model_id" and t.partition_by == "run_id":
                data[col] = [rng.choice(MODEL_IDS + [None]) for _ in range(n)]
                continue
            values = [_value(rng, dtype) for _ in range(n)]
            if col in keys.get(t.name, []):  # primary key parts: unique by construction
                values = [f"{v}#{i}" if dtype == "VARCHAR" else i for i, v in enumerate(values)]
                data[col] = values
                continue
            if nullable.get((t.name, col), True):
                values = [None if rng.random() < 0.15 else v for v in values]
            data[col] = values
        if t.name == "anomalies":  # a run table where one run has no rows at all
            keep = [i for i, r in enumerate(data["run_id"]) if r != RUN_IDS[-1]]
            data = {c: [v[i] for i in keep] for c, v in data.items()}
        table = pa.table({c: pa.array(v, _ARROW[dtype]) for (c, dtype), v in zip(t.columns, data.values(), strict=True)})
        con.register("_fill", table)
        con.execute(f'insert into "{t.name}" by name select * from _fill')
        con.unregister("_fill")
