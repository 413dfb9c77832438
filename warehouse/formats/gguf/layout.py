"""GGUF header, metadata and tensor-info table, read straight from an mmap.

Only the layout is decoded: where every tensor's bytes are, which ggml type and shape it has,
and the scalar metadata. Metadata arrays (a 201,088-entry vocabulary) are skipped by walking
their element lengths and summarised by element type and length, which is what makes this
reader fast where ``gguf.GGUFReader`` builds every string.

Every check a hostile or damaged file could trip raises ``InputError`` with the file, the byte
offset of the field at fault and what is wrong with it; nothing here raises anything else for
bad input.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

from ...errors import InputError
from ..files import check_regular

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_ALIGNMENT = 1 << 30  # stored as INTEGER; real files use 32 or a page size
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_STRING_VALUE = 65536  # longer metadata strings are stored truncated (value_length keeps the truth)

# Fixed-width value types: struct format. STRING and ARRAY are variable.
_SCALAR = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
_STRUCTS = {t: struct.Struct(f) for t, f in _SCALAR.items()}
_INT_TYPES = {GGUFValueType.UINT8, GGUFValueType.INT8, GGUFValueType.UINT16, GGUFValueType.INT16,
              GGUFValueType.UINT32, GGUFValueType.INT32, GGUFValueType.UINT64, GGUFValueType.INT64}
_VALUE_TYPES = {t.value: t for t in GGUFValueType}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_INT64_MAX = 2**63 - 1

# Smallest possible encodings, used to reject absurd counts before looping over them.
_MIN_KV_BYTES = 8 + 4 + 1  # empty key, value type, one-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # empty name, n_dims 0, type, offset


@dataclass(frozen=True)
class GGMLType:
    id: int
    name: str
    block_size: int
    type_size: int


def ggml_type(type_id: int) -> GGMLType | None:
    """Block and type size of a ggml type, from the gguf package's own table; None if unknown."""
    try:
        qt = GGMLQuantizationType(type_id)
    except ValueError:
        return None
    sizes = GGML_QUANT_SIZES.get(qt)
    if sizes is None:
        return None
    return GGMLType(type_id, qt.name, sizes[0], sizes[1])


def tensor_nbytes(dims: tuple[int, ...], gtype: GGMLType) -> int:
    """Bytes of a tensor: rows of ne0 elements, ne0 a whole number of blocks."""
    n_rows = 1
    for d in dims[1:]:
        n_rows *= d
    ne0 = dims[0] if dims else 1
    return ne0 // gtype.block_size * gtype.type_size * n_rows


@dataclass(frozen=True)
class MetadataEntry:
    key: str
    value_type: str  # GGUFValueType name
    value: Any  # Python scalar (str, int, float, bool); None for arrays
    array_type: str | None = None
    array_length: int | None = None
    value_length: int | None = None  # bytes of a STRING value (value may be truncated)
    offset: int = 0  # byte offset of the key in the file


@dataclass(frozen=True)
class TensorInfo:
    index: int  # position in the tensor-info table
    name: str
    dims: tuple[int, ...]  # ne0, ne1, ... (ggml order: ne0 is the contiguous row)
    ggml_type: str
    type_id: int
    offset: int  # relative to the data section, as stored
    size_bytes: int
    data_start: int  # absolute file offset

    @property
    def data_end(self) -> int:
        return self.data_start + self.size_bytes


@dataclass
class GGUFLayout:
    path: Path
    file_size: int
    version: int
    alignment: int
    data_offset: int
    header_end: int  # end of the tensor-info section (the fingerprint covers [0, header_end))
    fingerprint: str  # sha256 hex
    metadata: list[MetadataEntry]
    tensors: list[TensorInfo]
    _by_key: dict[str, MetadataEntry] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_key = {m.key: m for m in self.metadata}

    def get(self, key: str) -> MetadataEntry | None:
        return self._by_key.get(key)

    def value(self, key: str) -> Any:
        entry = self._by_key.get(key)
        return None if entry is None else entry.value

    @property
    def architecture(self) -> str | None:
        arch = self.value("general.architecture")
        return arch if isinstance(arch, str) else None

    def arch_int(self, suffix: str) -> int | None:
        """Integer fact ``{arch}.{suffix}`` (block_count, expert_count, ...), None if absent."""
        if self.architecture is None:
            return None
        entry = self._by_key.get(f"{self.architecture}.{suffix}")
        if entry is None or entry.value_type not in {t.name for t in _INT_TYPES}:
            return None
        return int(entry.value)

    @property
    def n_vocab(self) -> int | None:
        n = self.arch_int("vocab_size")
        if n is not None:
            return n
        tokens = self._by_key.get("tokenizer.ggml.tokens")
        return tokens.array_length if tokens is not None else None


class _Cursor:
    """Bounds-checked little-endian reads over the mapped file."""

    __slots__ = ("buf", "pos", "end", "path")

    def __init__(self, buf, end: int, path: str):
        self.buf = buf
        self.pos = 0
        self.end = end
        self.path = path

    def fail(self, message: str, offset: int | None = None):
        raise InputError(self.path, message, offset=self.pos if offset is None else offset)

    def need(self, n: int, what: str) -> None:
        if self.pos + n > self.end:
            self.fail(f"truncated header: {what} needs {n} bytes but the file ends at byte {self.end}")

    def u32(self, what: str) -> int:
        self.need(4, what)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def u64(self, what: str) -> int:
        self.need(8, what)
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def string_bytes(self, what: str) -> tuple[int, int]:
        """Skip a GGUF string; return (start of its bytes, length)."""
        at = self.pos
        n = self.u64(f"length of {what}")
        if n > self.end - self.pos:
            self.fail(f"absurd length {n} for {what}: only {self.end - self.pos} bytes remain", at)
        start = self.pos
        self.pos += n
        return start, n

    def string(self, what: str, limit: int | None = None) -> str:
        start, n = self.string_bytes(what)
        if limit is not None:
            n = min(n, limit)
        return bytes(self.buf[start:start + n]).decode("utf-8", errors="replace")


def _value_type(cur: _Cursor, what: str) -> GGUFValueType:
    at = cur.pos
    raw = cur.u32(f"value type of {what}")
    vt = _VALUE_TYPES.get(raw)
    if vt is None:
        cur.fail(f"unknown GGUF value type {raw} for {what}", at)
    return vt


def _skip_array(cur: _Cursor, key: str, depth: int = 0) -> tuple[GGUFValueType, int]:
    """Skip an array body (element type, count, elements) without materialising it."""
    etype = _value_type(cur, f"elements of {key}")
    at = cur.pos
    count = cur.u64(f"length of array {key}")
    remaining = cur.end - cur.pos
    if etype in _STRUCTS:
        size = _STRUCTS[etype].size
        if count * size > remaining:
            cur.fail(f"absurd array length {count} for {key}: {count * size} bytes needed, "
                     f"only {remaining} remain", at)
        cur.pos += count * size
    elif etype == GGUFValueType.STRING:
        if count * 8 > remaining:
            cur.fail(f"absurd array length {count} for {key}: only {remaining} bytes remain", at)
        # Walk the lengths; this loop is the whole cost of a 201,088-entry vocabulary.
        buf, pos, end, unpack = cur.buf, cur.pos, cur.end, _U64.unpack_from
        for _ in range(count):
            if pos + 8 > end:
                cur.pos = pos
                cur.need(8, f"length of a string in array {key}")
            (n,) = unpack(buf, pos)
            pos += 8
            if n > end - pos:
                cur.fail(f"absurd length {n} for a string in array {key}: only {end - pos} bytes remain",
                         pos - 8)
            pos += n
        cur.pos = pos
    else:  # nested arrays
        if depth > 8:
            cur.fail(f"arrays nested too deep in {key}")
        if count * 12 > remaining:
            cur.fail(f"absurd array length {count} for {key}: only {remaining} bytes remain", at)
        for _ in range(count):
            _skip_array(cur, key, depth + 1)
    return etype, count


def _read_kv(cur: _Cursor, index: int) -> MetadataEntry:
    at = cur.pos
    key = cur.string(f"metadata key {index}")
    vt = _value_type(cur, f"metadata {key!r}")
    if vt in _STRUCTS:
        s = _STRUCTS[vt]
        cur.need(s.size, f"value of {key!r}")
        (value,) = s.unpack_from(cur.buf, cur.pos)
        cur.pos += s.size
        return MetadataEntry(key, vt.name, value, offset=at)
    if vt == GGUFValueType.STRING:
        start, n = cur.string_bytes(f"value of {key!r}")
        text = bytes(cur.buf[start:start + min(n, MAX_STRING_VALUE)]).decode("utf-8", errors="replace")
        return MetadataEntry(key, vt.name, text, value_length=n, offset=at)
    etype, count = _skip_array(cur, key)
    return MetadataEntry(key, vt.name, None, array_type=etype.name, array_length=count, offset=at)


def _alignment(path: str, entry: MetadataEntry | None) -> int:
    if entry is None:
        return DEFAULT_ALIGNMENT
    if entry.value_type not in {t.name for t in _INT_TYPES}:
        raise InputError(path, f"general.alignment has type {entry.value_type}, expected an integer",
                         offset=entry.offset)
    a = int(entry.value)
    if a <= 0 or a & (a - 1):
        raise InputError(path, f"general.alignment {a} is not a power of two", offset=entry.offset)
    if a > MAX_ALIGNMENT:
        raise InputError(path, f"general.alignment {a} is implausible (more than {MAX_ALIGNMENT})", offset=entry.offset)
    return a


def _read_tensor_info(cur: _Cursor, index: int) -> tuple:
    at = cur.pos
    name = cur.string(f"name of tensor {index}")
    dims_at = cur.pos
    n_dims = cur.u32(f"n_dims of tensor {name!r}")
    if n_dims > MAX_DIMS:
        cur.fail(f"tensor {name!r} has {n_dims} dimensions; ggml allows at most {MAX_DIMS}", dims_at)
    dims = []
    n_elements = 1
    for d in range(n_dims):
        ne_at = cur.pos
        ne = cur.u64(f"dimension {d} of tensor {name!r}")
        n_elements *= ne
        if ne > _INT64_MAX or n_elements > _INT64_MAX:
            cur.fail(f"tensor {name!r} has an absurd shape (dimension {d} = {ne})", ne_at)
        dims.append(ne)
    type_at = cur.pos
    type_id = cur.u32(f"ggml type of tensor {name!r}")
    off_at = cur.pos
    offset = cur.u64(f"data offset of tensor {name!r}")
    return at, name, tuple(dims), type_at, type_id, off_at, offset


def read_gguf_layout(path: str | os.PathLike) -> GGUFLayout:
    """Decode the layout of the GGUF file at ``path`` (see the module doc)."""
    path = Path(path)
    where = str(path)
    check_regular(path, "GGUF model")
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise InputError(where, f"cannot open: {exc.strerror or exc}") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < 4:
            raise InputError(where, f"not a GGUF file: only {size} bytes, too short for the magic", offset=0)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return _decode(mm, size, path)
        finally:
            mm.close()


def _decode(mm: mmap.mmap, size: int, path: Path) -> GGUFLayout:
    where = str(path)
    magic = mm[0:4]
    if magic != MAGIC:
        raise InputError(where, f"not a GGUF file: magic is {magic!r}, expected {MAGIC!r}", offset=0)
    cur = _Cursor(mm, size, where)
    cur.pos = 4
    version = cur.u32("GGUF version")
    if version not in SUPPORTED_VERSIONS:
        hint = " (a big-endian file?)" if version >= 1 << 16 else ""
        cur.fail(f"unsupported GGUF version {version}{hint}; this reader knows versions 2 and 3", 4)
    n_tensors = cur.u64("tensor count")
    n_kv = cur.u64("metadata count")
    remaining = size - cur.pos
    if n_tensors > remaining // _MIN_TENSOR_INFO_BYTES:
        cur.fail(f"absurd tensor count {n_tensors}: the file has only {remaining} bytes after the header", 8)
    if n_kv > remaining // _MIN_KV_BYTES:
        cur.fail(f"absurd metadata count {n_kv}: the file has only {remaining} bytes after the header", 16)

    metadata = [_read_kv(cur, i) for i in range(n_kv)]
    by_key: dict[str, MetadataEntry] = {}
    for m in metadata:
        if m.key in by_key:
            # Readers disagree on which value wins (llama.cpp refuses the file), so neither is kept.
            raise InputError(where, f"metadata key {m.key!r} appears twice (first at byte offset "
                             f"{by_key[m.key].offset})", offset=m.offset)
        by_key[m.key] = m
    alignment = _alignment(where, by_key.get("general.alignment"))

    raw = [_read_tensor_info(cur, i) for i in range(n_tensors)]
    header_end = cur.pos
    data_offset = -(-header_end // alignment) * alignment
    fingerprint = hashlib.sha256(memoryview(mm)[:header_end]).hexdigest()

    tensors: list[TensorInfo] = []
    seen: set[str] = set()
    for index, (at, name, dims, type_at, type_id, off_at, offset) in enumerate(raw):
        if name in seen:
            raise InputError(where, f"duplicate tensor name {name!r}", offset=at)
        seen.add(name)
        gtype = ggml_type(type_id)
        if gtype is None:
            raise InputError(where, f"tensor {name!r} has unknown ggml type {type_id}", offset=type_at)
        ne0 = dims[0] if dims else 1
        if ne0 % gtype.block_size:
            raise InputError(where, f"tensor {name!r}: ne0 = {ne0} is not a multiple of the {gtype.name} "
                             f"block size {gtype.block_size}", offset=at)
        if offset % alignment:
            raise InputError(where, f"tensor {name!r}: data offset {offset} is not a multiple of the "
                             f"alignment {alignment}", offset=off_at)
        nbytes = tensor_nbytes(dims, gtype)
        start = data_offset + offset
        if start + nbytes > size:
            raise InputError(where, f"tensor {name!r}: data [{start}, {start + nbytes}) runs past the end of "
                             f"the file ({size} bytes)", offset=start)
        tensors.append(TensorInfo(index, name, dims, gtype.name, type_id, offset, nbytes, start))

    return GGUFLayout(path=path, file_size=size, version=version, alignment=alignment,
                      data_offset=data_offset, header_end=header_end, fingerprint=fingerprint,
                      metadata=metadata, tensors=tensors)
