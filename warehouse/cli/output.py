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


def render_table(table: pa.Table) -> str:
    names = table.column_names
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
               for f in table.schema]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def render_csv(table: pa.Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        # Floats in full (shortest round-trip) precision: CSV is for other programs, not eyes.
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else _cell(v) for v in row.values()])
    return buf.getvalue()


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
    rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
    return json.dumps(rows, indent=None, allow_nan=False) + "\n"


def check_format(fmt: str, output: str | Path | None = None) -> None:
    """Refuse an unusable format before any work is done (a Spark start, a long query)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet needs --output PATH")


def emit(table: pa.Table, fmt: str = "table", output: str | Path | None = None) -> None:
    """Write ``table`` in ``fmt`` to ``output`` (a path) or stdout."""
    check_format(fmt, output)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, str(output))
        return
    text = {"table": render_table, "csv": render_csv, "json": render_json}[fmt](table)
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text)
