"""Write a GGUF file in another byte order that computes exactly the same function.

``repack(IN, OUT, order, permutations)`` writes the header, metadata and tensor infos with the
gguf package's ``GGUFWriter`` (metadata copied field by field, read from IN's header by the
warehouse's own parser), then copies every tensor's bytes from IN in chunks of ``CHUNK`` bytes
through one buffer, taking each chunk's CRC-32C (the ``crc32c`` package, hardware-accelerated)
over the bytes read before writing them (memory stays at the buffer however large the model;
holes of a sparse IN, found with ``SEEK_DATA``, are not read and stay holes). Each chunk
written is handed to the disk at once (``warehouse.layout.writeback``); after the fsync, OUT's
own header is re-read and every chunk of its data read back and checked against the CRC of
what was meant to be written. OUT is written under a temporary name in its folder and renamed at
the end; a failure leaves no OUT behind.

Orders (the same as ``warehouse.layout.plan``'s): ``layer`` moves whole tensors into block
order; ``hot-first`` and ``coact`` do that and also permute each block's experts with a
given permutation (``perm[layer][j]`` = the original expert placed at position j): the last
(expert) dimension of every ``blk.N.ffn_{gate,up,down,gate_up}_exps.{weight,bias}`` and
``blk.N.exp_probs_b.bias``, and the router ``blk.N.ffn_gate_inp.{weight,bias}``, so the
model computes the same function with renamed experts. Quantised data is moved as bytes:
an expert's slice of a 3-D tensor, or a row of a 2-D one, is a contiguous run of whole
blocks. ``expert-major`` is refused: gate, up and down are separate 3-D tensors, so one
expert's slices cannot sit side by side. The permutation of layer N goes into the metadata
as ``moewh.expert_permutation.N`` (a string of comma-separated original expert ids, one per
position; repacking a repacked file composes them), which model and trace ingest read.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import crc32c
import numpy as np

from ..errors import InputError, UsageError
from ..formats.gguf.expert_permutation import PERMUTATION_KEY, file_permutations
from ..formats.gguf.layout import read_gguf_layout
from .plan import Layout, order_offsets
from .writeback import start_writeback

CHUNK = 16 << 20
REPACK_ORDERS = ("layer", "hot-first", "coact")
EXPERT_MAJOR_REASON = ("expert-major cannot be written: gate, up and down are separate 3-D tensors in GGUF, "
                       "so one expert's slices cannot sit side by side; `moewh layout plan` reports what it "
                       "would save")
# tensors whose last dimension is the block's experts: permuted together with the experts
_PERMUTED = re.compile(r"^blk\.(\d+)\.(ffn_(?:gate|up|down|gate_up)_exps|ffn_gate_inp|exp_probs_b)\.(weight|bias)$")
Progress = Callable[[str, int, int], None]  # (phase, bytes done, bytes total)


@dataclass
class RepackResult:
    out_path: Path
    order: str
    n_tensors: int
    n_moved: int  # tensors at another position in the tensor list
    n_permuted: int  # tensors whose expert dimension was permuted
    data_bytes: int
    data_offset: int  # of OUT


def _pieces(name: str, dims, size: int, perm_of_layer, src_pos_of, n_experts: int) -> list[tuple[int, int]] | None:
    """(offset inside the tensor, length) pieces of IN that make up the tensor in OUT, or None (whole)."""
    m = _PERMUTED.match(name)
    if m is None or perm_of_layer is None or not dims or dims[-1] != n_experts:
        return None
    layer = int(m.group(1))
    if size % n_experts:
        raise UsageError(f"{name}: {size} bytes do not split into {n_experts} expert slices")
    share = size // n_experts
    return [(int(src_pos_of[layer][e]) * share, share) for e in perm_of_layer[layer]]


_NUMERIC = {"UINT8": "<u1", "INT8": "<i1", "UINT16": "<u2", "INT16": "<i2", "UINT32": "<u4", "INT32": "<i4",
            "FLOAT32": "<f4", "UINT64": "<u8", "INT64": "<i8", "FLOAT64": "<f8", "BOOL": "?"}


def _metadata_values(path: Path, layout) -> list[tuple[str, str, object, str | None]]:
    """(key, type, value, array element type) of every metadata entry, values in full.

    The warehouse's header parser keeps scalars and where each entry starts; arrays and long
    strings are read here from that offset (GGUFReader builds a NumPy view per array element,
    half a minute for a 201,088-token vocabulary)."""
    import mmap
    import struct

    out = []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        def u64(pos):
            return struct.unpack_from("<Q", mm, pos)[0]

        for m in layout.metadata:
            if m.value_type != "ARRAY" and not (m.value_type == "STRING" and m.value_length != len(m.value.encode())):
                out.append((m.key, m.value_type, m.value, None))
                continue
            pos = m.offset + 8 + u64(m.offset) + 4  # key, then the value type
            if m.value_type == "STRING":
                n = u64(pos)
                out.append((m.key, "STRING", bytes(mm[pos + 8:pos + 8 + n]), None))
                continue
            pos += 12  # element type, count
            if m.array_type in _NUMERIC:
                values = np.frombuffer(mm, dtype=_NUMERIC[m.array_type], count=m.array_length, offset=pos).tolist()
            elif m.array_type == "STRING":
                values = []
                for _ in range(m.array_length):
                    n = u64(pos)
                    values.append(bytes(mm[pos + 8:pos + 8 + n]))
                    pos += 8 + n
            else:
                raise InputError(path, f"metadata {m.key!r}: arrays of arrays are not copied by repack", offset=m.offset)
            if not values:
                raise InputError(path, f"metadata {m.key!r}: an empty array, which the gguf writer refuses",
                                 offset=m.offset)
            out.append((m.key, "ARRAY", values, m.array_type))
    return out


def _copy_fields(path: Path, layout, writer, permutations: np.ndarray | None) -> None:
    from gguf import GGUFValueType, Keys

    for key, vtype, value, sub in _metadata_values(path, layout):
        if key == Keys.General.ARCHITECTURE or key.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        if permutations is not None and key.startswith(PERMUTATION_KEY):
            continue  # replaced by the composed permutations below
        writer.add_key_value(key, value, GGUFValueType[vtype], sub_type=GGUFValueType[sub] if sub else None)
    writer.data_alignment = layout.alignment
    if permutations is not None:
        for layer, perm in enumerate(permutations):
            writer.add_string(f"{PERMUTATION_KEY}{layer}", ",".join(str(int(e)) for e in perm))


def _tensor_order(path: Path, layout) -> list[int]:
    """Indices of IN's tensors in block order (``plan``'s layer order, whole tensors)."""
    from ..ingest.models import decode_gguf

    decoded = decode_gguf(path)
    rows = [(t["tensor_name"], t["base_name"], t["layer_id"], t["expert_id"], t["category"], t["offset_start"],
             t["size_bytes"]) for t in decoded.tensors]
    plan_layout = Layout.from_rows(rows, layout.data_offset, layout.alignment, decoded.model["n_experts"])
    new = order_offsets(plan_layout, "layer")
    first: dict[str, int] = {}
    for name, off in zip(plan_layout.base_name.tolist(), new.tolist(), strict=True):
        first[name] = min(off, first.get(name, off))
    index = {t.name: t.index for t in layout.tensors}
    return [index[n] for n in sorted(first, key=first.__getitem__)]


_ZEROS = memoryview(bytes(CHUNK))
_ZERO_CHUNK_CRC = crc32c.crc32c(_ZEROS)


def _is_hole(fd: int, offset: int, n: int) -> bool:
    """True if [offset, offset + n) of the file holds no data (reads as zeros without reading)."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA) >= offset + n
    except OSError as exc:  # ENXIO: no data at or after offset; anything else: read to be sure
        return exc.errno == errno.ENXIO


def _crc_zeros(n: int, crc: int) -> int:
    return _ZERO_CHUNK_CRC if crc == 0 and n == CHUNK else crc32c.crc32c(_ZEROS[:n], crc)


def _segments(pieces, size: int):
    """Split a tensor's pieces at CHUNK boundaries of the tensor in OUT: (src offset, position, n)."""
    pos = 0
    for off, length in pieces or [(0, size)]:
        while length:
            n = min(length, CHUNK - pos % CHUNK)
            yield off, pos, n
            off, pos, length = off + n, pos + n, length - n


def _read_into(fd: int, view: memoryview, at: int, path: Path) -> None:
    """Fill ``view`` with the file's bytes from ``at``."""
    while len(view):
        got = os.preadv(fd, [view], at)
        if got <= 0:
            raise InputError(path, f"file ends inside tensor data ({len(view)} bytes short)", offset=at)
        view, at = view[got:], at + got


def _write_at(fd: int, view: memoryview, to: int) -> None:
    while len(view):
        done = os.pwrite(fd, view, to)
        if done <= 0:
            raise OSError(f"pwrite wrote nothing at byte {to}")
        view, to = view[done:], to + done


class _Stream:
    """Chunked copy from IN to OUT through one CHUNK-sized buffer: holes stay holes, CRC-32C
    per CHUNK of each tensor, taken over the very bytes that are then written.

    The data passes the process once (read, checksum while the buffer is in the CPU cache,
    write), and memory stays at the buffer however large the file. OUT is written front to
    back; every CHUNK written is handed to the disk at once (``writeback``), so the disk works
    while the copy goes on and the fsync at the end finds little left."""

    def __init__(self, src: int, dst: int, path: Path, progress: Progress | None, total: int, start: int):
        self.src, self.dst, self.path, self.progress, self.total, self.done = src, dst, path, progress, total, 0
        self.size = os.fstat(src).st_size
        self.buffer = memoryview(bytearray(CHUNK))
        self.flushed = start  # OUT's bytes before this are on their way to disk

    def tensor(self, src_start: int, dst_start: int, pieces, size: int) -> list[int]:
        crcs, crc = [], 0
        for off, pos, n in _segments(pieces, size):
            at = src_start + off
            if at + n > self.size:
                raise InputError(self.path, f"file ends inside tensor data ({max(self.size - at, 0)} of {n} "
                                            "bytes there)", offset=at)
            if _is_hole(self.src, at, n):
                crc = _crc_zeros(n, crc)  # OUT keeps the hole: nothing written
            else:
                data = self.buffer[:n]
                _read_into(self.src, data, at, self.path)
                crc = crc32c.crc32c(data, crc)
                _write_at(self.dst, data, dst_start + pos)
                self._hand_to_disk(dst_start + pos + n)
            if (pos + n) % CHUNK == 0 or pos + n == size:
                crcs.append(crc)
                crc = 0
            self.done += n
            if self.progress:
                self.progress("write", self.done, self.total)
        return crcs

    def _hand_to_disk(self, end: int) -> None:
        if end - self.flushed >= CHUNK:
            start_writeback(self.dst, self.flushed, end - self.flushed)
            self.flushed = end


def _verify(out: Path, expected: dict[str, tuple], progress: Progress | None, total: int) -> None:
    """Re-read OUT: the intended tensors, types and shapes, and every chunk's CRC-32C as written
    (read back through the file, in CHUNK reads into one buffer)."""
    layout = read_gguf_layout(out)
    got = {t.name: t for t in layout.tensors}
    if set(got) != set(expected):
        raise InputError(out, "the written file lists other tensors than the input")
    done = 0
    buffer = memoryview(bytearray(CHUNK))
    fd = os.open(out, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        for t in sorted(layout.tensors, key=lambda t: t.data_start):
            gtype, dims, size, want = expected[t.name]
            if (t.ggml_type, t.dims, t.size_bytes) != (gtype, dims, size):
                raise InputError(out, f"tensor {t.name}: written as {t.ggml_type} {t.dims}, expected {gtype} {dims}")
            if t.data_start + size > end:
                raise InputError(out, f"tensor {t.name}: the written file ends inside it", offset=end)
            crcs = []
            for pos in range(0, size, CHUNK):
                n, at = min(CHUNK, size - pos), t.data_start + pos
                if _is_hole(fd, at, n):
                    crcs.append(_crc_zeros(n, 0))
                else:
                    _read_into(fd, buffer[:n], at, out)
                    crcs.append(crc32c.crc32c(buffer[:n]))
                done += n
                if progress:
                    progress("verify", done, total)
            if crcs != want:
                bad = next(i for i, (a, b) in enumerate(zip(crcs, want, strict=True)) if a != b)
                raise InputError(out, f"tensor {t.name}: checksum mismatch after writing",
                                 offset=t.data_start + bad * CHUNK)
    finally:
        os.close(fd)


def repack(in_path: str | os.PathLike, out_path: str | os.PathLike, order: str,
           permutations: np.ndarray | None = None, progress: Progress | None = None) -> RepackResult:
    """Write IN's tensors to OUT in ``order`` (see the module doc); ``permutations`` for the
    expert orders, in original expert ids, shape (n_layers, n_experts)."""
    from gguf import GGMLQuantizationType, GGUFWriter

    in_path, out_path = Path(in_path), Path(out_path)
    if order == "expert-major":
        raise UsageError(EXPERT_MAJOR_REASON)
    if order not in REPACK_ORDERS:
        raise UsageError(f"--order {order!r}: repack writes {', '.join(REPACK_ORDERS)} (file is the input itself)")
    if out_path.exists() and in_path.exists() and os.path.samefile(in_path, out_path):
        raise UsageError(f"{out_path}: the output would overwrite the input")
    layout = read_gguf_layout(in_path)  # validates IN first; bad input stops here
    n_layers, n_experts = layout.arch_int("block_count") or 0, layout.arch_int("expert_count") or 0
    have = file_permutations({m.key: m.value for m in layout.metadata}, n_layers, n_experts, in_path)
    if order in ("hot-first", "coact"):
        if permutations is None:
            raise UsageError(f"--order {order}: needs the experts' permutation per layer")
        if not n_experts or permutations.shape != (n_layers, n_experts):
            raise UsageError(f"{in_path}: the permutation is for {permutations.shape[0]} layers x "
                             f"{permutations.shape[1]} experts, the file has {n_layers} x {n_experts}")
        if any(sorted(p) != list(range(n_experts)) for p in permutations.tolist()):
            raise UsageError("every layer's permutation must list each expert id once")
        if not any(_PERMUTED.match(t.name) for t in layout.tensors):
            raise UsageError(f"{in_path}: no expert tensors (blk.N.ffn_*_exps) to permute")
        unknown = [t.name for t in layout.tensors if "_exps" in t.name and not _PERMUTED.match(t.name)]
        if unknown:
            raise UsageError(f"{in_path}: tensor {unknown[0]} holds experts in a form repack does not know; "
                             "permuting the others would change the model")
        current = have if have is not None else np.tile(np.arange(n_experts), (n_layers, 1))
        src_pos = np.argsort(current, axis=1)  # src_pos[layer, e] = IN position of original expert e
        perms_out = np.asarray(permutations, dtype=np.int64)
    else:
        src_pos = perms_out = None

    arch = layout.architecture or "unknown"
    sequence = _tensor_order(in_path, layout)
    by_index = {t.index: t for t in layout.tensors}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer = GGUFWriter(tmp, arch)
        _copy_fields(in_path, layout, writer, perms_out)
        for i in sequence:
            t = by_index[i]
            # element shape in NumPy order; raw_dtype keeps the ggml type, nbytes the real size
            writer.add_tensor_info(t.name, tuple(reversed(t.dims)), np.dtype(np.float32), t.size_bytes,
                                   raw_dtype=GGMLQuantizationType[t.ggml_type])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        fout = writer.fout[0]
        fout.flush()
        align = writer.data_alignment
        data_start = GGUFWriter.ggml_pad(fout.tell(), align)
        total = sum(t.size_bytes for t in layout.tensors)
        expected: dict[str, tuple] = {}
        cursor, n_permuted = data_start, 0
        src = os.open(in_path, os.O_RDONLY)
        try:
            stream = _Stream(src, fout.fileno(), in_path, progress, total, data_start)
            for i in sequence:
                t = by_index[i]
                pieces = _pieces(t.name, t.dims, t.size_bytes, perms_out, src_pos, n_experts)
                crcs = stream.tensor(t.data_start, cursor, pieces, t.size_bytes)
                n_permuted += pieces is not None
                expected[t.name] = (t.ggml_type, t.dims, t.size_bytes, crcs)
                cursor = data_start + GGUFWriter.ggml_pad(cursor - data_start + t.size_bytes, align)
        finally:
            os.close(src)
        os.ftruncate(fout.fileno(), cursor if sequence else data_start)  # padding and holes read as zeros
        os.fsync(fout.fileno())
        writer.close()
        _verify(tmp, expected, progress, total)
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    moved = sum(1 for pos, i in enumerate(sequence) if i != pos)
    return RepackResult(out_path, order, len(sequence), moved, n_permuted, total, data_start)
