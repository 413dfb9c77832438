"""`moewh ingest demo`: the embedded GPT-OSS-20B data set, so every view and page has data.

- layout: a GGUF replica of the real model's tensor table (sparse data section), see layout.py
- traces: the real reference trace plus deterministic synthetic runs, see traces.py
"""

from __future__ import annotations

from ..db.store import Store


def ingest_demo(store: Store) -> None:
    from . import layout, traces

    model_id = layout.ingest_replica(store)
    traces.ingest_demo_traces(store, model_id)
