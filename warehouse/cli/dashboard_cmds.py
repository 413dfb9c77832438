"""`moewh dashboard`: start the Streamlit dashboard on the warehouse given by --db."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from ..errors import UsageError
from ..paths import dashboard_app
from .app import app, state


@app.command()
def dashboard(
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    address: str = typer.Option("localhost", "--address", help="Interface to listen on (0.0.0.0 for all)."),
) -> None:
    """Start the dashboard (Streamlit) on the warehouse given by --db.

    Seven pages: overview, expert heatmap, file map, token timeline, compare, layout check and a
    read-only SQL console. The dashboard opens the database read-only for each query and closes
    it again, so `moewh ingest` can run while it is open; reload the page afterwards.

    \b
    Example:
      moewh --db warehouse.duckdb dashboard --port 8501
    """
    script = dashboard_app()
    if not script.is_file():
        raise UsageError(f"{script}: the dashboard app is missing from this installation")
    env = dict(os.environ, MOEWH_DB=os.path.abspath(state.db))
    cmd = [sys.executable, "-m", "streamlit", "run", str(script),
           "--server.headless", "true", "--server.port", str(port), "--server.address", address,
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--client.toolbarMode", "minimal"]
    typer.echo(f"dashboard for {env['MOEWH_DB']} at http://{address}:{port}  (Ctrl-C stops it)", err=True)
    sys.stderr.flush()
    if os.name == "posix":
        # Become the server, so that signals (Ctrl-C, a service manager's SIGTERM) reach it directly.
        os.execve(sys.executable, cmd, env)
    try:
        raise typer.Exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
