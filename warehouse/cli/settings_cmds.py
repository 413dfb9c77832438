"""`moewh settings ...`: the tunable parameters of the analysis views."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.settings import list_settings, set_setting
from ..db.store import open_store
from .app import settings_app, state
from .output import FORMATS, check_format, emit


@settings_app.command("list")
def settings_list(
    fmt: str = typer.Option("table", "--format", help=f"Output format: {', '.join(FORMATS)}."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file (needed for parquet)."),
) -> None:
    """Every setting with its value and what it changes."""
    check_format(fmt, output)
    with open_store(state.db, read_only=True) as store:
        table = list_settings(store.con)
    emit(table, fmt, output)


@settings_app.command("set")
def settings_set(
    key: str = typer.Argument(..., help="Setting name, e.g. file_region_bucket_bytes."),
    value: str = typer.Argument(..., help="New value."),
) -> None:
    """Change a setting; the views read it on their next query.

    \b
    Example:
      moewh settings set file_region_bucket_bytes 16777216   # 16 MiB file-map buckets
    """
    with open_store(state.db) as store, store.transaction() as con:
        set_setting(con, key, value)
    typer.echo(f"{key} = {value}")
