"""The dashboard's SQL console: one read-only query, safe by construction.

Layers, each enough on its own for the cases it covers:

1. DuckDB's own parser splits the text: exactly one statement, and it must be a query
   (SELECT, WITH ... SELECT, FROM-first, DESCRIBE/SHOW/SUMMARIZE) or EXPLAIN of one.
   COPY, ATTACH, DETACH, INSTALL, LOAD, PRAGMA, CALL, SET/RESET/USE, EXPORT, DDL, DML and
   transactions are refused before anything runs.
2. sqlglot parses it too, as a second opinion: anything it reads as other than a query is refused.
3. The connection is read-only with ``enable_external_access=false`` and
   ``lock_configuration=true``: table functions that read files (read_csv, read_text, glob,
   a quoted path after FROM) fail with a permission error, and no setting can be changed.
4. At most ``max_rows`` rows are fetched (streamed, so a huge result costs no memory) and a
   query running longer than ``timeout_s`` is interrupted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..db.sqlfiles import load_sql
from .data import DashboardError, connect

MAX_ROWS = 10_000
TIMEOUT_S = 20.0
_QUERY_TYPES = {duckdb.StatementType.SELECT}
_EXPLAIN = duckdb.StatementType.EXPLAIN


class ConsoleError(Exception):
    """A query the console will not or could not run; the message is shown as is."""


@dataclass
class ConsoleResult:
    table: pa.Table
    truncated: bool  # more rows existed than max_rows
    elapsed_s: float


def _describe(stype) -> str:
    return str(stype).rsplit(".", 1)[-1].replace("_", " ")


def check_statement(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Raise ConsoleError unless ``sql`` is exactly one read-only query."""
    if not sql or not sql.strip() or not sql.strip().strip(";").strip():
        raise ConsoleError("Type a SELECT query first.")
    own = con is None
    if own:
        con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConsoleError(f"Syntax error: {_first_line(exc)}") from None
    finally:
        if own:
            con.close()
    if len(statements) != 1:
        raise ConsoleError(
            f"The console runs exactly one statement; this text holds {len(statements)}. "
            "Remove the extra statements (and any ';' between them)."
        )
    stype = statements[0].type
    if stype not in _QUERY_TYPES and stype != _EXPLAIN:
        raise ConsoleError(
            f"Only read-only queries (SELECT, WITH ... SELECT, EXPLAIN) run here; this is a "
            f"{_describe(stype)} statement. The console cannot change the warehouse, read files "
            "or change settings."
        )
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return  # DuckDB's parser, the authority, accepted it as one query; runtime guards remain
    trees = [t for t in trees if t is not None]
    if len(trees) > 1:
        raise ConsoleError("The console runs exactly one statement.")
    if trees and stype != _EXPLAIN:
        tree = trees[0]
        if not isinstance(tree, exp.Query | exp.Describe | exp.Show | exp.Pivot | exp.Summarize):
            raise ConsoleError(f"Only read-only queries run here; this reads as {tree.key.upper()}.")
        for node in tree.walk():
            if isinstance(node, exp.DML | exp.Create | exp.Drop | exp.Alter | exp.Copy | exp.Set):
                raise ConsoleError(f"Only read-only queries run here; found {node.key.upper()} inside.")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _explain_error(exc: duckdb.Error) -> str:
    text = _first_line(exc)
    if isinstance(exc, duckdb.PermissionException) or "disabled by configuration" in str(exc):
        return ("Not allowed: the console cannot read or write files, or reach the network "
                f"(external access is disabled). DuckDB said: {text}")
    if isinstance(exc, duckdb.ParserException):
        return f"Syntax error: {text}"
    if isinstance(exc, duckdb.CatalogException):
        return f"Unknown name: {text}. `SHOW ALL TABLES` lists tables and views; the views are in schema v1."
    if isinstance(exc, duckdb.BinderException):
        return f"Cannot resolve the query: {text}"
    if isinstance(exc, duckdb.InterruptException):
        return "Query interrupted."
    return f"Query failed: {text}"


def run_console(path: str, sql: str, max_rows: int = MAX_ROWS, timeout_s: float = TIMEOUT_S) -> ConsoleResult:
    """Run one read-only query against the warehouse at ``path``; raise ConsoleError on any problem."""
    try:
        con = connect(path)
    except DashboardError as exc:
        raise ConsoleError(exc.body) from None
    timer = threading.Timer(timeout_s, con.interrupt)
    started = time.monotonic()
    try:
        # Already set at connect; repeated so a change of the shared configuration cannot
        # silently loosen the console. Setting a locked option to its current value is an error,
        # so only check it.
        if con.sql(load_sql("console/external_access.sql")).fetchall()[0][0] not in (False, "false"):
            raise ConsoleError("Refusing to run: external access is not disabled on this connection.")
        check_statement(sql, con)
        timer.start()
        try:
            reader = con.sql(sql).to_arrow_reader(min(max_rows + 1, 8192))
            batches, n = [], 0
            for batch in reader:
                batches.append(batch)
                n += batch.num_rows
                if n > max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except AttributeError:
            # A statement with no result set (none gets here past check_statement, but be clear).
            raise ConsoleError("The statement returned no rows to show.") from None
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.InterruptException) and time.monotonic() - started >= timeout_s:
                raise ConsoleError(f"Query stopped after {timeout_s:g} s; narrow it down "
                                   "(filter by run_id or layer_id, or add a LIMIT).") from None
            raise ConsoleError(_explain_error(exc)) from None
    finally:
        timer.cancel()
        con.close()
    truncated = table.num_rows > max_rows
    if truncated:
        table = table.slice(0, max_rows)
    return ConsoleResult(table, truncated, time.monotonic() - started)
