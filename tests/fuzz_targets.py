"""Seeds and decoders for the fuzz suite (tests/test_fuzz.py): each target turns bytes (or a
JSON document) into what the warehouse would store, without a database, so that a mutated
input can only end in a result or the project's input error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from layout_samples import moe_tensors, write_gguf
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON

from warehouse.formats.trace import op_tables
from warehouse.formats.trace.names import NameTable
from warehouse.formats.trace.records import (
    RECORD_DTYPE,
    decode_experts,
    decode_records,
    decode_sources,
    pass_starts,
)
from warehouse.ingest.experiments import find_runs
from warehouse.ingest.models import decode_gguf, decode_layout_file
from warehouse.ingest.traces import open_source
from warehouse.synth.encode import legacy_records

N_RECORDS = 48  # records of the real trace in the binary seeds


def seed_gguf(tmp: Path) -> bytes:
    return write_gguf(tmp / "seed.gguf", moe_tensors(n_layers=2, n_experts=4)).read_bytes()


def seed_trace_1024(tmp: Path) -> bytes:
    return np.fromfile(REAL_TRACE, dtype=RECORD_DTYPE, count=N_RECORDS).tobytes()


def seed_trace_256(tmp: Path) -> bytes:
    return legacy_records(np.fromfile(REAL_TRACE, dtype=RECORD_DTYPE, count=N_RECORDS)).tobytes()


def seed_csv(tmp: Path) -> bytes:
    doc = json.loads(MEMORY_MAP.read_text())
    lines = ["GGUF file: m.gguf", "Data section starts at: 13008832 bytes (aligned to 32 bytes)",
             "tensor_name,file_offset,size_bytes,layer_id,component_type,n_dims,dim0,dim1,dim2,dim3"]
    for t in doc["tensors"][:40]:
        dims = (list(t.get("shape") or []) + [0, 0, 0, 0])[:4]
        lines.append(f"{t['name']},{t['offset_start']},{t['size_bytes']},{t.get('layer_id', -1)},x,"
                     f"{len(t.get('shape') or [])},{','.join(map(str, dims))}")
    return ("\n".join(lines) + "\n").encode()


def seed_memory_map_doc() -> dict:
    doc = json.loads(MEMORY_MAP.read_text())
    doc["tensors"] = doc["tensors"][:40]
    return doc


def seed_token_doc() -> dict:
    doc = json.loads(TOKEN_JSON.read_text())
    doc["entries"] = doc["entries"][:24]
    return doc


def seed_metadata_docs() -> dict[str, object]:
    return {
        "prompts.json": {"experiment_name": "e", "prompts": [{"id": "r1", "domain": "code", "prompt": "p",
                                                              "n_predict": 3}]},
        "settings.json": {"experiment": {"prompt": "q", "tokens_to_generate": 4}},
        "summary.json": {"experiment": "e", "domains": [{"id": "r1", "tokens": 5}]},
    }


def decode_gguf_bytes(path: Path) -> int:
    return len(decode_gguf(path).tensors)


def decode_layout_bytes(path: Path) -> int:
    return len(decode_layout_file(path).tensors)


def decode_trace(path: Path) -> int:
    """What `moewh ingest trace` decodes, up to the database: detection, scan, every chunk."""
    source = open_source(path)
    source.scan(None)
    ops = op_tables.names(source.default_op_table)
    n, counter = 0, 0
    dst_names, source_names = NameTable(), NameTable()
    for record_ids, rec in source.chunks(None):
        pass_ids = counter + np.cumsum(pass_starts(rec))
        counter = int(pass_ids[-1])
        n += decode_records(rec, record_ids, pass_ids, ops, None, dst_names).table.num_rows
        decode_sources(rec, record_ids, ops, source_names)
        decode_experts(rec, record_ids, ops, 32)
    return n


def describe_runs(root: Path) -> int:
    return len(find_runs(root))


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path)
    return path
