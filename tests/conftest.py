"""Shared fixtures. Tests never read ../shared: the data they need lives in tests/data/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

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



# Property tests (Hypothesis): a small budget in `make test`; HYPOTHESIS_PROFILE=fuzz runs long.
settings.register_profile("quick", max_examples=60, deadline=None)
settings.register_profile("fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))
