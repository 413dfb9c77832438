"""Where the project's SQL and bundled data live, installed or in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def _shipped(folder: str) -> Path:
    # A wheel carries the top-level folders sql/ and dashboards/ inside the package
    # (pyproject's force-include); a checkout or editable install has them beside it.
    inside = PACKAGE_DIR / folder
    return inside if inside.is_dir() else PACKAGE_DIR.parent / folder


def sql_dir() -> Path:
    return _shipped("sql")


def dashboard_app() -> Path:
    """The Streamlit entry script."""
    return _shipped("dashboards") / "app.py"


def cache_dir() -> Path:
    """Folder for generated artefacts such as the sparse GGUF replica (MOEWH_CACHE overrides)."""
    root = os.environ.get("MOEWH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "moewh"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


DEFAULT_DB = "warehouse.duckdb"


def default_db() -> str:
    return os.environ.get("MOEWH_DB") or DEFAULT_DB
