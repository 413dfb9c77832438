"""Helpers for the trace tests: stores with a layout, table snapshots, a small MoE GGUF."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "gpt-oss-20b"
MEMORY_MAP = DATA / "memory-map.json"
TOKEN_JSON = DATA / "token-00000.json"
REAL_TRACE = Path(__file__).parent.parent / "warehouse" / "data" / "gpt-oss-20b" / "tensor_trace.bin"
RUN_TABLES = ("runs", "records", "sources", "record_experts", "passes", "selections", "anomalies")


def store_with_layout(db_path: str):
    """An open store holding the GPT-OSS-20B layout from memory-map.json; returns (store, model_id)."""
    from warehouse.db.store import open_store
    from warehouse.ingest.models import ingest_layout_file

    store = open_store(db_path)
    with store.transaction() as con:
        model_id = ingest_layout_file(con, MEMORY_MAP).model_id
    return store, model_id


def ingest(store, path, **kwargs):
    from warehouse.ingest.traces import ingest_trace

    with store.transaction() as con:
        return ingest_trace(con, path, **kwargs)


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in RUN_TABLES}


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def file_digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else "absent"


def write_moe_gguf(path: Path, n_experts: int = 32, k: int = 4, n_layers: int = 2) -> Path:
    """A small real GGUF (gpt-oss architecture keys) with expert tensors, for --model PATH.gguf."""
    from gguf import GGMLQuantizationType, GGUFWriter

    w = GGUFWriter(path, "gpt-oss")
    w.add_block_count(n_layers)
    w.add_expert_count(n_experts)
    w.add_expert_used_count(k)
    for layer in range(n_layers):
        for part in ("gate", "up", "down"):
            w.add_tensor(f"blk.{layer}.ffn_{part}_exps.weight", np.zeros((n_experts, 4, 32), np.float32),
                         raw_dtype=GGMLQuantizationType.F32)
    w.add_tensor("token_embd.weight", np.zeros((8, 32), np.float32), raw_dtype=GGMLQuantizationType.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
