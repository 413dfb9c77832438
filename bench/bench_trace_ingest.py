"""Trace ingest speed and memory on GPT-OSS-20B-shaped traces of 100k and 1M records.

The traces are written by ``warehouse.synth.write_large`` (whole 848-record passes of the real
trace's structure, k=4 selections) into bench/out/ once. For each size, in this run:

- raw read: the time to read the file's bytes once (64 MiB reads into one buffer), with the
  file evicted from the page cache first (``posix_fadvise(DONTNEED)``) and again warm;
- ingest: ``ingest_trace`` into a fresh DuckDB file, transaction and commit included, in a
  child process (so its peak RSS, ``VmHWM``, is the ingest's own), with the file evicted
  first, then again warm. The first conversion to Arrow in a process imports pandas (pyarrow
  does, about 0.3 s); the warm child therefore also times a second ingest of the same file
  into another fresh database ("again"), the steady cost per trace of a long-lived process
  such as `moewh ingest dir`.

Printed: records/s, the ratio ingest time / raw read time (cold against cold, warm against
warm) and the child's peak RSS (of the first ingest). Targets: ratio <= 5 at 100k records;
peak RSS <= 600 MB at 1M.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
SIZES = (100_000, 1_000_000)
RATIO_TARGET = 5.0
RSS_TARGET_MB = 600
VERSION = "1"  # bump when the synthetic recipe changes

_CHILD = r"""
import json, os, resource, sys, time
from warehouse.db.store import open_store
from warehouse.ingest.traces import ingest_trace
trace, db = sys.argv[1], sys.argv[2]
store = open_store(db)
t0 = time.perf_counter()
with store.transaction() as con:
    result = ingest_trace(con, trace, experts_used=4)
seconds = time.perf_counter() - t0
store.close()
def peak_rss_mb():
    # VmHWM belongs to this process's own address space. ru_maxrss would not do: Linux keeps it
    # across fork and exec, so a child of a large parent reports the parent's peak.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rss = peak_rss_mb()
if sys.argv[3] == "again":  # the same ingest into a second fresh database, imports already done
    store = open_store(db + ".2")
    t0 = time.perf_counter()
    with store.transaction() as con:
        ingest_trace(con, trace, experts_used=4)
    again = time.perf_counter() - t0
    store.close()
else:
    again = None
print(json.dumps({"seconds": seconds, "again": again, "records": result.n_records, "passes": result.n_passes,
                  "max_rss_mb": rss}))
"""


def _evict(path: Path) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


def _raw_read(path: Path) -> float:
    buf = bytearray(64 << 20)
    view = memoryview(buf)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(view):
            pass
    return time.perf_counter() - t0


def _ingest(path: Path, again: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="moewh-bench-") as tmp:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(Path(tmp) / "w.duckdb"),
                               "again" if again else "once"],
                              capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"ingest child failed: {proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _trace(n: int) -> Path:
    from warehouse.synth import write_large

    OUT.mkdir(exist_ok=True)
    path = OUT / f"trace-{n}-v{VERSION}.bin"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".partial")
        written = write_large(tmp, n, seed=1)
        tmp.replace(path)
        print(f"wrote {path.name}: {written:,} records in {time.perf_counter() - t0:.1f} s")
    return path


def main() -> None:
    print(f"{'records':>10} {'cache':>5} {'raw read s':>10} {'ingest s':>9} {'records/s':>10} {'ratio':>6} "
          f"{'again s':>8} {'ratio':>6} {'peak RSS MB':>11}")
    verdicts = []
    for n in SIZES:
        path = _trace(n)
        for cache in ("cold", "warm"):
            if cache == "cold" and not _evict(path):
                continue
            raw = _raw_read(path)
            if cache == "cold":
                _evict(path)
            res = _ingest(path, again=cache == "warm")
            ratio = res["seconds"] / raw
            again = (f"{res['again']:>8.2f} {res['again'] / raw:>6.1f}" if res["again"] is not None
                     else f"{'':>8} {'':>6}")
            print(f"{res['records']:>10,} {cache:>5} {raw:>10.3f} {res['seconds']:>9.2f} "
                  f"{res['records'] / res['seconds']:>10,.0f} {ratio:>6.1f} {again} {res['max_rss_mb']:>11.0f}",
                  flush=True)
            if n == SIZES[0] and cache == "cold":
                verdicts.append(f"ratio at {n:,} records (cold file, fresh process): {ratio:.1f} "
                                f"(target <= {RATIO_TARGET:g}) {'ok' if ratio <= RATIO_TARGET else 'MISSED'}")
            if n == SIZES[-1] and cache == "cold":
                verdicts.append(f"peak RSS at {n:,} records: {res['max_rss_mb']:.0f} MB (target <= {RSS_TARGET_MB}) "
                                f"{'ok' if res['max_rss_mb'] <= RSS_TARGET_MB else 'MISSED'}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} CPUs)")
    for v in verdicts:
        print(v)


if __name__ == "__main__":
    main()
