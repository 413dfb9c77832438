"""`moewh query`: any read-only SQL across all runs and models."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.query import parse_params, run_query
from ..errors import UsageError
from .app import app, state
from .output import check_format, emit


@app.command()
def query(
    sql: str = typer.Argument(None, help="SQL to run; omit when using --file."),
    file: Path = typer.Option(None, "--file", "-f", exists=True, dir_okay=False, help="Read the SQL from a file."),
    param: list[str] = typer.Option([], "--param", "-p", metavar="NAME=VALUE",
                                    help="Bind $NAME in the SQL (repeatable); never interpolated into the text."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet (parquet needs --output)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Run read-only SQL over the warehouse.

    Views live in schema v1 (see `moewh views list`); base tables in main. --format json prints
    one JSON array of row objects. Integers (sums included, which DuckDB widens to HUGEINT)
    print as integers, exact at any size; in JSON they are numbers when they fit in 64 bits and
    strings otherwise. Put SQL with $NAME in single quotes, so that the shell leaves it alone.

    \b
    Example:
      moewh query 'select layer_id, expert_id, activations from v1.expert_hotness join v1.runs using (run_id) where run_name = $run and rank_in_layer = 1' -p run=synthetic-code
    """
    if (sql is None) == (file is None):
        raise UsageError("give the SQL as an argument or with --file, not both")
    check_format(fmt, output)
    text = file.read_text() if file is not None else sql
    emit(run_query(state.db, text, parse_params(param)), fmt, output)
