"""Read access for the dashboard: named queries, short-lived read-only connections, caching.

The dashboard must never stand in the way of `moewh ingest`, which needs DuckDB's exclusive
file lock. So every query opens its own read-only connection and closes it before returning,
and results are cached keyed on the database file's modification time: a page redraw costs
no connection at all until an ingest has changed the file.

Every connection is opened with the same configuration (read-only, external access off,
configuration locked): DuckDB refuses a second connection to one file within a process when
the configuration differs, and the SQL console needs exactly this configuration.

The dashboard's SQL lives in ``sql/dashboard/NAME.sql`` and is run by name with bound
parameters (``$name``); no SQL text is assembled here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb
import pandas as pd

from ..db import readonly, store
from ..db.sqlfiles import load_sql
from ..errors import DatabaseError, DatabaseLocked
from ..paths import default_db

# Configuration shared by every dashboard connection (see the module doc for why shared):
# the guarded read-only configuration, within a memory limit, so that one console query of a
# browser tab cannot take the machine's memory (the dashboard's own queries need far less).
MEMORY_LIMIT = "2GB"
READ_CONFIG = readonly.config(memory_limit=MEMORY_LIMIT)


class DashboardError(Exception):
    """Something the dashboard shows as a friendly message instead of a traceback."""

    def __init__(self, title: str, body: str, kind: str = "error"):
        super().__init__(f"{title}: {body}")
        self.title = title
        self.body = body
        self.kind = kind


def db_path() -> str:
    """The warehouse the dashboard shows: $MOEWH_DB (set by `moewh --db PATH dashboard`)."""
    return os.path.abspath(default_db())


def db_version(path: str) -> tuple:
    """Changes whenever the database's content may have changed (file and WAL mtime and size)."""
    parts: list = []
    for p in (path, path + ".wal"):
        try:
            st = os.stat(p)
            parts.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            parts.append(None)
    return tuple(parts)


def _locked(path: str) -> DashboardError:
    return DashboardError(
        "The warehouse is busy",
        f"`{path}` is being written by another process, most likely `moewh ingest`. "
        "The dashboard waits rather than holding the ingest up: reload this page when it has finished.",
        kind="locked",
    )


def connect(path: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection with external access disabled; close it as soon as possible."""
    if not os.path.exists(path):
        raise DashboardError(
            "No warehouse yet",
            f"There is no database at `{path}`. Create it with `make ingest` "
            f"(or `moewh --db {path} ingest demo`), then reload this page.",
            kind="missing",
        )
    try:
        # No waiting: a page that waits for an ingest holds the reader's thread for nothing.
        return store.connect(path, read_only=True, timeout=0, config=READ_CONFIG)
    except DatabaseLocked:
        raise _locked(path) from None
    except DatabaseError as exc:
        raise DashboardError("Cannot open the warehouse", str(exc)) from None


@dataclass(frozen=True)
class DbStatus:
    path: str
    n_models: int
    n_runs: int

    @property
    def empty(self) -> bool:
        return self.n_models == 0 and self.n_runs == 0


def _upgrade(path: str) -> None:
    """Bring an old database's schema and views up to date, through a brief write connection."""
    try:
        store.open_store(path, read_only=False, timeout=0.5).close()
    except DatabaseLocked:
        raise _locked(path) from None
    except DatabaseError as exc:
        raise DashboardError("Cannot upgrade the warehouse", str(exc)) from None


def check(path: str) -> DbStatus:
    """Open, look, close: what state the warehouse is in. Raises DashboardError when unusable."""
    for attempt in range(2):
        con = connect(path)
        try:
            state = store.schema_state(con)
            if state == "ok":
                n_models, n_runs = con.execute(load_sql("dashboard/_counts.sql")).fetchone()
                return DbStatus(path, int(n_models), int(n_runs))
        except duckdb.Error as exc:
            raise DashboardError("Cannot read the warehouse", f"`{path}`: {exc}") from None
        finally:
            con.close()
        if state == "newer":
            raise DashboardError(
                "Warehouse written by a newer moewh",
                f"`{path}` records a schema migration this version does not know; upgrade "
                "moe-trace-warehouse to view it.",
            )
        if state == "new":
            raise DashboardError(
                "Empty warehouse",
                f"`{path}` holds no warehouse tables yet. Load the demo with `make ingest` "
                f"(or `moewh --db {path} ingest demo`), then reload this page.",
                kind="empty",
            )
        if attempt == 0:
            _upgrade(path)
    raise DashboardError("Cannot upgrade the warehouse", f"`{path}`: the views are still out of date")


def run_named(path: str, name: str, params: dict | None = None) -> pd.DataFrame:
    """Run ``sql/dashboard/<name>.sql`` with bound parameters on a fresh read-only connection."""
    try:
        sql = load_sql(f"dashboard/{name}.sql")
    except FileNotFoundError:
        raise DashboardError("Missing dashboard query", f"sql/dashboard/{name}.sql is not installed") from None
    con = connect(path)
    try:
        return con.sql(sql, params=params or None).df()
    except duckdb.CatalogException as exc:
        raise DashboardError(
            "A view this page needs is missing",
            f"`{name}`: {str(exc).splitlines()[0]}. The warehouse may predate this version of "
            "moewh; run any `moewh` command on it (e.g. `moewh runs list`) to upgrade it.",
        ) from None
    except duckdb.Error as exc:
        raise DashboardError("Query failed", f"`{name}`: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


# ---- Streamlit-cached wrappers (imported lazily so the library stays usable without a UI) ----

def _st():
    import streamlit as st

    return st


def _freeze(params: dict | None) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in (params or {}).items()))


def _thaw(frozen: tuple) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in frozen}


_cached_query = None
_cached_check = None


def _caches():
    global _cached_query, _cached_check
    if _cached_query is None:
        st = _st()

        @st.cache_data(show_spinner=False, max_entries=512)
        def cached_query(path: str, version: tuple, name: str, frozen: tuple) -> pd.DataFrame:
            return run_named(path, name, _thaw(frozen))

        @st.cache_data(show_spinner=False, max_entries=16)
        def cached_check(path: str, version: tuple) -> DbStatus:
            return check(path)

        _cached_query, _cached_check = cached_query, cached_check
    return _cached_query, _cached_check


def query(name: str, **params) -> pd.DataFrame:
    """A named dashboard query's result, cached until the database file changes."""
    path = db_path()
    cached_query, _ = _caches()
    return cached_query(path, db_version(path), name, _freeze(params))


def status() -> DbStatus:
    """The warehouse's state, cached until the file changes. Raises DashboardError."""
    path = db_path()
    _, cached_check = _caches()
    return cached_check(path, db_version(path))
