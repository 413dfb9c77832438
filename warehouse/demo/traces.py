"""Demo traces: the real reference trace and synthetic runs (owned by the trace work)."""

from __future__ import annotations

from ..store import Store


def ingest_demo_traces(store: Store, model_id: str) -> None:
    """Ingest the real trace (tag source=real) and synthetic runs (tag source=synthetic)."""
    raise NotImplementedError
