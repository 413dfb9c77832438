"""`moewh query`: any read-only SQL across all runs and models."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.query import parse_params, query_stream
from ..db.readonly import EMPTY_MESSAGE, is_empty
from ..errors import UsageError
from ..formats.files import read_regular
from .app import app, state
from .output import check_format, emit_stream


@app.command()
def query(
    sql: str = typer.Argument(None, help="SQL to run; omit when using --file."),
    file: Path = typer.Option(None, "--file", "-f", dir_okay=False, help="Read the SQL from a file."),
    param: list[str] = typer.Option([], "--param", "-p", metavar="NAME=VALUE",
                                    help="Bind $NAME in the SQL (repeatable); never interpolated into the text."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet (parquet needs --output)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    max_rows: int = typer.Option(None, "--max-rows", min=0, metavar="N",
                                 help="Stop after N rows (a note on stderr says the result was cut)."),
    timeout: float = typer.Option(None, "--timeout", min=0.001, metavar="S",
                                  help="Interrupt the query after S seconds (exit 2)."),
    allow_files: bool = typer.Option(False, "--allow-files",
                                     help="Let the query READ files (read_parquet, read_csv, 'file.csv'), e.g. "
                                          "to join your own data; writing stays impossible."),
) -> None:
    """Run one read-only SQL statement over the warehouse; results stream to stdout or -o.

    Views live in schema v1 (see `moewh views list`); base tables in main. --format json prints
    one JSON array of row objects. Integers (sums included, which DuckDB widens to HUGEINT)
    print as integers, exact at any size; in JSON they are numbers when they fit in 64 bits and
    strings otherwise. Put SQL with $NAME in single quotes, so that the shell leaves it alone.
    The statement must be a query (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN):
    COPY, EXPORT, ATTACH, INSTALL, LOAD, SET, PRAGMA, CALL and every statement that changes
    something are refused, files and the network are out of reach (unless --allow-files, for
    reads), and the result is written only where -o says.

    \b
    Examples:
      moewh query "select * from range(1000000000)" --max-rows 10 --format csv
      moewh query 'select layer_id, expert_id, activations from v1.expert_hotness join v1.runs using (run_id) where run_name = $run and rank_in_layer = 1' -p run=synthetic-code
    """
    if (sql is None) == (file is None):
        raise UsageError("give the SQL as an argument or with --file, not both")
    check_format(fmt, output)
    if file is not None:
        raw = read_regular(file, "SQL")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{file}, byte offset {exc.start}: not UTF-8 text") from None
    else:
        text = sql
    if is_empty(text):
        raise UsageError(f"{file}: {EMPTY_MESSAGE}" if file is not None else EMPTY_MESSAGE)
    with query_stream(state.db, text, parse_params(param), allow_files=allow_files, max_rows=max_rows,
                      timeout_s=timeout) as result:
        emit_stream(result.schema, result.batches, fmt, output)
        if result.stopped == "rows":
            typer.echo(f"note: stopped at --max-rows {max_rows:,}; the query has more rows", err=True)
