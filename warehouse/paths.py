"""Where the project's SQL and bundled data live, installed or in a checkout."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def sql_dir() -> Path:
    # A wheel carries sql/ inside the package; a checkout (or editable install) has it beside.
    inside = PACKAGE_DIR / "sql"
    return inside if inside.is_dir() else PACKAGE_DIR.parent / "sql"


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
