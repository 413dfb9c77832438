"""Layout speed: our GGUF header parser against gguf.GGUFReader on the GPT-OSS-20B replica,
the whole `moewh ingest model` command, and the overlap view against a naive self join."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from warehouse.db.store import open_store
from warehouse.demo.layout import replica_path
from warehouse.formats.gguf.layout import read_gguf_layout
from warehouse.ingest.models import decode_gguf, store_layout

NAIVE_OVERLAPS = """
select count(*) from tensors a join tensors b
  on a.model_id = b.model_id and a.tensor_name < b.tensor_name
 and a.offset_start < b.offset_end and b.offset_start < a.offset_end
where a.model_id = ?
"""


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from gguf import GGUFReader

    path = replica_path()
    ours = best_of(5, lambda: read_gguf_layout(path))
    reader = best_of(1, lambda: GGUFReader(path))
    print(f"header of {path.name} ({len(read_gguf_layout(path).tensors)} tensors, 201,088-entry vocabulary)")
    print(f"  read_gguf_layout   {ours * 1000:8.1f} ms")
    print(f"  gguf.GGUFReader    {reader * 1000:8.1f} ms")
    print(f"  ratio              {reader / ours:8.1f} x faster")
    decode = best_of(3, lambda: decode_gguf(path))
    print(f"  decode_gguf (parse + 4,923 rows) {decode * 1000:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.duckdb")
        with open_store(db):
            pass  # schema and views, so the timings below are the ingest alone
        moewh = Path(sys.executable).with_name("moewh")
        t0 = time.perf_counter()
        subprocess.run([str(moewh), "--db", db, "ingest", "model", str(path)], check=True, capture_output=True)
        cli = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([str(moewh), "--version"], check=True, capture_output=True)
        startup = time.perf_counter() - t0
        print(f"`moewh ingest model` (new DB, replica) {cli * 1000:.0f} ms wall, of which CLI start-up "
              f"(`moewh --version`) {startup * 1000:.0f} ms")

        with open_store(db) as store:
            # a second, overlapping copy of the layout: every row shifted by half a slice
            decoded = decode_gguf(path)
            decoded.model["model_id"] = "overlapping"
            decoded.metadata = []
            for row in decoded.tensors:
                row["model_id"] = "overlapping"
                row["offset_start"] += row["size_bytes"] // 2
                row["offset_end"] += row["size_bytes"] // 2
            t0 = time.perf_counter()
            with store.transaction() as con:
                store_layout(con, decoded)
            print(f"store_layout, 4,923 rows: {(time.perf_counter() - t0) * 1000:.0f} ms")
            con = store.con
            clean = decode_gguf(path).model_id
            for label, model_id in (("clean", clean), ("overlapping", "overlapping")):
                view = best_of(3, lambda m=model_id: con.execute(
                    "select count(*) from v1.layout_overlaps where model_id = ?", [m]).fetchall())
                naive = best_of(3, lambda m=model_id: con.execute(NAIVE_OVERLAPS, [m]).fetchall())
                n = con.execute("select count(*) from v1.layout_overlaps where model_id = ?", [model_id]).fetchall()
                print(f"v1.layout_overlaps, {label} layout ({n[0][0]} pairs): {view * 1000:.1f} ms; "
                      f"naive self join {naive * 1000:.1f} ms; ratio {naive / view:.1f}")

if __name__ == "__main__":
    main()
