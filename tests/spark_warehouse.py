"""The warehouse the Spark tests export: real ingest paths plus the views' edge cases.

The GPT-OSS-20B layout (memory-map.json), the real reference trace and synthetic GPT-OSS runs
of three domains go through the same ingest code as `moewh ingest`; the view tests' small
known-truth warehouse (two more models, warm-ups in mid-run, a run without a model, a repeated
expert id) is written beside them, routing-only runs imported from the routing fixtures (recorder
bytes, a run on the layout, counts only), cache and predictor simulations over all of them, and
a damaged copy of the memory map (one tensor missing, one grown into its neighbour) gives v1.layout_gaps and v1.layout_overlaps rows, so every view
has rows that exercise its corners.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store
from warehouse.ingest.models import ingest_layout_file
from warehouse.ingest.routing import ingest_routing_file
from warehouse.ingest.traces import ingest_trace
from warehouse.paths import DATA_DIR
from warehouse.simulate.runner import simulate_cache, simulate_predictors
from warehouse.synth import generate_run

DATA = Path(__file__).parent / "data"


def build(db: Path, scratch: Path) -> None:
    store = open_store(db)
    with store.transaction() as con:
        model_id = ingest_layout_file(con, DATA / "gpt-oss-20b" / "memory-map.json", "gpt-oss-20b").model_id
    with store.transaction() as con:
        # memory-map.json does not say k; GPT-OSS-20B uses 4 experts per token
        ingest_trace(con, DATA_DIR / "gpt-oss-20b" / "tensor_trace.bin", model_id=model_id, name="real", experts_used=4,
                     tags={"source": "real"})
    for i, domain in enumerate(("code", "math", "prose")):
        trace = scratch / f"synth-{domain}.bin"
        generate_run(trace, domain=domain, n_steps=12 + 3 * i, seed=i + 1, warmup=i != 1)
        with store.transaction() as con:
            ingest_trace(con, trace, model_id=model_id, name=f"synth-{domain}", domain=domain,
                         experiment="lake", tags={"source": "synthetic"})
    with store.transaction() as con:
        ingest_layout_file(con, damaged_memory_map(scratch / "damaged-memory-map.json"), "gpt-oss-20b-damaged")
    insert(store.con, build_truth())
    # routing-only runs: recorder bytes and two turns, untrusted rows, a run on the layout, counts only
    routing = DATA / "routing"
    with store.transaction() as con:
        ingest_routing_file(con, routing / "route_trace.csv", domain="chat")
        ingest_routing_file(con, routing / "moe_trace.csv", experts_used=2, domain="code")
        ingest_routing_file(con, routing / "moe_trace_phased.csv", model_id=model_id, domain="code")
        ingest_routing_file(con, routing / "sglang_stat.pt", model_id=model_id, name="sglang-counts")
    # the simulation views: budgets (item sizes), slots for the run without a model, predictors
    simulate_cache(store, None, budgets=[3 << 30, 20000])
    simulate_cache(store, None, slots=[4, 64], scope="layer", train_domain="code")
    simulate_predictors(store, None)
    store.close()


def damaged_memory_map(path: Path) -> Path:
    """The reference memory map with its 11th tensor gone (a gap) and its 21st grown by 4 KiB
    into the next one (an overlap)."""
    doc = json.loads((DATA / "gpt-oss-20b" / "memory-map.json").read_text())
    tensors = sorted(doc["tensors"], key=lambda t: t["offset_start"])
    grown = tensors[20]
    grown["offset_end"] += 4096
    grown["size_bytes"] += 4096
    del tensors[10]
    doc["tensors"] = tensors
    path.write_text(json.dumps(doc))
    return path
