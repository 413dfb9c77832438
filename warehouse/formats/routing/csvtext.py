"""CSV helpers shared by the routing decoders: fast reads through pyarrow, and, when pyarrow
refuses a file, a line-exact diagnosis so the error names the line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .problems import RoutingInputError


def read_table(path: Path, data: bytes, skip_lines: int, names: list[str] | None, types: dict[str, pa.DataType],
               header_line: int | None) -> pa.Table:
    """Parse ``data`` (the file's bytes) from line ``skip_lines`` (0-based) on.

    ``names`` given: the file has no header; else the first parsed line is the header.
    ``types`` maps column names to Arrow types (other columns are inferred).
    """
    read = pacsv.ReadOptions(skip_rows=skip_lines, column_names=names, block_size=16 << 20)
    conv = pacsv.ConvertOptions(column_types=types, null_values=["", "nan", "NaN", "-nan"],
                                strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        return pacsv.read_csv(io.BytesIO(data), read_options=read, convert_options=conv,
                              parse_options=pacsv.ParseOptions(newlines_in_values=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        line, what = diagnose(data, skip_lines, names, types, header_line)
        raise RoutingInputError(path, f"line {line}" if line else None, what or str(exc).splitlines()[0]) from None


def diagnose(data: bytes, skip_lines: int, names, types, header_line) -> tuple[int | None, str | None]:
    """Find the first line pyarrow would refuse: wrong field count or a non-number. 1-based line."""
    text = data.decode("utf-8", errors="replace").splitlines()
    reader = csv.reader(text[skip_lines:])
    cols = names
    for i, fields in enumerate(reader):
        lineno = skip_lines + i + 1
        if cols is None:
            cols = fields
            continue
        if not fields:
            continue
        if len(fields) != len(cols):
            return lineno, f"expected {len(cols)} fields ({','.join(cols)}), found {len(fields)}"
        for name, value in zip(cols, fields, strict=True):
            t = types.get(name)
            if t is None:
                continue
            v = value.strip()
            if pa.types.is_floating(t):
                if v.lower() in ("", "nan", "-nan"):
                    continue
                try:
                    float(v)
                except ValueError:
                    return lineno, f"{name} {value!r} is not a number"
            elif pa.types.is_integer(t):
                try:
                    int(v)
                except ValueError:
                    return lineno, f"{name} {value!r} is not an integer"
    return None, None


def ints(table: pa.Table, name: str, dtype=np.int64) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        return None  # the caller reports the line
    return col.to_numpy().astype(dtype, copy=False)


def null_line(table: pa.Table, name: str, first_data_line: int) -> int | None:
    """1-based line of the first null in an integer column (an empty field), else None."""
    col = table.column(name)
    if not col.null_count:
        return None
    mask = col.is_null().to_numpy(zero_copy_only=False)
    return first_data_line + int(np.flatnonzero(mask)[0])
