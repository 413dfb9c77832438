"""`moewh views ...`: the documented, versioned SQL views."""

from __future__ import annotations

import typer

from ..db import viewset as views
from .app import views_app


@views_app.command("list")
def list_views(view_set: str = typer.Option("v1", "--set", help="View set (schema) to list.")) -> None:
    """Name and one-line description of every view, by name (`views sql` gives dependency order)."""
    defs = sorted(views.definitions(view_set), key=lambda d: d.qualified)
    width = max(len(d.qualified) for d in defs)
    for d in defs:
        typer.echo(f"{d.qualified.ljust(width)}  {d.summary}")


@views_app.command("show")
def show(name: str = typer.Argument(..., help="View name, e.g. expert_hotness or v1.expert_hotness.")) -> None:
    """A view's documentation, columns and SQL."""
    d = views.find(name)
    typer.echo(f"{d.qualified}\n\n{d.doc}\n\nOne row per: {', '.join(d.grain)}\n\nColumns:")
    width = max(len(c) for c in d.columns)
    for col, meaning in d.columns.items():
        typer.echo(f"  {col.ljust(width)}  {meaning}")
    typer.echo(f"\nDepends on: {', '.join(sorted(d.deps | d.tables)) or '-'}\n\n{d.sql}")


@views_app.command("sql")
def sql(
    dialect: str = typer.Option("duckdb", "--dialect", help="duckdb | spark | trino | postgres"),
    view_set: str = typer.Option("v1", "--set", help="View set (schema) to transpile."),
) -> None:
    """The whole view set as CREATE VIEW statements, in dependency order, transpiled by sqlglot."""
    for statement in views.transpile(view_set, dialect):
        typer.echo(statement + ";\n")
