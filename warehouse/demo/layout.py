"""GPT-OSS-20B layout replica (owned by the layout work)."""

from __future__ import annotations

from ..store import Store


def ingest_replica(store: Store) -> str:
    """Build (once, in the cache folder) and ingest the replica; return its model_id."""
    raise NotImplementedError
