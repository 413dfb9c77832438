"""The DuckDB file: connections, schema migrations, transactions and lock handling.

The schema is the ordered list of files in ``sql/schema/`` (``NNN_name.sql``). Each applied
file is recorded in ``schema_migrations``; opening a database upgrades it in one transaction,
and a database that records a migration this build does not know is refused.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import DatabaseError, DatabaseLocked
from ..paths import sql_dir
from . import catalog
from . import viewset as views
from .sqlfiles import load_sql

LOCK_TIMEOUT_ENV = "MOEWH_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0
_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations() -> list[Migration]:
    found = []
    for path in sorted((sql_dir() / "schema").glob("*.sql")):
        m = _MIGRATION_RE.match(path.name)
        if not m:
            raise DatabaseError(f"{path}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"{sql_dir() / 'schema'}: two migrations share a number")
    return found


def schema_version() -> int:
    ms = migrations()
    return ms[-1].version if ms else 0


def _is_lock_error(exc: Exception) -> bool:
    # DuckDB reports another process's lock only as an IOException's text.
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def lock_timeout() -> float:
    """Seconds to wait for another process's lock: $MOEWH_LOCK_TIMEOUT, else the default."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:  # also refuses nan and inf
        raise DatabaseError(f"{LOCK_TIMEOUT_ENV} is {raw[:40]!r}; give a number of seconds, e.g. 30")
    return value


def connect(path: str, read_only: bool, timeout: float | None = None,
            config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to ``path``, waiting up to ``timeout`` seconds (default $MOEWH_LOCK_TIMEOUT)
    for another process's lock; raises DatabaseLocked after that, DatabaseError otherwise."""
    if timeout is None:
        timeout = lock_timeout()
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config or {})
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise DatabaseError(_write_problem(path, exc) or f"{path}: cannot open database: {exc}") from None
            if time.monotonic() >= deadline:
                raise DatabaseLocked(
                    f"{path}: database is in use by another process; gave up after {timeout:g} s "
                    f"(set {LOCK_TIMEOUT_ENV} to wait longer)"
                ) from None
            if not told and timeout > 0:
                print(f"waiting for {path}: another process holds it ...", file=sys.stderr)
                told = True
            time.sleep(0.25)
        except duckdb.ConnectionException:
            # This process already has the file open in the other mode (a dashboard page
            # upgrading it, just now): as busy as another process's lock.
            raise DatabaseLocked(f"{path}: database is open for writing elsewhere in this process") from None
        except duckdb.Error as exc:
            raise DatabaseError(f"{path}: not a DuckDB database or unreadable: {exc}") from None


def applied_versions(con: duckdb.DuckDBPyConnection) -> list[int]:
    if not catalog.has_table(con, "schema_migrations"):
        return []
    return [r[0] for r in con.execute(load_sql("store/applied_migrations.sql")).fetchall()]


def schema_state(con: duckdb.DuckDBPyConnection) -> str:
    """'new' (no warehouse schema), 'newer' (written by a newer build), 'stale' (needs an
    upgrade: a migration or the view sets) or 'ok'."""
    if not catalog.has_table(con, "schema_migrations"):
        return "new"
    known = {m.version for m in migrations()}
    applied = set(applied_versions(con))
    if applied - known:
        return "newer"
    return "stale" if applied != known or views.needs_reload(con) else "ok"


def _needs_upgrade(con: duckdb.DuckDBPyConnection, path: str) -> bool:
    state = schema_state(con)
    if state == "newer":
        newer = max(set(applied_versions(con)) - {m.version for m in migrations()})
        raise DatabaseError(
            f"{path}: written by a newer moewh (schema migration {newer:03d}; this build knows up "
            f"to {schema_version():03d}); upgrade moe-trace-warehouse to open it"
        )
    return state != "ok"


def _upgrade(con: duckdb.DuckDBPyConnection, path: str) -> None:
    # Imported here: the derived tables are the ingest's, and ingest imports this module.
    from ..ingest import derived

    applied = set(applied_versions(con))
    con.begin()
    try:
        for m in migrations():
            if m.version in applied:
                continue
            con.execute(m.path.read_text())
            con.execute(load_sql("store/record_migration.sql"), {"version": m.version, "name": m.name})
        # Runs written before a migration that (re)defines the derived tables have no rows
        # there; the views read them, so rebuild them in the same transaction.
        derived.refresh_missing(con)
        views.load(con)
        con.commit()
    except duckdb.Error as exc:
        con.rollback()
        raise DatabaseError(f"{path}: schema upgrade failed: {exc}") from None


def _write_problem(path: str, exc: Exception) -> str | None:
    """One line for a write the file system refused (disk full, read-only), else None.

    DuckDB writes the WAL before it touches the database file, so a refused commit leaves the
    file as it was: the run is not there, and the warehouse opens as before.
    """
    text = str(exc)
    where = os.path.dirname(os.path.abspath(path)) or "."
    if "No space left" in text or "ENOSPC" in text:
        return f"{path}: nothing was written: no space left on {where} (free some space and run the command again)"
    if "Read-only file system" in text or "Permission denied" in text:
        return f"{path}: nothing was written: {where} is not writable (the database and its .wal file must be)"
    return None


class Store:
    """An open warehouse. Use ``transaction()`` around every change a command makes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool):
        self.con = con
        self.path = path
        self.read_only = read_only

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.begin()
        try:
            yield self.con
        except BaseException as exc:
            try:
                self.con.rollback()
            except duckdb.Error:
                pass  # a failed write may have ended the transaction already; nothing was committed
            if isinstance(exc, duckdb.Error) and (problem := _write_problem(self.path, exc)):
                raise DatabaseError(problem) from None
            raise
        else:
            try:
                self.con.commit()
            except duckdb.Error as exc:
                problem = _write_problem(self.path, exc)
                if problem is None:
                    raise
                raise DatabaseError(problem) from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(path: str | os.PathLike, read_only: bool = False, timeout: float | None = None,
               config: dict | None = None) -> Store:
    """Open (and for writers create or upgrade) the warehouse at ``path``.

    A reader of an old database upgrades it through a short write connection first, so that
    saved queries always see the current views. ``config`` (readers only) is the DuckDB
    configuration of the connection returned, e.g. ``readonly.config()``.
    """
    path = str(path)
    if read_only:
        if not os.path.exists(path):
            raise DatabaseError(f"{path}: no warehouse here yet; create one with `moewh ingest demo` or `moewh ingest model FILE`")
        con = connect(path, read_only=True, timeout=timeout, config=config)
        if not _needs_upgrade(con, path):
            return Store(con, path, read_only=True)
        con.close()
        writer = connect(path, read_only=False, timeout=timeout)
        try:
            _upgrade(writer, path)
        finally:
            writer.close()
        return Store(connect(path, read_only=True, timeout=timeout, config=config), path, read_only=True)

    con = connect(path, read_only=False, timeout=timeout)
    try:
        if _needs_upgrade(con, path):
            _upgrade(con, path)
    except BaseException:
        con.close()
        raise
    return Store(con, path, read_only=False)
