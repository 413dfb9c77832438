"""Every view's declared grain (`@grain` in its doc comment) is what one of its rows is: the
grain columns are unique together (a NULL counting as one value, as GROUP BY does), on a warehouse built through the real ingest
paths and the view tests' edge cases."""

from __future__ import annotations

import pytest

from tests.spark_warehouse import build
from warehouse.db import viewset
from warehouse.db.store import open_store


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("grains")
    build(scratch / "w.duckdb", scratch)
    store = open_store(scratch / "w.duckdb", read_only=True)
    yield store.con
    store.close()


@pytest.mark.parametrize("d", viewset.definitions("v1"), ids=lambda d: d.name)
def test_grain_is_unique_and_not_null(con, d):
    cols = ", ".join(f'"{c}"' for c in d.grain)
    n_rows = con.execute(f"select count(*) from {d.qualified}").fetchone()[0]
    assert n_rows > 0, f"{d.qualified} has no rows on the test warehouse; the grain check would prove nothing"
    dupes = con.execute(f"select {cols}, count(*) from {d.qualified} group by all having count(*) > 1 limit 5").fetchall()
    assert not dupes, f"{d.qualified}: grain ({cols}) repeats: {dupes}"
