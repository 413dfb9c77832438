"""Model layouts as rows of ``models``, ``model_metadata`` and ``tensors``.

One splitting rule serves every layout source: a tensor whose name contains ``_exps`` and whose
last dimension equals the model's expert count (the 3-D expert weights and the 2-D expert
biases) becomes one row per expert, ``NAME[e]``, covering expert e's contiguous share of the
tensor's bytes. Legacy files that are already split keep their slices as written, so a broken
old file stays visibly broken for ``moewh check layout``.

Decoding (``decode_gguf``, ``decode_layout_file``) reads and validates everything before the
database is touched; ``store_layout`` then writes inside the caller's transaction.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..db import catalog
from ..db.sqlfiles import ident, load_sql, render_sql
from ..errors import InputError
from ..formats.gguf.expert_permutation import file_permutations
from ..formats.gguf.layout import GGUFLayout, ggml_type, read_gguf_layout
from ..formats.layout.detect import read_layout_file
from ..formats.layout.entries import LegacyLayout, split_name
from ..formats.limits import INT32_MAX, INT64_MAX, MAX_EXPERTS, MAX_LAYER, MAX_LAYOUT_ROWS
from .arrow_columns import insert_schema, rows_table

MODEL_ID_DIGITS = 16
DEFAULT_ALIGNMENT = 32

_BLOCK = re.compile(r"^blk\.(\d{1,5})\.(.+)$")
_ANY_BLOCK = re.compile(r"^blk\.(\d+)\.")
_SUFFIX = re.compile(r"\.(weight|bias)$")


@dataclass(frozen=True)
class IngestResult:
    model_id: str
    created: bool  # False: the same content was already there, nothing changed
    n_rows: int  # layout rows (v1.tensors) of the model
    model_name: str = ""
    # True when a layout file's rows equal those of a model already stored (say, from its GGUF):
    # the file describes that model, so model_id is that model's and nothing was written.
    matched: bool = False


@dataclass
class DecodedLayout:
    """Everything ``store_layout`` writes, computed and validated up front."""

    model: dict
    metadata: list[dict] = field(default_factory=list)
    tensors: list[dict] = field(default_factory=list)

    @property
    def model_id(self) -> str:
        return self.model["model_id"]


def describe(base_name: str) -> tuple[int | None, str, str]:
    """(layer_id, component, category) of a GGUF tensor name; used for every layout source."""
    m = _BLOCK.match(base_name)
    layer, rest = (int(m.group(1)), m.group(2)) if m else (None, base_name)
    component = _SUFFIX.sub("", rest)
    if "_exps" in component:
        category = "expert_bias" if base_name.endswith(".bias") else "expert"
    elif component.startswith("ffn_gate_inp"):
        category = "router"
    elif "norm" in component:
        category = "norm"
    elif component.startswith("attn"):
        category = "attention"
    elif component.startswith("ffn"):
        category = "ffn"
    elif component.startswith(("token_embd", "pos_embd", "token_types")):
        category = "embedding"
    elif component.startswith("output"):
        category = "output"
    else:
        category = "other"
    return layer, component, category


def is_expert_split(base_name: str, dims: tuple[int, ...] | None, n_experts: int | None) -> bool:
    return bool(n_experts) and "_exps" in base_name and dims is not None and len(dims) >= 2 \
        and dims[-1] == n_experts


def _row(model_id, name, base, expert, dims, ggml_type, start, size, file_index) -> dict:
    layer, component, category = describe(base)
    ne = list(dims) if dims is not None else []
    padded = ne + [1] * (4 - len(ne)) if dims is not None else [None] * 4
    return {
        "model_id": model_id, "tensor_name": name, "base_name": base, "expert_id": expert,
        "layer_id": layer, "component": component, "category": category, "ggml_type": ggml_type,
        "n_dims": len(ne) if dims is not None else None,
        "ne0": padded[0], "ne1": padded[1], "ne2": padded[2], "ne3": padded[3],
        "offset_start": start, "offset_end": start + size, "size_bytes": size, "file_index": file_index,
    }


def check_layer_name(path, name: str, record: int | None = None) -> None:
    """Refuse a ``blk.N.`` name whose layer number no model can have (before ``describe``)."""
    m = _ANY_BLOCK.match(name)
    if m and (len(m.group(1)) > 5 or int(m.group(1)) > MAX_LAYER):
        digits = m.group(1) if len(m.group(1)) <= 12 else m.group(1)[:9] + "..."
        raise InputError(path, f"tensor {_shown(name)}: layer number {digits} is above {MAX_LAYER}", record=record)


def split_count(path, base: str, dims, size: int, n_experts: int | None, min_slice: int,
                record: int | None = None) -> int:
    """Rows one whole tensor becomes under the splitting rule (1, or ``n_experts``), refusing a
    split that cannot be real: slices of zero bytes or smaller than one ggml block."""
    if not (is_expert_split(base, dims, n_experts) and size % n_experts == 0):
        return 1
    if size // n_experts < max(min_slice, 1):
        raise InputError(path, f"tensor {_shown(base)}: {size} bytes split into {n_experts} experts gives "
                         f"slices of {size // n_experts} bytes, less than one block ({max(min_slice, 1)} bytes)",
                         record=record)
    return n_experts


def _check_rows(path, n_rows: int) -> None:
    if n_rows > MAX_LAYOUT_ROWS:
        raise InputError(path, f"the layout would have {n_rows:,} rows (tensors and expert slices); no real "
                         f"model has more than {MAX_LAYOUT_ROWS:,}")


def _fact(path, value: int | None, what: str, maximum: int, offset: int | None = None) -> int | None:
    """A count the model row stores, refused when it is negative or beyond ``maximum``."""
    if value is not None and not 0 <= value <= maximum:
        raise InputError(path, f"{what} is {value}, not in [0, {maximum}]", offset=offset)
    return value


def _shown(name: str) -> str:
    return repr(name) if len(name) <= 80 else repr(name[:77] + "...")


def split_rows(model_id: str, base: str, dims, ggml_type, start: int, size: int, file_index: int,
               n_experts: int | None, expert_ids: list[int] | None = None) -> list[dict]:
    """Rows of one whole tensor: one, or one per expert slice under the splitting rule.

    ``expert_ids[j]`` is the expert held at position j (a repacked file's permutation); the
    slice is named and numbered by it."""
    if is_expert_split(base, dims, n_experts) and size % n_experts == 0:
        share = size // n_experts
        ids = expert_ids if expert_ids is not None else range(n_experts)
        return [_row(model_id, f"{base}[{e}]", base, e, dims[:-1], ggml_type, start + j * share, share,
                     file_index) for j, e in enumerate(ids)]
    return [_row(model_id, base, base, None, dims, ggml_type, start, size, file_index)]


def _render(entry) -> str | None:
    v = entry.value
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if entry.value_type == "FLOAT32":
        return str(np.float32(v))  # shortest text that reads back as the same float32
    return str(v)


def decode_gguf(path: str | os.PathLike, name: str | None = None) -> DecodedLayout:
    """Read a GGUF file's layout into the rows ``store_layout`` writes."""
    path = Path(path)
    layout: GGUFLayout = read_gguf_layout(path)
    model_id = layout.fingerprint[:MODEL_ID_DIGITS]

    def fact(suffix: str, maximum: int) -> int | None:
        key = f"{layout.architecture}.{suffix}"
        entry = layout.get(key)
        return _fact(path, layout.arch_int(suffix), f"metadata {key!r}", maximum, entry and entry.offset)

    n_experts = fact("expert_count", MAX_EXPERTS)
    model = dict(
        model_id=model_id, fingerprint=layout.fingerprint, model_name=name or path.name, source_kind="gguf",
        source_path=str(path.resolve()), file_name=path.name, file_size_bytes=layout.file_size,
        gguf_version=layout.version, architecture=layout.architecture,
        n_layers=fact("block_count", MAX_LAYER + 1), n_experts=n_experts,
        n_experts_used=fact("expert_used_count", MAX_EXPERTS), n_embd=fact("embedding_length", INT64_MAX),
        n_vocab=_fact(path, layout.n_vocab, "the vocabulary size", INT64_MAX),
        data_offset=layout.data_offset, alignment=layout.alignment, n_tensors=len(layout.tensors), inferred=[],
    )
    metadata = [{"model_id": model_id, "key": m.key, "value_type": m.value_type, "value": _render(m),
                 "value_length": m.value_length, "array_type": m.array_type, "array_length": m.array_length}
                for m in layout.metadata]
    n_rows = 0
    for t in layout.tensors:
        check_layer_name(path, t.name)
        n_rows += split_count(path, t.name, t.dims, t.size_bytes, n_experts, ggml_type(t.type_id).type_size)
    _check_rows(path, n_rows)
    # a repacked file's slices are named and numbered by their original experts
    perms = file_permutations({m.key: m.value for m in layout.metadata}, model["n_layers"] or 0, n_experts or 0,
                              path)
    tensors: list[dict] = []
    for t in layout.tensors:
        layer = describe(t.name)[0]
        ids = perms[layer].tolist() if perms is not None and layer is not None and layer < len(perms) else None
        tensors += split_rows(model_id, t.name, t.dims, t.ggml_type, t.data_start, t.size_bytes, t.index,
                              n_experts, ids)
    return DecodedLayout(model, metadata, tensors)


def decode_layout_file(path: str | os.PathLike, name: str | None = None) -> DecodedLayout:
    """Read a gguf-dump CSV or memory-map.json into rows; facts it lacks are inferred or NULL."""
    path = Path(path)
    legacy: LegacyLayout = read_layout_file(path)
    model_id = legacy.fingerprint[:MODEL_ID_DIGITS]
    facts = dict(legacy.facts)
    inferred: list[str] = []

    def infer(key: str, value) -> None:
        if key not in facts and value is not None:
            facts[key] = value
            inferred.append(key)

    # Whole tensors in file order; pre-split slices are grouped under their base name.
    order: dict[str, int] = {}
    seen: set[str] = set()
    for e in legacy.entries:
        if e.name in seen:
            raise InputError(path, f"tensor {_shown(e.name)} is listed twice", record=e.record)
        seen.add(e.name)
        check_layer_name(path, e.name, e.record)
        if e.offset_start + e.size_bytes > INT64_MAX:
            raise InputError(path, f"tensor {_shown(e.name)} ends past byte 2^63", record=e.record)
        if e.expert_id is not None and e.expert_id >= MAX_EXPERTS:
            raise InputError(path, f"tensor {_shown(e.name)}: expert id {e.expert_id} is not below {MAX_EXPERTS}",
                             record=e.record)
        order.setdefault(split_name(e.name)[0], len(order))

    slice_ids = [e.expert_id for e in legacy.entries if e.expert_id is not None]
    if slice_ids:
        n_experts = max(slice_ids) + 1
    else:  # unsplit 3-D expert weights say it in their last dimension
        n_experts = next((e.dims[-1] for e in legacy.entries
                          if "_exps" in e.name and e.dims is not None and len(e.dims) == 3), None)
    if n_experts is not None and n_experts > MAX_EXPERTS:
        raise InputError(path, f"expert weights whose last dimension is {n_experts} would mean {n_experts:,} "
                         f"experts; more than {MAX_EXPERTS:,} cannot be real")
    infer("n_experts", n_experts)
    layers = [e.layer_id for e in legacy.entries if e.layer_id is not None]
    infer("n_layers", max(layers) + 1 if layers else None)
    for key, maximum in (("n_layers", MAX_LAYER + 1), ("n_experts", MAX_EXPERTS), ("n_embd", INT64_MAX),
                         ("n_vocab", INT64_MAX), ("data_offset", INT64_MAX), ("alignment", INT32_MAX),
                         ("file_size_bytes", INT64_MAX)):
        _fact(path, facts.get(key), key, maximum)
    infer("data_offset", min(e.offset_start for e in legacy.entries))
    infer("alignment", DEFAULT_ALIGNMENT)

    _check_rows(path, sum(
        split_count(path, e.name, e.dims, e.size_bytes, facts.get("n_experts"), 1, e.record)
        if split_name(e.name)[1] is None and e.expert_id is None else 1 for e in legacy.entries))
    tensors: list[dict] = []
    for e in legacy.entries:
        base, expert = split_name(e.name)
        if expert is None and e.expert_id is None:
            tensors += split_rows(model_id, e.name, e.dims, None, e.offset_start, e.size_bytes, order[base],
                                  facts.get("n_experts"))
        else:
            tensors.append(_row(model_id, e.name, base, e.expert_id, e.dims, None, e.offset_start,
                                e.size_bytes, order[base]))

    model = dict(
        model_id=model_id, fingerprint=legacy.fingerprint, model_name=name or legacy.model_name or path.name,
        source_kind=legacy.kind, source_path=str(path.resolve()), file_name=path.name,
        file_size_bytes=facts.get("file_size_bytes"), n_layers=facts.get("n_layers"),
        n_experts=facts.get("n_experts"), n_embd=facts.get("n_embd"), n_vocab=facts.get("n_vocab"),
        data_offset=facts.get("data_offset"), alignment=facts.get("alignment"), n_tensors=len(order),
        inferred=inferred,
    )
    return DecodedLayout(model, [], tensors)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], statement: str) -> None:
    """Append row dicts (missing keys are NULL), typed by the table's catalogue columns."""
    if not rows:
        return
    schema = insert_schema(catalog.columns(con)[table], leave_out=("ingested_at",))
    view = f"_moewh_new_{table}"
    con.register(view, rows_table(rows, schema))
    try:
        con.execute(render_sql(statement, table=ident(table), rows=ident(view)))
    finally:
        con.unregister(view)


def store_layout(con: duckdb.DuckDBPyConnection, decoded: DecodedLayout) -> IngestResult:
    """Write a decoded layout, unless a model with the same fingerprint is already stored."""
    model_id = decoded.model_id
    existing = con.execute(load_sql("ingest/model_existing.sql"), {"model_id": model_id}).fetchall()
    if existing:
        name, n_rows = existing[0]
        return IngestResult(model_id, False, n_rows, name)
    if decoded.model["source_kind"] != "gguf":
        same = _same_layout(con, decoded.tensors)
        if same is not None:
            return IngestResult(same[0], False, len(decoded.tensors), same[1], matched=True)
    _insert(con, "models", [decoded.model], "ingest/append_model.sql")
    _insert(con, "model_metadata", decoded.metadata, "ingest/append_rows.sql")
    _insert(con, "tensors", decoded.tensors, "ingest/append_rows.sql")
    return IngestResult(model_id, True, len(decoded.tensors), decoded.model["model_name"])


def _same_layout(con: duckdb.DuckDBPyConnection, tensors: list[dict]) -> tuple[str, str] | None:
    """(model_id, model_name) of a stored model whose layout rows have exactly these names,
    absolute offsets and sizes, if any (the GGUF-ingested model a memory-map.json describes)."""
    keys = pa.table({c: [t[c] for t in tensors] for c in ("tensor_name", "offset_start", "size_bytes")},
                    schema=pa.schema([("tensor_name", pa.string()), ("offset_start", pa.int64()),
                                      ("size_bytes", pa.int64())]))
    con.register("_moewh_layout_rows", keys)
    try:
        rows = con.execute(load_sql("ingest/model_same_layout.sql")).fetchall()
    finally:
        con.unregister("_moewh_layout_rows")
    return (rows[0][0], rows[0][1]) if rows else None


def ingest_gguf(con: duckdb.DuckDBPyConnection, path: str | os.PathLike, name: str | None = None) -> IngestResult:
    """Ingest a GGUF file's layout inside the caller's transaction (no-op if already there)."""
    return store_layout(con, decode_gguf(path, name))


def ingest_layout_file(con: duckdb.DuckDBPyConnection, path: str | os.PathLike,
                       name: str | None = None) -> IngestResult:
    """Ingest a gguf-dump CSV or memory-map.json inside the caller's transaction."""
    return store_layout(con, decode_layout_file(path, name))
