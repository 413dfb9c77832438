"""Demo traces: the real GPT-OSS-20B reference trace and synthetic runs for five domains.

The real trace (tag source=real) is the instrumented llama.cpp's output for "Hello world":
two warm-up evaluations, so it has passes and DISK reads but no expert selections. The
synthetic runs (tag source=synthetic, experiment "synthetic-demo") give every view and page
selections to show; they are generated deterministically into the cache folder by
``warehouse.synth`` and can never be mistaken for measurements.
"""

from __future__ import annotations

import sys

from ..db.store import Store
from ..ingest.traces import ingest_trace
from ..paths import DATA_DIR, cache_dir
from ..synth import generate_run
from ..synth.generator import GENERATOR_VERSION

REAL_TRACE = DATA_DIR / "gpt-oss-20b" / "tensor_trace.bin"
REAL_RUN_NAME = "gpt-oss-20b-hello-world"
SYNTHETIC_EXPERIMENT = "synthetic-demo"
SYNTHETIC_STEPS = 100
DOMAINS = {
    "code": "Write a Python function that merges two sorted lists.",
    "math": "Prove that the square root of 2 is irrational.",
    "chat": "Hi! Can you recommend a good book for a long train ride?",
    "science": "Explain how photosynthesis converts light into chemical energy.",
    "translation": "Translate into French: The weather is lovely this morning.",
}
# Fixed seeds: the demo must be the same on every machine.
SEEDS = {domain: 1000 + i for i, domain in enumerate(DOMAINS)}


def _say(result, what: str) -> None:
    state = "ingested" if result.created else "already present:"
    print(f"{state} {what} run {result.run_name} ({result.run_id})", file=sys.stderr)


def synthetic_trace(domain: str):
    """Path of the demo's synthetic trace for ``domain``, generated into the cache if missing."""
    folder = cache_dir() / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"gpt-oss-20b-{domain}-seed{SEEDS[domain]}-v{GENERATOR_VERSION}.bin"
    if not path.is_file():
        tmp = path.with_suffix(".partial")
        generate_run(tmp, domain=domain, n_steps=SYNTHETIC_STEPS, seed=SEEDS[domain], warmup=True)
        tmp.replace(path)
    return path


def ingest_demo_traces(store: Store, model_id: str) -> None:
    """Ingest the real trace (tag source=real) and synthetic runs (tag source=synthetic)."""
    with store.transaction() as con:
        result = ingest_trace(con, REAL_TRACE, model_id=model_id, name=REAL_RUN_NAME, experiment="reference",
                              prompt="Hello world", n_predict=1, tags={"source": "real"})
    _say(result, "real")
    for domain, prompt in DOMAINS.items():
        path = synthetic_trace(domain)
        with store.transaction() as con:
            result = ingest_trace(con, path, model_id=model_id, name=f"synthetic-{domain}",
                                  experiment=SYNTHETIC_EXPERIMENT, domain=domain, prompt=prompt,
                                  n_predict=SYNTHETIC_STEPS, tags={"source": "synthetic", "seed": str(SEEDS[domain])})
        _say(result, "synthetic")
