"""Read-only SQL over the warehouse, shared by `moewh query` and the dashboard's SQL console.

Layers, each enough on its own for the cases it covers:

1. DuckDB's own parser splits the text: exactly one statement, and it must be a query
   (SELECT, WITH ... SELECT, FROM-first, DESCRIBE/SHOW/SUMMARIZE) or EXPLAIN of one.
   COPY, ATTACH, DETACH, INSTALL, LOAD, PRAGMA, CALL, SET/RESET/USE, EXPORT, CHECKPOINT, DDL,
   DML and transactions are refused before anything runs, with the reason.
2. sqlglot parses it too, as a second opinion: anything it reads as other than a query is refused.
3. The connection (``config``) is read-only with ``enable_external_access=false``, extension
   installing and autoloading off and ``lock_configuration=true``: table functions that read
   files or the network (read_csv, read_text, glob, a quoted path after FROM) fail with a
   permission error, and no setting can be changed. ``allow_files`` turns file *reads* back
   on; writing stays impossible, because every statement that writes is refused by 1 and 2.
4. Results stream in Arrow batches (``stream``), so memory is bounded by a batch whatever the
   result's size; ``max_rows`` and ``max_bytes`` stop early, ``timeout_s`` interrupts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..errors import UsageError
from .sqlfiles import load_sql

_QUERY_TYPES = {duckdb.StatementType.SELECT}
_EXPLAIN = duckdb.StatementType.EXPLAIN

# The settings of every guarded connection. DuckDB refuses a second connection to one file
# within a process when the configuration differs, so a process uses one of these throughout.
_BASE_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}

EMPTY_MESSAGE = "no SQL to run: the text is empty (or only ';')"


def config(allow_files: bool = False, memory_limit: str | None = None) -> dict:
    """DuckDB configuration of a guarded read-only connection (see the module doc, layer 3)."""
    out = dict(_BASE_CONFIG, enable_external_access=allow_files)
    if memory_limit is not None:
        out["memory_limit"] = memory_limit
    return out


class Refused(UsageError):
    """A statement the guard does not run; the message says why."""


class QueryFailed(UsageError):
    """The query ran and failed (unknown name, syntax error, a disabled file read, ...)."""


class QueryTimeout(UsageError):
    """The query ran longer than its time limit and was interrupted."""


def _describe(stype) -> str:
    return str(stype).rsplit(".", 1)[-1].replace("_", " ")


def is_empty(sql: str | None) -> bool:
    return not sql or not sql.strip().strip(";").strip()


def check_statement(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Raise Refused unless ``sql`` is exactly one read-only query."""
    if is_empty(sql):
        raise Refused(EMPTY_MESSAGE)
    own = con is None
    if own:
        con = duckdb.connect(":memory:", config=config())
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(f"Syntax error: {first_line(exc)}") from None
    finally:
        if own:
            con.close()
    if len(statements) != 1:
        raise Refused(f"Runs exactly one statement; this text holds {len(statements)}. Remove the extra "
                      "statements (and any ';' between them).")
    stype = statements[0].type
    if stype not in _QUERY_TYPES and stype != _EXPLAIN:
        raise Refused(f"Only read-only queries (SELECT, WITH ... SELECT, EXPLAIN) run here; this is a "
                      f"{_describe(stype)} statement, which could change the warehouse, write or read files, "
                      "or change settings. Write results with -o PATH (moewh query) or the download button.")
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return  # DuckDB's parser, the authority, accepted it as one query; the connection's guards remain
    trees = [t for t in trees if t is not None]
    if len(trees) > 1:
        raise Refused("Runs exactly one statement.")
    if trees and stype != _EXPLAIN:
        tree = trees[0]
        if not isinstance(tree, exp.Query | exp.Describe | exp.Show | exp.Pivot | exp.Summarize):
            raise Refused(f"Only read-only queries run here; this reads as {tree.key.upper()}.")
        for node in tree.walk():
            if isinstance(node, exp.DML | exp.Create | exp.Drop | exp.Alter | exp.Copy | exp.Set):
                raise Refused(f"Only read-only queries run here; found {node.key.upper()} inside.")


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def explain_error(exc: Exception) -> str:
    """One line saying why a query failed, for a person."""
    text = first_line(exc)
    if isinstance(exc, duckdb.PermissionException) or "disabled by configuration" in str(exc):
        return ("Not allowed: files and the network are out of reach (external access is disabled). "
                f"DuckDB said: {text}")
    if "maximum total string size" in str(exc) or isinstance(exc, pa.ArrowCapacityError):
        return ("The result is too large: a column holds more than 2 GiB of text in one batch. "
                "Select shorter values (substr) or fewer rows.")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return f"The query needs more memory than it may use: {text} Filter, aggregate or add a LIMIT."
    if isinstance(exc, duckdb.ParserException):
        return f"Syntax error: {text}"
    if isinstance(exc, duckdb.CatalogException):
        return f"Unknown name: {text}. `SHOW ALL TABLES` lists tables and views; the views are in schema v1."
    if isinstance(exc, duckdb.BinderException):
        return f"Cannot resolve the query: {text}"
    if isinstance(exc, duckdb.InterruptException):
        return "Query interrupted."
    return f"Query failed: {text}"


@dataclass
class Stream:
    """Batches of a running query; ``stopped`` says why they ended early ('rows', 'bytes' or None)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    stopped: str | None = None
    rows: int = 0


def stream(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None, *, batch_rows: int = 2048,
           max_rows: int | None = None, max_bytes: int | None = None, timeout_s: float | None = None) -> Stream:
    """Check and run ``sql`` on a guarded connection; the batches are produced as they are read.

    Consume ``Stream.batches`` before closing ``con``. Errors, also those raised while
    iterating, are ``Refused``, ``QueryFailed`` or ``QueryTimeout``.
    """
    external, locked = con.sql(load_sql("readonly/connection_guards.sql")).fetchall()[0]
    if locked in (False, "false"):
        raise Refused("Refusing to run: the connection's configuration is not locked.")
    check_statement(sql, con)
    started = time.monotonic()
    timer = threading.Timer(timeout_s, con.interrupt) if timeout_s else None

    def failed(exc: Exception) -> UsageError:
        if isinstance(exc, duckdb.InterruptException) and timeout_s and time.monotonic() - started >= timeout_s:
            return QueryTimeout(f"Query stopped after {timeout_s:g} s; narrow it down (filter by run_id or "
                                "layer_id, or add a LIMIT).")
        if external in (True, "true") and isinstance(exc, duckdb.PermissionException):
            return QueryFailed(f"Query failed: {first_line(exc)}")
        return QueryFailed(explain_error(exc))

    if timer:
        timer.start()
    try:
        relation = con.sql(sql, params=params or None)
        if relation is None:
            raise Refused("The statement returns no rows.")
        reader = relation.to_arrow_reader(batch_rows)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        if timer:
            timer.cancel()
        raise failed(exc) from None
    result = Stream(reader.schema, iter(()))

    def batches() -> Iterator[pa.RecordBatch]:
        size = 0
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except (duckdb.Error, pa.ArrowException, OSError) as exc:
                    # Arrow's string-size error arrives as an OSError from the reader.
                    raise failed(exc) from None
                if max_rows is not None and result.rows + batch.num_rows > max_rows:
                    batch = batch.slice(0, max_rows - result.rows)
                    result.stopped = "rows"
                if max_bytes is not None and size + batch.nbytes > max_bytes and result.rows:
                    result.stopped = "bytes"
                    return
                size += batch.nbytes
                result.rows += batch.num_rows
                yield batch
                if result.stopped:
                    return
        finally:
            if timer:
                timer.cancel()
            reader.close()

    result.batches = batches()
    return result
