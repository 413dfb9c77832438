"""Integers print as integers in every format, exact at any size: DuckDB's sums (HUGEINT, which
reaches Arrow as DECIMAL(38, 0)) and DECIMAL with scale 0 included."""

from __future__ import annotations

import csv
import io
import json

import pytest

from warehouse.db.store import open_store

# sum of two BIGINTs: 54,100,032 (issue 11's example); 2^53 + 1 is where a double loses it;
# 2^70 needs more than 64 bits
SQL = ("select sum(x) as s, sum(x) + 9007199254740993 - 54100032 as above_2_53, "
       "sum(x) * 0 + 1180591620717411303424::hugeint as wide, 3::decimal(10, 0) as d0, 12.5::decimal(5, 1) as frac "
       "from (values (54100000::bigint), (32::bigint)) as t(x)")
WANT = [54100032, 2**53 + 1, 2**70, 3]


@pytest.fixture
def db(cli, db_path):
    open_store(db_path).close()
    return db_path


def test_table_prints_integers_exactly(cli, db):
    code, out, err = cli("query", SQL)
    assert code == 0, err
    cells = out.splitlines()[2].split()
    assert cells == [str(v) for v in WANT] + ["12.5"]


def test_csv_prints_integers_exactly(cli, db):
    code, out, err = cli("query", SQL, "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[1] == [str(v) for v in WANT] + ["12.5"]


def test_json_keeps_64_bit_integers_as_numbers_and_wider_as_strings(cli, db):
    code, out, err = cli("query", SQL, "--format", "json")
    assert code == 0, err
    assert "54100032.0" not in out
    [row] = json.loads(out)
    assert row == {"s": 54100032, "above_2_53": 2**53 + 1, "wide": str(2**70), "d0": 3, "frac": 12.5}
