"""Trace ingest against the speed of reading the file: 100k, 1M and 2M GPT-OSS-20B-shaped records.

The traces are written by ``warehouse.synth.write_large`` (whole 848-record passes of the real
trace's structure, k=4 selections) into bench/out/ once. Every figure below is measured in
this run, side by side, with the file in the page cache (read once before timing):

- raw read: ``np.fromfile`` of the whole file, best of three;
- ingest: ``ingest_trace`` into a fresh DuckDB file (transaction and commit included) in a
  child process, so that its peak RSS (``VmHWM``) is the ingest's own; best of ``REPEATS``;
- growth: the database file's size after the ingest minus an empty warehouse's, per record;
- struct loop: the old pipeline's approach, a per-record ``struct.unpack`` loop over the same
  file that decodes the fields ingest stores (header, up to four sources with their names as text,
  expert ids) into Python values, written here; it stores nothing, so it is a lower bound on
  that pipeline's time; timed on the first 100k records and scaled to records/s;
- end to end: ``moewh --db w.duckdb ingest trace FILE`` as a user types it, for 100k records,
  interpreter start-up and imports included (wall time of the subprocess), into a new warehouse
  (its schema and views are created first) and into one that exists already.

Targets (the ingest-speed issue): ingest <= 8 x raw read at 1M records; peak RSS <= 600 MB at 1M
and at 2M; the 100k end-to-end run <= 1 s; database growth <= 80 bytes per record.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"
SIZES = (100_000, 1_000_000, 2_000_000)
REPEATS = 2
RATIO_TARGET, RATIO_AT = 8.0, 1_000_000
RSS_TARGET_MB = 600
E2E_TARGET_S, E2E_AT = 1.0, 100_000
GROWTH_TARGET = 80
STRUCT_SAMPLE = 100_000
VERSION = "1"  # bump when the synthetic recipe changes

_CHILD = r"""
import json, os, sys, time
from warehouse.db.store import open_store
from warehouse.ingest.traces import ingest_trace
trace, db = sys.argv[1], sys.argv[2]
store = open_store(db)
store.close()
empty = os.path.getsize(db)
store = open_store(db)
t0 = time.perf_counter()
with store.transaction() as con:
    result = ingest_trace(con, trace, experts_used=4)
seconds = time.perf_counter() - t0
store.close()
with open("/proc/self/status") as f:  # VmHWM: this process's own peak (ru_maxrss survives exec)
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": seconds, "records": result.n_records, "max_rss_mb": rss,
                  "growth": os.path.getsize(db) - empty}))
"""

# Old-pipeline layout of one record: header, dst name, four sources, 16 expert ids, count.
_HEADER = struct.Struct("<QIHHBBB5x128s")
_SOURCE = struct.Struct("<128sQIHB1xQI4x")
_EXPERTS = struct.Struct("<16iB")


def _struct_loop(path: Path, n: int) -> float:
    """Records per second of a per-record ``struct.unpack`` decode of the first ``n`` records."""
    t0 = time.perf_counter()
    rows = 0
    with open(path, "rb") as f:
        for _ in range(n):
            rec = f.read(1024)
            if len(rec) < 1024:
                break
            head = _HEADER.unpack_from(rec, 0)
            if head[0] == 0:
                continue
            name = head[7].split(b"\0", 1)[0].decode("utf-8", "replace")
            sources = [_SOURCE.unpack_from(rec, 152 + 160 * i) for i in range(min(head[6], 4))]
            names = [s[0].split(b"\0", 1)[0].decode("utf-8", "replace") for s in sources]
            experts = _EXPERTS.unpack_from(rec, 792)
            rows += 1 + len(names) + len(experts[:experts[16]]) + (name == "")
    return n / (time.perf_counter() - t0)


def _raw_read(path: Path) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        data = np.fromfile(path, dtype=np.uint8)
        best = min(best, time.perf_counter() - t0)
        del data
    return best


def _ingest(path: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="moewh-bench-") as tmp:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(Path(tmp) / "w.duckdb")],
                              capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"ingest child failed: {proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _end_to_end(path: Path, existing: bool) -> float:
    moewh = Path(sys.executable).with_name("moewh")
    with tempfile.TemporaryDirectory(prefix="moewh-bench-") as tmp:
        if existing:  # the warehouse is there already, as for every trace of a lab's series but the first
            subprocess.run([sys.executable, "-c", "import sys; from warehouse.db.store import open_store; "
                            "open_store(sys.argv[1]).close()", str(Path(tmp) / "w.duckdb")], check=True)
        t0 = time.perf_counter()
        proc = subprocess.run([str(moewh), "--db", str(Path(tmp) / "w.duckdb"), "ingest", "trace", str(path),
                               "--experts-used", "4"], capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"moewh ingest trace failed: {proc.stderr}")
    return seconds


def _trace(n: int) -> Path:
    from warehouse.synth import write_large

    OUT.mkdir(exist_ok=True)
    path = OUT / f"trace-{n}-v{VERSION}.bin"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".partial")
        written = write_large(tmp, n, seed=1)
        tmp.replace(path)
        print(f"wrote {path.name}: {written:,} records in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def _verdict(label: str, value: float, target: float, unit: str = "") -> str:
    return f"{label}: {value:.2f}{unit} (target <= {target:g}{unit}) {'ok' if value <= target else 'MISSED'}"


def main() -> None:
    print(f"load average before the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs)")
    print(f"{'records':>10} {'raw read s':>10} {'ingest s':>9} {'records/s':>10} {'ratio':>6} "
          f"{'peak RSS MB':>11} {'B/record':>8} {'vs struct':>9}")
    verdicts = []
    for n in SIZES:
        path = _trace(n)
        _raw_read(path)  # into the page cache
        raw = _raw_read(path)
        runs = [_ingest(path) for _ in range(REPEATS)]
        best = min(runs, key=lambda r: r["seconds"])
        rss = max(r["max_rss_mb"] for r in runs)
        rate = best["records"] / best["seconds"]
        per_record = best["growth"] / best["records"]
        struct_rate = _struct_loop(path, min(n, STRUCT_SAMPLE))
        ratio = best["seconds"] / raw
        print(f"{best['records']:>10,} {raw:>10.3f} {best['seconds']:>9.2f} {rate:>10,.0f} {ratio:>6.1f} "
              f"{rss:>11.0f} {per_record:>8.1f} {rate / struct_rate:>8.1f}x", flush=True)
        if n == RATIO_AT:
            verdicts.append(_verdict(f"ingest / raw read at {n:,} records", ratio, RATIO_TARGET, "x"))
        if n >= RATIO_AT:
            verdicts.append(_verdict(f"peak RSS at {n:,} records", rss, RSS_TARGET_MB, " MB"))
        verdicts.append(_verdict(f"database growth at {n:,} records", per_record, GROWTH_TARGET, " B/record"))
        if n == E2E_AT:
            for existing, where in ((False, "a new warehouse"), (True, "an existing warehouse")):
                e2e = min(_end_to_end(path, existing) for _ in range(REPEATS))
                verdicts.append(_verdict(f"moewh ingest trace end to end at {n:,} records into {where}", e2e,
                                         E2E_TARGET_S, " s"))
    print(f"load average after the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs)")
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
