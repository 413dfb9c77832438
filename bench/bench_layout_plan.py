"""Layout planning and repacking, measured side by side.

- Planning: `plan_model` (read the decode steps from the warehouse, then score all five orders)
  and the scoring alone (`make_plan`), over the 100 runs x 100 decode steps GPT-OSS-20B warehouse
  of bench_views (built there and cached in bench/out/). Goal: <= 5 s for all five orders.
- Repack: `repack --order coact` of a 1 GiB MoE-shaped GGUF with random bytes (not sparse: every
  byte is read, written and verified) against a plain copy of the same file (shutil.copyfile
  then fsync, as repack fsyncs), alternating, best of three each. Goal: >= 0.8x the copy's rate.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from bench.bench_views import DB, _cached, build
from warehouse.db.store import open_store
from warehouse.layout import plan as lp
from warehouse.layout.plan_store import load_layout, load_steps, plan_model
from warehouse.layout.repack import repack

OUT = Path(__file__).parent / "out"
N_LAYERS, N_EXPERTS = 8, 32


def _write_model(path: Path) -> int:
    from gguf import GGMLQuantizationType, GGUFWriter

    rng = np.random.default_rng(0)
    w = GGUFWriter(path, "gpt-oss")
    w.add_uint32("gpt-oss.block_count", N_LAYERS)
    w.add_uint32("gpt-oss.expert_count", N_EXPERTS)
    per = (1 << 30) // (N_LAYERS * 3 * N_EXPERTS)  # bytes of one expert slice: 1 GiB in all
    for la in range(N_LAYERS):
        for comp in ("ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"):
            w.add_tensor(f"blk.{la}.{comp}.weight",
                         rng.integers(0, 256, size=(N_EXPERTS, 64, per // 64 // 34 * 34), dtype=np.uint8),
                         raw_dtype=GGMLQuantizationType.Q8_0)
        w.add_tensor(f"blk.{la}.ffn_gate_inp.weight", rng.standard_normal((N_EXPERTS, 256)).astype(np.float32))
        w.add_tensor(f"blk.{la}.attn_q.weight", rng.standard_normal((256, 256)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.stat().st_size


def _copy(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def bench_repack() -> None:
    OUT.mkdir(exist_ok=True)
    src, dst = OUT / "repack-src.gguf", OUT / "repack-dst.gguf"
    size = _write_model(src)
    rng = np.random.default_rng(1)
    perms = np.stack([rng.permutation(N_EXPERTS) for _ in range(N_LAYERS)])
    best = {"copy": float("inf"), "repack": float("inf")}
    try:
        for _ in range(3):
            for name in ("copy", "repack"):
                dst.unlink(missing_ok=True)
                t = time.perf_counter()
                _copy(src, dst) if name == "copy" else repack(src, dst, "coact", perms)
                best[name] = min(best[name], time.perf_counter() - t)
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
    rate = {k: size / v / 2**20 for k, v in best.items()}
    print(f"repack coact of a {size / 2**30:.2f} GiB file: {rate['repack']:,.0f} MiB/s (write + verify), "
          f"plain copy + fsync {rate['copy']:,.0f} MiB/s; repack/copy = {rate['repack'] / rate['copy']:.2f}x "
          "(goal >= 0.8x)")


def bench_plan() -> None:
    if not _cached():
        DB.parent.mkdir(exist_ok=True)
        build(DB)
    with open_store(DB, read_only=True) as store:
        con = store.con
        model_id = con.execute("select model_id from v1.models").fetchone()[0]
        runs = [r[0] for r in con.execute("select run_id from v1.runs where model_id = ?", [model_id]).fetchall()]
        times, cpu = [], []
        for _ in range(2):
            t, c = time.perf_counter(), time.process_time()
            planned = plan_model(con, model_id, None, None, list(lp.ORDERS), lp.Params(), None)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        layout, _ = load_layout(con, model_id)
        t = time.perf_counter()
        steps, sel = load_steps(con, layout, runs)
        t_load = time.perf_counter() - t
    scoring = []
    for _ in range(2):
        t = time.perf_counter()
        lp.make_plan(layout, steps, list(lp.ORDERS), lp.Params(), sel, set(runs))
        scoring.append(time.perf_counter() - t)
    print(f"plan of {len(planned.scored)} runs x {steps.n_steps / max(len(planned.scored), 1):.0f} steps "
          f"({steps.n_steps:,} steps, {len(layout):,} layout rows), all five orders: {min(times):.2f} s "
          f"wall, {min(cpu):.2f} s CPU (goal <= 5 s; load average {os.getloadavg()[0]:.1f}); of which reading the steps {t_load:.2f} s, training and scoring {min(scoring):.2f} s")


def main() -> None:
    bench_plan()
    bench_repack()


if __name__ == "__main__":
    main()
