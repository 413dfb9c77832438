"""Capture overhead: plain llama-cpp-python generation against `moewh capture` on the same model,
prompt and threads, side by side in one run (goal: capture >= 0.7 x plain tokens/s).

The models are tiny_moe closed-form models (F32; values do not change the work, and greedy
generation never stops early, so both sides evaluate the same tokens) of two sizes, so that
the fixed per-graph cost of the callback can be seen against the model's own compute. Plain is
the high-level ``llama_cpp.Llama`` completion with ``max_tokens = N + 1`` (it evaluates N
generated tokens, as capture does: capture also evaluates the last one to route it). Capture
runs twice: routing only (``ops=False``) and with the op records as well (the default). Each
side runs three times, interleaved, best time kept (the machine is shared).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

PROMPT = "Mixture-of-experts routing, captured token by token. " * 2
N_PREDICT = 48
THREADS = 2
REPEATS = 3
SIZES = [  # (label, n_layer, n_expert, k, n_embd, n_ff_exp)
    ("small: 4 layers, 8 experts, n_embd 288", 4, 8, 2, 288, 64),
    ("medium: 8 layers, 16 experts k=4, n_embd 512, n_ff 512", 8, 16, 4, 512, 512),
]


def _plain(llm) -> float:
    llm.reset()  # no prompt-prefix reuse from the previous round: both sides evaluate the prompt
    t0 = time.perf_counter()
    out = llm(PROMPT, max_tokens=N_PREDICT + 1, temperature=0)
    elapsed = time.perf_counter() - t0
    assert out["usage"]["completion_tokens"] == N_PREDICT + 1, out["usage"]
    return elapsed


def _capture(session) -> float:
    t0 = time.perf_counter()
    cap = session.run(PROMPT)
    elapsed = time.perf_counter() - t0
    assert cap.n_generated == N_PREDICT
    return elapsed


def main() -> None:
    try:
        import llama_cpp
    except ImportError:
        print("skipped: llama-cpp-python is not installed (pip install -e '.[capture]')")
        return
    from warehouse.capture.runner import CaptureSession, CaptureSettings
    from warehouse.synth.tiny_moe import write_tiny_moe

    with tempfile.TemporaryDirectory() as tmp:
        for label, n_layer, n_expert, k, n_embd, n_ff in SIZES:
            path = Path(tmp) / "bench.gguf"
            write_tiny_moe(path, arch="qwen3moe", n_layer=n_layer, n_expert=n_expert, k=k, n_embd=n_embd,
                           n_ff_exp=n_ff, seed=1)
            n_prompt = len(PROMPT.encode())
            llm = llama_cpp.Llama(str(path), n_ctx=512, n_batch=512, n_ubatch=512, n_threads=THREADS,
                                  n_threads_batch=THREADS, verbose=False)
            sessions = {ops: CaptureSession(path, CaptureSettings(n_predict=N_PREDICT, n_ctx=512, n_batch=512,
                                                                   n_threads=THREADS, ops=ops))
                        for ops in (False, True)}
            best = {"plain": float("inf"), "routing": float("inf"), "ops": float("inf")}
            _plain(llm)  # warm the page cache and the allocator once
            for _ in range(REPEATS):
                best["plain"] = min(best["plain"], _plain(llm))
                best["routing"] = min(best["routing"], _capture(sessions[False]))
                best["ops"] = min(best["ops"], _capture(sessions[True]))
            for s in sessions.values():
                s.close()
            del llm
            size_mb = path.stat().st_size / 1e6
            print(f"{label} ({size_mb:.0f} MB F32), prompt {n_prompt} tokens + {N_PREDICT} generated, "
                  f"{THREADS} threads, best of {REPEATS}, load average {os.getloadavg()[0]:.1f}")
            rate = {name: N_PREDICT / t for name, t in best.items()}
            print(f"  plain llama_cpp.Llama         {best['plain'] * 1000:8.0f} ms  {rate['plain']:7.1f} tokens/s")
            print(f"  capture, routing only         {best['routing'] * 1000:8.0f} ms  {rate['routing']:7.1f} tokens/s"
                  f"  ratio {rate['routing'] / rate['plain']:.2f} x plain")
            print(f"  capture, routing + op records {best['ops'] * 1000:8.0f} ms  {rate['ops']:7.1f} tokens/s"
                  f"  ratio {rate['ops'] / rate['plain']:.2f} x plain")
