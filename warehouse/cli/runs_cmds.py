"""`moewh runs list`, `moewh runs rm`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.lookup import list_runs, resolve_run
from ..db.store import open_store
from ..ingest.traces import delete_run
from .app import runs_app, state
from .output import FORMATS, check_format, emit


@runs_app.command("list")
def runs_list(
    fmt: str = typer.Option("table", "--format", help=f"Output format: {', '.join(FORMATS)}."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (needed for parquet)."),
) -> None:
    """List the runs: id, name, experiment, domain, model, format, records, passes, k, tags."""
    check_format(fmt, output)
    with open_store(state.db, read_only=True) as store:
        table = list_runs(store.con)
    emit(table, fmt, output)


@runs_app.command("rm")
def runs_rm(
    run: str = typer.Argument(..., metavar="RUN", help="run_id, a unique prefix of it, or a unique run name."),
) -> None:
    """Delete a run and every row derived from it (one transaction)."""
    with open_store(state.db) as store, store.transaction() as con:
        run_id, run_name = resolve_run(con, run)
        delete_run(con, run_id)
    typer.echo(f"removed run {run_id} ({run_name})")
