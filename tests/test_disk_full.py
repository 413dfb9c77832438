"""A full disk or a read-only folder: exit 3 with one line, the warehouse as it was, and
ingests work again once there is room. Runs on small tmpfs mounts (needs root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from trace_samples import MEMORY_MAP

from warehouse.synth import generate_run


def _mount(path: Path, options: str) -> None:
    path.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {proc.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    _mount(mnt, "size=16m")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _moewh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warehouse", *args], capture_output=True, text=True, timeout=300)


def _runs(db: str) -> str:
    proc = _moewh("--db", db, "query", "select run_name, n_records from v1.runs order by 1", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_disk_full_while_committing_is_exit_3_and_the_warehouse_stays_valid(small_disk, tmp_path):
    db = str(small_disk / "w.duckdb")
    ballast = small_disk / "ballast"
    ballast.write_bytes(bytes(4 << 20))
    assert _moewh("--db", db, "ingest", "layout", str(MEMORY_MAP)).returncode == 0
    first = generate_run(tmp_path / "first.bin", domain="code", n_steps=2, seed=1)
    assert _moewh("--db", db, "ingest", "trace", str(first.path), "--experts-used", "4").returncode == 0
    before = _runs(db)
    big = generate_run(tmp_path / "big.bin", domain="chat", n_steps=200, seed=3)  # far more than the disk holds
    proc = _moewh("--db", db, "ingest", "trace", str(big.path), "--experts-used", "4")
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines() == [
        f"moewh: error: {db}: nothing was written: no space left on {small_disk} (free some space and run the "
        "command again)"]
    assert _runs(db) == before  # valid, and exactly as before
    ballast.unlink()
    small = generate_run(tmp_path / "small.bin", domain="math", n_steps=1, seed=2)
    proc = _moewh("--db", db, "ingest", "trace", str(small.path), "--experts-used", "4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _runs(db) == before + f"small,{small.n_records}\n"


def test_read_only_folder_is_exit_3(tmp_path):
    mnt = tmp_path / "ro"
    _mount(mnt, "size=16m")
    try:
        db = str(mnt / "w.duckdb")
        assert _moewh("--db", db, "ingest", "layout", str(MEMORY_MAP)).returncode == 0
        before = Path(db).read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        run = generate_run(tmp_path / "t.bin", domain="code", n_steps=2, seed=1)
        proc = _moewh("--db", db, "ingest", "trace", str(run.path), "--experts-used", "4")
        assert proc.returncode == 3, proc.stderr[-3000:]
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"moewh: error: {db}") and "Traceback" not in proc.stderr
        assert Path(db).read_bytes() == before
        assert _moewh("--db", db, "runs", "list").returncode == 0  # still readable
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        os.sync()
