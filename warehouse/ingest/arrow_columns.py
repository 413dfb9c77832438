"""NumPy arrays and Python strings as Arrow columns, built from their buffers.

``pa.array`` asks pandas whether its input is a pandas object, importing pandas on first use
(about 0.3 s, a third of a 100k-record ingest). The decoders only ever hand over NumPy arrays
and lists of str, so they build the Arrow buffers themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def _validity(null: np.ndarray | None) -> pa.Buffer | None:
    if null is None or not null.any():
        return None
    return pa.py_buffer(np.packbits(~np.asarray(null, dtype=bool), bitorder="little"))


def column(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A numeric Arrow array of ``values`` (copied if strided); ``null`` marks nulls."""
    values = np.ascontiguousarray(values)
    if values.dtype.byteorder == ">" or values.dtype.kind not in "iuf":
        raise TypeError(f"column() takes native-endian numbers, not {values.dtype}")
    if null is not None and len(null) != len(values):
        raise ValueError("null mask and values differ in length")
    arrow_type = pa.from_numpy_dtype(values.dtype.newbyteorder("="))
    return pa.Array.from_buffers(arrow_type, len(values), [_validity(null), pa.py_buffer(values)])


def strings(texts: Sequence[str | None]) -> pa.Array:
    """A UTF-8 Arrow string array of ``texts`` (None is null)."""
    encoded = [b"" if t is None else t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buffers = [_validity(np.fromiter((t is None for t in texts), bool, len(encoded))),
               pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    if offsets[-1] >= 2**31:
        return pa.Array.from_buffers(pa.large_string(), len(encoded), buffers)
    buffers[1] = pa.py_buffer(offsets.astype(np.int32))
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def dictionary_column(indices: np.ndarray, texts: Sequence[str], null: np.ndarray | None = None) -> pa.DictionaryArray:
    """Dictionary-encoded strings: ``texts[indices[i]]`` per row, ``null`` marking nulls."""
    return pa.DictionaryArray.from_arrays(column(indices, null), strings(texts))


def rows_table(rows: Sequence[dict], schema: pa.Schema) -> pa.Table:
    """Python row dicts (missing keys and None are null) as a table of ``schema``, whose fields
    are integers, floats, strings or lists of strings."""
    columns = []
    for f in schema:
        values = [r.get(f.name) for r in rows]
        if pa.types.is_string(f.type):
            columns.append(strings(values))
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            null = np.fromiter((v is None for v in values), bool, len(values))
            lengths = [0 if v is None else len(v) for v in values]
            offsets = np.zeros(len(values) + 1, np.int32)
            np.cumsum(lengths, out=offsets[1:])
            flat = strings([t for v in values if v is not None for t in v])
            columns.append(pa.ListArray.from_buffers(
                f.type, len(values), [_validity(null), pa.py_buffer(offsets)], children=[flat]))
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            dtype = _NUMPY[f.type]
            null = np.fromiter((v is None for v in values), bool, len(values))
            data = np.fromiter((0 if v is None else v for v in values), dtype, len(values))
            columns.append(column(data, null))
        else:
            raise TypeError(f"rows_table() cannot build a {f.type} column ({f.name})")
    return pa.Table.from_arrays(columns, schema=schema)


def numbers(array: pa.Array) -> np.ndarray:
    """The values of a null-free numeric Arrow array as a read-only NumPy view (no pandas)."""
    if array.null_count:
        raise ValueError("numbers() takes arrays without nulls")
    dtype = _NUMPY[array.type]
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


_NUMPY = {pa.int8(): np.dtype(np.int8), pa.int16(): np.dtype(np.int16), pa.int32(): np.dtype(np.int32),
          pa.int64(): np.dtype(np.int64), pa.uint8(): np.dtype(np.uint8), pa.uint16(): np.dtype(np.uint16),
          pa.uint32(): np.dtype(np.uint32), pa.uint64(): np.dtype(np.uint64),
          pa.float32(): np.dtype(np.float32), pa.float64(): np.dtype(np.float64)}


# DuckDB column types (as the catalogue names them) -> the Arrow types rows_table() builds.
_FROM_DUCKDB = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "SMALLINT": pa.int16(),
                "TINYINT": pa.int8(), "UBIGINT": pa.uint64(), "UINTEGER": pa.uint32(), "USMALLINT": pa.uint16(),
                "UTINYINT": pa.uint8(), "DOUBLE": pa.float64(), "FLOAT": pa.float32(),
                "VARCHAR[]": pa.list_(pa.string())}


def insert_schema(columns: Sequence[tuple[str, str]], leave_out: Sequence[str] = ()) -> pa.Schema:
    """The Arrow schema of a table's rows, from its catalogue columns (``warehouse.db.catalog``),
    so that no table's columns are typed twice."""
    fields = []
    for name, dtype in columns:
        if name in leave_out:
            continue
        if dtype not in _FROM_DUCKDB:
            raise TypeError(f"insert_schema() has no Arrow type for {dtype} ({name})")
        fields.append((name, _FROM_DUCKDB[dtype]))
    return pa.schema(fields)

