import duckdb
import pytest

from warehouse.db import store
from warehouse.errors import DatabaseError


def test_new_database_records_every_migration(db_path):
    with store.open_store(db_path) as s:
        versions = store.applied_versions(s.con)
    assert versions == [m.version for m in store.migrations()]
    assert versions[0] == 1


def test_database_from_a_newer_schema_is_refused(db_path):
    store.open_store(db_path).close()
    con = duckdb.connect(db_path)
    con.execute("insert into schema_migrations values (999, 'future', now())")
    con.close()
    with pytest.raises(DatabaseError, match="newer"):
        store.open_store(db_path)
    with pytest.raises(DatabaseError, match="newer"):
        store.open_store(db_path, read_only=True)


def test_older_database_is_upgraded_on_open(db_path):
    first = store.migrations()[0]
    con = duckdb.connect(db_path)
    con.execute(first.path.read_text())
    con.execute("insert into schema_migrations values (?, ?, now())", [first.version, first.name])
    con.close()
    with store.open_store(db_path, read_only=True) as s:
        assert store.applied_versions(s.con) == [m.version for m in store.migrations()]


def test_missing_database_is_a_clear_error_for_readers(tmp_path):
    with pytest.raises(DatabaseError, match="no warehouse"):
        store.open_store(str(tmp_path / "none.duckdb"), read_only=True)


def test_transaction_rolls_back_on_error(db_path):
    with store.open_store(db_path) as s:
        with pytest.raises(RuntimeError):
            with s.transaction() as con:
                con.execute("insert into anomalies values ('r', null, 'k', 'd')")
                raise RuntimeError("boom")
        assert s.con.execute("select count(*) from anomalies").fetchone()[0] == 0
