"""Shared fixtures. Tests never read ../shared: the data they need lives in tests/data/."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "warehouse.duckdb")


@pytest.fixture
def cli(db_path, capsys):
    """Run `moewh --db <tmp db> ARGS...` in process; returns (exit_code, stdout, stderr)."""
    from warehouse.cli import run

    def invoke(*args: str):
        code = run(["--db", db_path, *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke
