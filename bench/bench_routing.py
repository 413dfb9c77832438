"""Routing ingest speed: a 1M-row ``route_trace v1`` CSV and a 1M-row interchange Parquet file.

Both files are written once into bench/out/ (24 MoE layers, 128 experts, k = 4: 96 rows per
token, about 10,400 tokens of which 1,000 are prompt tokens; deterministic). In this run, for
each file, three times (the machine is shared, so one figure says little): the raw read (the
file's bytes read once), the decode alone (file -> ``Routes``), and the whole ingest (decode,
``ingest_routes`` into a fresh DuckDB file, commit), warm. Printed: the range of rows/s of
decode and ingest, and of ingest time over raw read time; a goal counts as met only if the
slowest of the three ingests meets it. Goals (issue 14): >= 500k rows/s for CSV, >= 2M rows/s
for Parquet.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"
N_ROWS = 1_000_000
N_LAYERS, N_EXPERTS, K, N_PROMPT = 24, 128, 4, 1000
VERSION = "1"
REPEATS = 3
CSV_GOAL, PARQUET_GOAL = 500_000, 2_000_000  # ingest rows/s (issue 14)


def _routes():
    n_tokens = N_ROWS // (N_LAYERS * K)
    rng = np.random.default_rng(14)
    pos = np.repeat(np.arange(n_tokens), N_LAYERS * K)
    layer = np.tile(np.repeat(np.arange(N_LAYERS), K), n_tokens)
    rank = np.tile(np.arange(K), n_tokens * N_LAYERS)
    # k distinct experts per token and layer: a random offset plus 0..k-1 strides
    base = rng.integers(0, N_EXPERTS, size=n_tokens * N_LAYERS)
    expert = (np.repeat(base, K) + rank * 37) % N_EXPERTS
    weight = np.round(rng.random(len(pos)), 6)
    return pos, layer, rank, expert, weight


def write_route_trace(path: Path) -> None:
    pos, layer, rank, expert, weight = _routes()
    phase = (pos >= N_PROMPT).astype(np.int64)
    residency = expert % 3
    lines = ["# route_trace v1",
             f"# model=/models/bench.gguf arch=qwen3moe n_layer={N_LAYERS} n_expert={N_EXPERTS} n_expert_used={K}"]
    lines += [f"# layer={i} expert_bytes=3145728 dense_bytes=16777216" for i in range(N_LAYERS)]
    lines.append("turn,phase,step,layer,slot,expert,weight,residency,expert_bytes,dropped")
    cols = np.stack([np.zeros_like(pos), phase, pos, layer, rank, expert], axis=1)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
        body = [f"{a},{b},{c},{d},{e},{g},{w:.6g},{r},{3145728 if r == 0 else 0},0"
                for (a, b, c, d, e, g), w, r in zip(cols.tolist(), weight.tolist(), residency.tolist(), strict=True)]
        f.write("\n".join(body) + "\n")


def write_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pos, layer, rank, expert, weight = _routes()
    gen = pos >= N_PROMPT
    pq.write_table(pa.table({
        "run": pa.array(["bench"] * len(pos)), "position": pos, "phase": np.where(gen, "generate", "prompt"),
        "layer": layer.astype(np.int32), "rank": rank.astype(np.int16), "expert": expert.astype(np.int32),
        "weight": weight, "step": pa.array(np.where(gen, pos - N_PROMPT, 0).astype(np.int32), mask=~gen)}), path)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _range(values, fmt: str) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def measure(path: Path, goal: float) -> bool:
    """Print the file's figures over REPEATS runs; True if the slowest ingest meets ``goal`` rows/s."""
    from warehouse.db.store import open_store
    from warehouse.formats.routing import detect
    from warehouse.ingest.routing import ingest_routing_file

    raws, decodes, totals = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(REPEATS):
            raw, _ = _timed(path.read_bytes)
            decode, runs = _timed(lambda: detect.read(path))
            rows = sum(len(r) for r in runs)
            store = open_store(Path(tmp) / f"w{i}.duckdb")

            def ingest(store=store):
                with store.transaction() as con:
                    return ingest_routing_file(con, path)

            total, _ = _timed(ingest)
            store.close()
            raws.append(raw)
            decodes.append(rows / decode / 1e6)
            totals.append(total)
    speeds = [rows / t / 1e6 for t in totals]
    met = min(speeds) >= goal / 1e6
    ratios = [t / r for t, r in zip(totals, raws, strict=True)]
    print(f"{path.name}: {rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB; "
          f"raw read {_range([r * 1000 for r in raws], '.0f')} ms; decode {_range(decodes, '.2f')} M rows/s; "
          f"ingest {_range(totals, '.2f')} s ({_range(speeds, '.2f')} M rows/s, {_range(ratios, '.0f')}x the raw "
          f"read); goal {goal / 1e6:g} M rows/s {'met' if met else 'MISSED'}")
    return met


def main() -> None:
    OUT.mkdir(exist_ok=True)
    csv = OUT / f"route_trace_1m_v{VERSION}.csv"
    parquet = OUT / f"routes_1m_v{VERSION}.parquet"
    if not csv.exists():
        write_route_trace(csv)
    if not parquet.exists():
        write_parquet(parquet)
    print(f"{REPEATS} runs each, ranges over the runs")
    for path, goal in ((csv, CSV_GOAL), (parquet, PARQUET_GOAL)):
        measure(path, goal)


if __name__ == "__main__":
    main()
