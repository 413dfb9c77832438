"""Parquet lake and Spark on the demo warehouse (`moewh ingest demo`), side by side in one run.

- export: the whole warehouse, then one run again (the per-run replace), then an import of
  the lake into a fresh warehouse; rows per second and the lake's size beside the DuckDB file;
- Spark (local[2]): session start, lake registration, then each compared view on DuckDB and
  on Spark (second run of each, so the JVM has compiled the plan), with the ratio.

The demo is ingested once into bench/out/; the lake and the second warehouse are rewritten
on every run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
VIEWS = ["expert_hotness", "expert_selections", "layer_routing_stats", "pass_bytes"]


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def main() -> None:
    from warehouse.db.store import open_store
    from warehouse.lake.parquet import export_parquet, import_parquet
    from warehouse.lake.spark import SparkLake, start_session, stop_session

    OUT.mkdir(exist_ok=True)
    db = OUT / "lake-demo.duckdb"
    if not db.exists():
        subprocess.run([sys.executable, "-m", "warehouse", "--db", str(db), "ingest", "demo"], check=True,
                       stdout=subprocess.DEVNULL)
    lake_dir = OUT / "lake-demo"
    shutil.rmtree(lake_dir, ignore_errors=True)
    copy = OUT / "lake-demo-import.duckdb"
    copy.unlink(missing_ok=True)

    store = open_store(db, read_only=True)
    summary, t_all = _timed(lambda: export_parquet(store.con, lake_dir))
    rows = sum(summary.rows.values())
    one = summary.runs[-1]
    _, t_one = _timed(lambda: export_parquet(store.con, lake_dir, runs=[one]))
    target = open_store(copy)

    def load():
        with target.transaction() as con:
            return import_parquet(con, lake_dir)

    _, t_import = _timed(load)
    target.close()
    print(f"export, all {len(summary.runs)} runs: {rows:,} rows in {t_all:.2f} s ({rows / t_all:,.0f} rows/s); "
          f"lake {_size(lake_dir) / 2**20:.1f} MiB beside the DuckDB file's {_size(db) / 2**20:.1f} MiB")
    print(f"re-export of one run: {t_one:.2f} s ({t_one / t_all:.2f} x the full export)")
    print(f"import into a new warehouse: {t_import:.2f} s ({t_import / t_all:.2f} x the export)")

    spark, t_start = _timed(lambda: start_session("local[2]", shuffle_partitions=2))
    lake, t_reg = _timed(lambda: SparkLake(str(lake_dir), spark=spark))
    print(f"Spark local[2]: session {t_start:.1f} s, lake registered in {t_reg:.1f} s")
    print(f"{'view':24} {'rows':>8} {'DuckDB s':>9} {'Spark s':>9} {'Spark/DuckDB':>13}")
    for view in VIEWS:
        q = f"select * from v1.{view}"
        for _ in range(2):
            duck, t_duck = _timed(lambda q=q: store.con.sql(q).to_arrow_table())
            _, t_spark = _timed(lambda q=q: lake.sql(q))
        print(f"{view:24} {duck.num_rows:>8,} {t_duck:>9.3f} {t_spark:>9.3f} {t_spark / t_duck:>13.1f}")
    stop_session(spark)
    store.close()


if __name__ == "__main__":
    main()
