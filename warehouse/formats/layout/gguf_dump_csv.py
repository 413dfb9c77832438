"""The old gguf-dump CSV: free-text preamble lines, then

    tensor_name,file_offset,size_bytes,layer_id,component_type,n_dims,dim0,dim1,dim2,dim3

layer_id -1 means none and unused dims are 0. With expert splitting a 3-D
``ffn_{gate,up,down}_exps`` weight appears as rows ``NAME[e]`` with n_dims 2. The earliest
builds wrote only the first five columns. The preamble is what the dumper printed on stderr;
two of its lines carry facts worth keeping::

    Data section starts at: 13008832 bytes (aligned to 32 bytes)
    File size: 13792639168 bytes
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ...errors import InputError
from ..limits import INT64_MAX, MAX_LAYER
from .entries import LayoutEntry, LegacyLayout, split_name

HEADER_PREFIX = "tensor_name,file_offset,size_bytes,layer_id,component_type"
FULL_COLUMNS = HEADER_PREFIX.split(",") + ["n_dims", "dim0", "dim1", "dim2", "dim3"]
SHORT_COLUMNS = HEADER_PREFIX.split(",")

# At most 18 digits: every such number fits the BIGINT columns the facts are stored in.
_DATA_START = re.compile(r"Data section starts at:\s*(\d{1,18})\s*bytes(?:\s*\(aligned to\s*(\d{1,9})\s*bytes\))?")
_FILE_SIZE = re.compile(r"File size:\s*(\d{1,18})\s*bytes")
_TENSORS = re.compile(r"^Tensors:\s*(\d{1,9})\s*$")


def find_header(data: bytes) -> int | None:
    """Byte offset of the header line, or None."""
    pos = 0
    for line in data.splitlines(keepends=True):
        if line.strip().startswith(HEADER_PREFIX.encode()):
            return pos
        pos += len(line)
    return None


def _int(path: Path, line: int, column: str, text: str, minimum: int = 0, maximum: int = INT64_MAX) -> int:
    text = text.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    # Length first: int() refuses more than 4,300 digits with an error of its own.
    if len(text) > 20:
        raise InputError(path, f"line {line}: {column} is {shown!r}, not an integer in [{minimum}, {maximum}]")
    try:
        value = int(text)
    except ValueError:
        raise InputError(path, f"line {line}: {column} is {shown!r}, not an integer") from None
    if not minimum <= value <= maximum:
        raise InputError(path, f"line {line}: {column} is {value}, not in [{minimum}, {maximum}]")
    return value


def _rows(path: Path, body: io.StringIO, first_line: int):
    reader = csv.reader(body)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field longer than the csv module's limit
            raise InputError(path, f"line {first_line + reader.line_num - 1}: not CSV: {exc}") from None


def decode(path: Path, data: bytes, fingerprint: str) -> LegacyLayout:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", offset=exc.start) from None
    lines = text.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.strip().startswith(HEADER_PREFIX))
    header = [c.strip() for c in lines[header_at].split(",")]
    if header not in (FULL_COLUMNS, SHORT_COLUMNS):
        raise InputError(path, f"line {header_at + 1}: unexpected columns {','.join(header)}")
    has_dims = header == FULL_COLUMNS

    facts: dict[str, int] = {}
    for line in lines[:header_at]:
        if m := _DATA_START.search(line):
            facts["data_offset"] = int(m.group(1))
            if m.group(2):
                facts["alignment"] = int(m.group(2))
        elif m := _FILE_SIZE.search(line):
            facts["file_size_bytes"] = int(m.group(1))
        elif m := _TENSORS.match(line.strip()):
            facts["n_tensors"] = int(m.group(1))

    entries: list[LayoutEntry] = []
    body = io.StringIO("\n".join(lines[header_at + 1:]))
    for i, row in enumerate(_rows(path, body, header_at + 2)):
        line = header_at + 2 + i
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputError(path, f"line {line}: {len(row)} fields, the header has {len(header)}")
        name = row[0].strip()
        if not name:
            raise InputError(path, f"line {line}: empty tensor_name")
        offset = _int(path, line, "file_offset", row[1])
        size = _int(path, line, "size_bytes", row[2])
        layer = _int(path, line, "layer_id", row[3], minimum=-1, maximum=MAX_LAYER)
        dims = None
        if has_dims:
            n_dims = _int(path, line, "n_dims", row[5], maximum=4)
            ne = [_int(path, line, f"dim{d}", row[6 + d]) for d in range(4)]
            dims = tuple(ne[:n_dims])
        _, expert = split_name(name)
        entries.append(LayoutEntry(name, offset, size, None if layer < 0 else layer, dims, expert, line))
    if not entries:
        raise InputError(path, f"line {header_at + 1}: header but no tensor rows")
    return LegacyLayout("gguf-dump-csv", path, len(data), fingerprint, entries, facts)
