"""A model's layout as the old gguf-dump CSV, expert tensors split, so the old tools keep working.

The preamble carries the lines the old dumper printed (``Data section starts at: ...``) plus
the file size, which ``moewh ingest layout`` reads back, so export and re-ingest round-trip.
Labels in component_type follow the old dumper's wording ("Attention Q", "FFN Up Expert 7").
"""

from __future__ import annotations

import csv
import io

import duckdb

from ..db.sqlfiles import load_sql
from ..formats.layout.gguf_dump_csv import FULL_COLUMNS

# First match wins, as in the old dumper: "output" beats "attn_", so attn_output is an
# "Output Projection" and post_attention_norm is "Other".
_LABELS = [
    ("token_embd", "Token Embeddings"),
    ("output", "Output Projection"),
    ("attn_q", "Attention Q"),
    ("attn_k", "Attention K"),
    ("attn_v", "Attention V"),
    ("attn_norm", "Attention Norm"),
    ("ffn_up", "FFN Up"),
    ("ffn_down", "FFN Down"),
    ("ffn_gate", "FFN Gate"),
    ("ffn_norm", "FFN Norm"),
]


def component_type(base_name: str, expert_id: int | None) -> str:
    label = next((lab for key, lab in _LABELS if key in base_name), "Other")
    return label if expert_id is None else f"{label} Expert {expert_id}"


def export_csv(con: duckdb.DuckDBPyConnection, model_id: str) -> str:
    """The gguf-dump CSV text of one model's layout rows, in file order."""
    model = con.execute(load_sql("layout/export_model.sql"), {"model_id": model_id}).fetchall()[0]
    file_name, n_tensors, data_offset, alignment, file_size = model
    out = io.StringIO()
    out.write(f"GGUF file: {file_name}\n")
    if n_tensors is not None:
        out.write(f"Tensors: {n_tensors}\n")
    if data_offset is not None:
        aligned = f" (aligned to {alignment} bytes)" if alignment is not None else ""
        out.write(f"Data section starts at: {data_offset} bytes{aligned}\n")
    if file_size is not None:
        out.write(f"File size: {file_size} bytes\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FULL_COLUMNS)
    for name, base, expert, layer, n_dims, *ne, start, size in con.execute(
        load_sql("layout/export_rows.sql"), [model_id]
    ).fetchall():
        n = n_dims or 0
        dims = [ne[d] if d < n and ne[d] is not None else 0 for d in range(4)]
        writer.writerow([name, start, size, -1 if layer is None else layer, component_type(base, expert), n, *dims])
    return out.getvalue()
