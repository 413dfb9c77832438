"""The `moewh` command line: a thin layer over the warehouse library."""

from . import (  # noqa: F401  (each module registers its commands)
    capture_cmds,
    dashboard_cmds,
    demo_cmds,
    lake_cmds,
    layout_cmds,
    query_cmds,
    routing_cmds,
    runs_cmds,
    settings_cmds,
    simulate_cmds,
    trace_cmds,
    views_cmds,
)
from .app import app, main, run

__all__ = ["app", "main", "run"]
