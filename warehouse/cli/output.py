"""Render query results as a text table, CSV, JSON (one array of row objects) or Parquet."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import UsageError

FORMATS = ("table", "csv", "json", "parquet")
# JSON numbers for integers in this range (64-bit, signed or unsigned); strings beyond it, since
# most JSON readers cannot hold wider integers exactly.
JSON_INT_RANGE = (-(2**63), 2**64)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal):
        # DuckDB sums integers into HUGEINT, which reaches Arrow as DECIMAL(38, 0): an integer,
        # exact at any size. Only a DECIMAL with a fractional scale is a fraction.
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        # pyarrow renders MAP columns as lists of (key, value) tuples
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {str(k): _jsonable(v) for k, v in value}
        return [_jsonable(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        # For reading: whole byte counts stay whole, the rest keeps 6 significant digits.
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.0f}"
        return f"{value:.6g}"
    value = _jsonable(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


# The text table's column widths come from the header and the first rows; later, wider cells
# push their line out instead of holding the whole result in memory to measure it.
TABLE_WIDTH_ROWS = 1000


def _table_lines(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[str]:
    names = schema.names
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
               for f in schema]
    rows = (list(map(_cell, row.values())) for batch in batches for row in batch.to_pylist())
    first: list[list[str]] = []
    for r in rows:
        first.append(r)
        if len(first) >= TABLE_WIDTH_ROWS:
            break
    widths = [max([len(n)] + [len(r[i]) for r in first]) for i, n in enumerate(names)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    yield line(names)
    yield "  ".join("-" * w for w in widths)
    n = 0
    for r in _chain(first, rows):
        n += 1
        yield line(r)
    yield f"({n} row{'s' if n != 1 else ''})"


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _csv_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(schema.names)
    for batch in batches:
        for row in batch.to_pylist():
            # Floats in full (shortest round-trip) precision: CSV is for other programs, not eyes.
            writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else _cell(v) for v in row.values()])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _json_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[str]:
    yield "["
    sep = ""
    for batch in batches:
        parts = [json.dumps({k: _json_value(v) for k, v in row.items()}, allow_nan=False) for row in batch.to_pylist()]
        if parts:
            yield sep + ", ".join(parts)
            sep = ", "
    yield "]\n"


def render_table(table: pa.Table) -> str:
    return "\n".join(_table_lines(table.schema, table.to_batches())) + "\n"


def render_csv(table: pa.Table) -> str:
    return "".join(_csv_chunks(table.schema, table.to_batches()))


def _json_value(value: Any) -> Any:
    value = _jsonable(value)
    if isinstance(value, int) and not isinstance(value, bool) and not JSON_INT_RANGE[0] <= value < JSON_INT_RANGE[1]:
        return str(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def render_json(table: pa.Table) -> str:
    return "".join(_json_chunks(table.schema, table.to_batches()))


def check_format(fmt: str, output: str | Path | None = None) -> None:
    """Refuse an unusable format before any work is done (a Spark start, a long query)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet needs --output PATH")


def emit(table: pa.Table, fmt: str = "table", output: str | Path | None = None) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (a path) or stdout."""
    emit_stream(table.schema, table.to_batches(), fmt, output)


@contextmanager
def _text_out(output: str | Path | None):
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
    else:
        with open(output, "w", encoding="utf-8") as f:
            yield f


def emit_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch], fmt: str = "table",
                output: str | Path | None = None) -> None:
    """Write the batches in ``fmt`` to ``output`` (a path) or stdout as they arrive: memory is
    bounded by a batch (and the table format's first rows), not by the result."""
    check_format(fmt, output)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(str(output), schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    if fmt == "table":
        chunks = (line + "\n" for line in _table_lines(schema, batches))
    else:
        chunks = {"csv": _csv_chunks, "json": _json_chunks}[fmt](schema, batches)
    with _text_out(output) as out:
        for chunk in chunks:
            out.write(chunk)
