"""JSON input files (memory-map.json, per-token traces, experiment metadata), parsed safely.

Whatever the bytes, the result is a document or an ``InputError`` naming the file and the
byte offset: a UTF-8 byte-order mark is accepted, while nesting too deep for the parser
(Python raises RecursionError) and integers too long to convert (Python refuses more than
4,300 digits with a ValueError) are refused like any other malformed JSON.
"""

from __future__ import annotations

import json
import os

from ..errors import InputError
from .files import read_regular

BOM = b"\xef\xbb\xbf"


def strip_bom(data: bytes) -> bytes:
    return data[len(BOM):] if data.startswith(BOM) else data


def parse_json(path: str | os.PathLike, data: bytes, what: str = "JSON"):
    """Decode ``data`` (the content of ``path``) as JSON; InputError on anything malformed."""
    skipped = len(BOM) if data.startswith(BOM) else 0
    data = data[skipped:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a {what}: not UTF-8 text", offset=skipped + exc.start) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.pos counts characters; it is the byte offset for the ASCII JSON syntax around it
        raise InputError(path, f"not valid JSON: {exc.msg}", offset=skipped + exc.pos) from None
    except RecursionError:
        raise InputError(path, f"not a {what}: arrays or objects nested too deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(path, f"not a {what}: {exc}") from None


def read_json(path: str | os.PathLike, what: str = "JSON"):
    """Read and parse a regular JSON file (FIFOs and devices are refused unopened)."""
    return parse_json(path, read_regular(path, what), what)
