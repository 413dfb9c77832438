"""`moewh ingest demo`."""

from __future__ import annotations

import typer

from ..db.store import open_store
from ..demo import ingest_demo
from .app import ingest_app, state


@ingest_app.command("demo")
def demo() -> None:
    """Load the embedded demo: the GPT-OSS-20B layout (a sparse GGUF replica built in the cache
    folder on first use), its real reference trace (tag source=real) and synthetic runs for
    five domains (tag source=synthetic). Safe to run again: what is there already is kept."""
    with open_store(state.db) as store:
        ingest_demo(store)
    typer.echo(f"demo data is in {state.db}; try: moewh query \"select * from v1.runs\"")
