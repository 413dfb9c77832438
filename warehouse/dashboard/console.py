"""The dashboard's SQL console: one read-only query, safe by construction.

The guards are those of ``warehouse.db.readonly`` (one statement, a query; a read-only
connection with external access and extensions off and its configuration locked), shared
with `moewh query`. On top of them the console bounds what one browser tab can cost: at most
``max_rows`` rows and ``MAX_RESULT_BYTES`` of Arrow data are fetched (in small batches, so a
result of long strings stops early), DuckDB works within the memory limit of the dashboard's
connections (``data.READ_CONFIG``), and a query running longer than ``timeout_s`` is
interrupted. Every failure is a ``ConsoleError`` whose message is shown as is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ..db import readonly
from ..db.sqlfiles import load_sql
from .data import DashboardError, connect

MAX_ROWS = 10_000
TIMEOUT_S = 20.0
MAX_RESULT_BYTES = 64 << 20  # what a browser table can show usefully; the CSV download holds the same
BATCH_ROWS = 64  # small batches: a row of long strings cannot overshoot the byte cap by much


class ConsoleError(Exception):
    """A query the console will not or could not run; the message is shown as is."""


@dataclass
class ConsoleResult:
    table: pa.Table
    truncated: bool  # more rows existed than max_rows, or the result passed MAX_RESULT_BYTES
    elapsed_s: float
    stopped_by: str | None = None  # 'rows' or 'bytes' when truncated


def check_statement(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Raise ConsoleError unless ``sql`` is exactly one read-only query."""
    if readonly.is_empty(sql):
        raise ConsoleError("Type a SELECT query first.")
    try:
        readonly.check_statement(sql, con)
    except readonly.Refused as exc:
        raise ConsoleError(str(exc)) from None


def run_console(path: str, sql: str, max_rows: int = MAX_ROWS, timeout_s: float = TIMEOUT_S,
                max_bytes: int = MAX_RESULT_BYTES) -> ConsoleResult:
    """Run one read-only query against the warehouse at ``path``; raise ConsoleError on any problem."""
    check_statement(sql)
    try:
        con = connect(path)
    except DashboardError as exc:
        raise ConsoleError(exc.body) from None
    started = time.monotonic()
    try:
        # Already set at connect; repeated so a change of the shared configuration cannot
        # silently loosen the console. Setting a locked option to its current value is an error,
        # so only check it.
        if con.sql(load_sql("console/external_access.sql")).fetchall()[0][0] not in (False, "false"):
            raise ConsoleError("Refusing to run: external access is not disabled on this connection.")
        result = readonly.stream(con, sql, batch_rows=BATCH_ROWS, max_rows=max_rows, max_bytes=max_bytes,
                                 timeout_s=timeout_s)
        table = pa.Table.from_batches(list(result.batches), schema=result.schema)
    except readonly.Refused as exc:
        raise ConsoleError(str(exc)) from None
    except (readonly.QueryFailed, readonly.QueryTimeout) as exc:
        raise ConsoleError(str(exc)) from None
    except MemoryError:
        raise ConsoleError("The result does not fit in memory; select fewer or shorter columns, or add a "
                           "LIMIT.") from None
    finally:
        con.close()
    return ConsoleResult(table, result.stopped is not None, time.monotonic() - started, result.stopped)
