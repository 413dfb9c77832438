"""The tracer's 1024-byte records (trace-format spec section 1), read in bounded chunks.

A trace is a flat array of packed little-endian records with no header. The file is normally
pre-allocated and sparse, so it ends in a long run of all-zero records; a record whose
timestamp is 0 is unused. This module maps the file chunk by chunk as a NumPy structured
array (``RECORD_DTYPE``), skips the holes of sparse files with ``SEEK_DATA``/``SEEK_HOLE``
instead of reading gigabytes of zeros, and turns a chunk of used records into Arrow columns
for the warehouse tables without a Python loop per record. Names are interned per trace
(``names.NameTable``) and decoded once per distinct value (dictionary encoding), because a
trace repeats a few thousand names millions of times; their bytes are untrusted (may be
unterminated, or not UTF-8).

The other decoders (legacy 256-byte records, per-token JSON) convert their input into
``RECORD_DTYPE`` chunks too, so one writer serves all of them.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ...ingest.arrow_columns import column, dictionary_column
from .clock import ThreadClock
from .clock import out_of_range as timestamp_out_of_range
from .names import NameTable, name_words
from .reading import read_ahead, read_slots

RECORD_SIZE = 1024
MAX_SOURCES = 4
MAX_EXPERTS = 16
NO_LAYER = 0xFFFF
NO_TENSOR_IDX = 0xFFFFFFFF
PHASES = ("PROMPT", "GENERATE", "UNKNOWN")
MEMORY_SOURCES = ("DISK", "BUFFER", "UNKNOWN")
DISK, BUFFER = 0, 1
PASS_START_DST = b"inp_embd"

SOURCE_DTYPE = np.dtype(
    [
        ("name", "S128"),
        ("tensor_ptr", "<u8"),
        ("size_bytes", "<u4"),
        ("layer_id", "<u2"),
        ("memory_source", "u1"),
        ("_pad0", "V1"),
        ("disk_offset_or_buffer_id", "<u8"),
        ("tensor_idx", "<u4"),
        ("_pad1", "V4"),
    ]
)
RECORD_DTYPE = np.dtype(
    [
        ("timestamp_ns", "<u8"),
        ("token_id", "<u4"),
        ("layer_id", "<u2"),
        ("thread_id", "<u2"),
        ("operation_type", "u1"),
        ("phase", "u1"),
        ("num_sources", "u1"),
        ("_pad0", "V5"),
        ("dst_name", "S128"),
        ("sources", SOURCE_DTYPE, (MAX_SOURCES,)),
        ("expert_ids", "<i4", (MAX_EXPERTS,)),
        ("num_experts", "u1"),
        ("_pad1", "V167"),
    ]
)
assert SOURCE_DTYPE.itemsize == 160 and RECORD_DTYPE.itemsize == RECORD_SIZE

# 64 Ki records = 64 MiB of file per chunk: large enough to amortise per-chunk overhead,
# small enough that decoding never holds more than a few hundred MB.
DEFAULT_CHUNK_RECORDS = 1 << 14


@dataclass
class Extent:
    """Where the records of a file are, found without reading the zero tail."""

    file_size: int
    record_size: int
    n_slots: int  # whole records in the file
    partial_bytes: int  # bytes of a trailing partial record (lost)
    data_ranges: list[tuple[int, int]]  # [first_slot, end_slot) ranges that may hold data

    @property
    def partial_offset(self) -> int:
        return self.n_slots * self.record_size


def _data_ranges(fd: int, size: int) -> list[tuple[int, int]]:
    """Byte ranges of ``fd`` that hold data, per SEEK_DATA/SEEK_HOLE (whole file if unsupported)."""
    if not hasattr(os, "SEEK_DATA") or size == 0:
        return [(0, size)] if size else []
    ranges = []
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole remains
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            ranges.append((start, min(end, size)))
            pos = end
    except OSError:
        return [(0, size)]
    return ranges


def find_extent(path: str | os.PathLike, record_size: int = RECORD_SIZE) -> Extent:
    size = os.path.getsize(path)
    n_slots, partial = divmod(size, record_size)
    with open(path, "rb") as f:
        byte_ranges = _data_ranges(f.fileno(), size)
    slot_ranges: list[tuple[int, int]] = []
    for start, end in byte_ranges:
        a, b = start // record_size, min(-(-end // record_size), n_slots)
        if a >= b:
            continue
        if slot_ranges and a <= slot_ranges[-1][1]:
            slot_ranges[-1] = (slot_ranges[-1][0], max(b, slot_ranges[-1][1]))
        else:
            slot_ranges.append((a, b))
    return Extent(size, record_size, n_slots, partial, slot_ranges)


def iter_chunks(
    path: str | os.PathLike, extent: Extent, dtype: np.dtype, chunk_records: int = DEFAULT_CHUNK_RECORDS
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_slot, records)`` over the data ranges, each chunk a fresh array.

    Chunks are read with bounded reads (``reading.read_slots``), not memory-mapped, so a file
    that shrinks meanwhile is an input error instead of SIGBUS; one chunk at a time keeps the
    resident set bounded by the chunk size rather than by the file.
    """
    with open(path, "rb") as f:
        for a, b in extent.data_ranges:
            for first in range(a, b, chunk_records):
                yield first, read_slots(f.fileno(), path, dtype, first, min(chunk_records, b - first))


@dataclass
class UsedScan:
    """Result of the first, cheap pass over a trace: which records are used, and their digest."""

    n_used: int = 0
    first_used: int | None = None
    last_used: int | None = None
    hole_records: int = 0  # unused records before the last used one
    digest: str = ""
    hole_offsets: list[int] = field(default_factory=list)  # byte offsets of the first few non-zero-after-hole


def scan_used(
    path: str | os.PathLike, extent: Extent, dtype: np.dtype, chunk_records: int = DEFAULT_CHUNK_RECORDS,
    progress=None,
) -> UsedScan:
    """Find the used records (timestamp != 0) and hash their bytes; decodes nothing else."""
    h = hashlib.sha1()  # the fastest hashlib digest here; run ids need no more
    h.update(f"{dtype.itemsize}\n".encode())
    scan = UsedScan()
    expected_next = 0  # slot after the last used one; a gap before a used slot is a hole
    for first, chunk in read_ahead(iter_chunks(path, extent, dtype, chunk_records)):
        used = np.flatnonzero(chunk["timestamp_ns"] != 0)
        if len(used):
            slots = used + first
            gaps = np.diff(slots, prepend=expected_next) - 1
            gaps[0] = slots[0] - expected_next
            holes = np.flatnonzero(gaps > 0)
            if len(holes) and len(scan.hole_offsets) < 5:
                scan.hole_offsets.extend(int(s) * dtype.itemsize for s in slots[holes[:5]])
            scan.hole_records += int(gaps[gaps > 0].sum())
            if scan.first_used is None:
                scan.first_used = int(slots[0])
            scan.last_used = int(slots[-1])
            expected_next = scan.last_used + 1
            scan.n_used += len(used)
            if len(used) == len(chunk):
                h.update(np.asarray(chunk).view(np.uint8))
            else:
                h.update(np.asarray(chunk)[used].view(np.uint8))
        if progress is not None:
            progress(len(chunk))
        del chunk
    if scan.first_used is not None:
        # Unused records before the first used one are not a hole in the tracer's sense;
        # only gaps between used records are.
        scan.hole_records -= scan.first_used
        if scan.first_used and scan.hole_offsets and scan.hole_offsets[0] == scan.first_used * dtype.itemsize:
            scan.hole_offsets.pop(0)
    scan.digest = h.hexdigest()
    return scan


# ---------------------------------------------------------------------------------------------
# Decoding a chunk of used records into Arrow columns.


def _label(codes: np.ndarray, labels: tuple[str, ...]) -> pa.DictionaryArray:
    idx = np.minimum(codes, len(labels) - 1).astype(np.int8)
    return dictionary_column(idx, labels)


def _nullable(values: np.ndarray, none_value: int) -> pa.Array:
    return column(values, values == none_value)


ID_TENSOR_PREFIX = "ffn_moe_topk-"
# Every kind of row in the anomalies table, in the order v1.trace_quality shows them: the
# per-record kinds the decoders below find, then the two found in SQL after the append
# (expert_ids_disagree, sql/ingest/trace_anomalies.sql; op_table_mismatch, one per run). The
# view has one count column per kind and the dashboard one sentence per kind; a test keeps
# both in step with this list.
RECORD_ANOMALY_KINDS = (
    "expert_id_out_of_range", "duplicate_expert_ids", "too_many_sources", "too_many_experts",
    "unknown_op_code", "implausible_op", "unknown_memory_source", "unknown_phase",
    "timestamp_out_of_range", "timestamp_backwards",
)
ANOMALY_KINDS = RECORD_ANOMALY_KINDS + ("expert_ids_disagree", "op_table_mismatch")

# A problem a record shows on its own: (kind, positions in the chunk, one detail text per position).
Finding = tuple[str, np.ndarray, list[str]]


def _find(found: list[Finding], kind: str, mask: np.ndarray, detail) -> None:
    assert kind in RECORD_ANOMALY_KINDS, kind
    where = np.flatnonzero(mask)
    if len(where):
        found.append((kind, where, [detail(i) for i in where]))


def _op_mask(op_names: tuple[str, ...], wanted: tuple[str, ...]) -> np.ndarray:
    """Per op code (all 256 a byte can hold): is it one of ``wanted``."""
    return np.array([name in wanted for name in op_names] + [False] * (256 - len(op_names)))


def _op_text(op_names: tuple[str, ...], code: int) -> str:
    return op_names[code] if code < len(op_names) else f"op code {code}"


def _code_counts(codes: np.ndarray) -> dict[int, int]:
    values, n = np.unique(codes, return_counts=True)
    return dict(zip(values.tolist(), n.tolist(), strict=True))


# Each decoder below turns a chunk of used records into the columns of one table (every column
# but run_id, which the writer adds) and the per-record problems those fields show. Ingest
# streams each table into DuckDB as one statement, reading the file once per table, so each
# decoder reads only the fields its table needs; cross-record problems are found in SQL.


@dataclass
class DecodedRecords:
    table: pa.Table  # the records table
    findings: list[Finding]
    expert_op_codes: dict[int, int]  # {op code: records with expert ids} (op-table plausibility)


def decode_records(
    rec: np.ndarray, record_ids: np.ndarray, pass_ids: np.ndarray, op_names: tuple[str, ...],
    clock: ThreadClock | None = None, names: NameTable | None = None,
) -> DecodedRecords:
    """The ``records`` columns of used records ``rec`` (``clock``: each thread's last timestamp,
    ``names``: the output names seen so far, both carried across the chunks of one run)."""
    names = names or NameTable()
    names.start_chunk()
    dst_codes = names.codes(name_words(rec["dst_name"]))
    ts = rec["timestamp_ns"]
    ts_bad = timestamp_out_of_range(ts)
    op = rec["operation_type"]
    known = op < len(op_names)
    num_sources = rec["num_sources"]
    num_experts = rec["num_experts"]
    phase = rec["phase"]
    table = pa.table(
        {
            "record_id": column(record_ids.astype(np.int64, copy=False)),
            "pass_id": column(pass_ids.astype(np.int32, copy=False)),
            # records.timestamp_ns is NOT NULL: the largest BIGINT stands in (the anomaly keeps the value)
            "timestamp_ns": column(np.minimum(ts, np.uint64(2**63 - 1)).astype(np.int64)),
            "token_id": column(rec["token_id"].astype(np.int64)),
            "layer_id": _nullable(rec["layer_id"].astype(np.int32), NO_LAYER),
            "thread_id": column(rec["thread_id"].astype(np.int32)),
            "op_code": column(op.astype(np.int16)),
            "op_name": dictionary_column(np.where(known, op, 0).astype(np.int16), op_names, null=~known),
            "phase": _label(phase, PHASES),
            "num_sources": column(num_sources.astype(np.int16)),
            "num_experts": column(num_experts.astype(np.int16)),
            "dst_name": names.column(dst_codes),
        }
    )
    found: list[Finding] = []
    _find(found, "too_many_sources", num_sources > MAX_SOURCES, lambda i: f"num_sources {num_sources[i]} > {MAX_SOURCES}")
    _find(found, "too_many_experts", num_experts > MAX_EXPERTS, lambda i: f"num_experts {num_experts[i]} > {MAX_EXPERTS}")
    _find(found, "unknown_op_code", ~known, lambda i: f"op code {op[i]} is not in the run's op table")
    _find(found, "unknown_phase", phase > 1, lambda i: f"phase {phase[i]} is neither 0 (PROMPT) nor 1 (GENERATE)")
    _find(found, "timestamp_out_of_range", ts_bad, lambda i: f"timestamp {ts[i]} is above 2^63 - 1; stored as 2^63 - 1")
    if clock is not None:
        back, before = clock.backwards(rec["thread_id"], ts)
        _find(found, "timestamp_backwards", back, lambda i: f"timestamp {ts[i]} is {int(before[i]) - int(ts[i])} ns "
                                                            f"before the previous record of thread {rec['thread_id'][i]}")
    return DecodedRecords(table, found, _code_counts(op[num_experts > 0]))


@dataclass
class DecodedSources:
    table: pa.Table  # the sources table
    findings: list[Finding]
    exps_weight_op_codes: dict[int, int]  # {op code: records reading a 3-D *_exps.weight tensor}
    # size_bytes of each record's ffn_moe_topk-N source (the expert-id tensor), 0 if none
    id_tensor_bytes: np.ndarray


def decode_sources(
    rec: np.ndarray, record_ids: np.ndarray, op_names: tuple[str, ...], names: NameTable | None = None,
) -> DecodedSources:
    """The ``sources`` columns (one row per used source slot) of used records ``rec`` (``names``:
    the source names seen so far, carried across the chunks of one run)."""
    names = names or NameTable()
    names.start_chunk()
    num_sources = rec["num_sources"]
    slot_grid = np.arange(MAX_SOURCES, dtype=np.int16)
    valid = slot_grid[None, :] < np.minimum(num_sources, MAX_SOURCES)[:, None]
    slots = rec["sources"]  # strided (n, 4): each field is taken on its own, not the 160-byte slots
    name_idx = names.codes(name_words(slots["name"][valid]))
    src_names = names.column(name_idx)
    ms = slots["memory_source"][valid]
    value = slots["disk_offset_or_buffer_id"][valid]
    size_bytes = slots["size_bytes"][valid]
    is_disk, is_buffer = ms == DISK, ms == BUFFER
    table = pa.table(
        {
            "record_id": column(np.broadcast_to(record_ids[:, None], valid.shape)[valid].astype(np.int64)),
            "slot": column(np.broadcast_to(slot_grid, valid.shape)[valid]),
            "name": src_names,
            "tensor_ptr": column(slots["tensor_ptr"][valid]),
            "size_bytes": column(size_bytes.astype(np.int64)),
            "layer_id": _nullable(slots["layer_id"][valid].astype(np.int32), NO_LAYER),
            "memory_source": _label(ms, MEMORY_SOURCES),
            "disk_offset": column(value.astype(np.int64), ~is_disk | (value == 0)),
            "buffer_id": column(value, ~is_buffer),
            "tensor_idx": _nullable(slots["tensor_idx"][valid].astype(np.int64), NO_TENSOR_IDX),
        }
    )

    # Per-name facts, computed once per distinct name and spread back through the indices.
    dictionary = names.texts
    reads_exps = np.zeros(valid.shape, dtype=bool)
    id_tensor = np.zeros(valid.shape, dtype=np.int64)
    if len(dictionary):
        reads_exps[valid] = np.array([d.endswith("_exps.weight") for d in dictionary])[name_idx]
        is_topk = np.array([d.startswith(ID_TENSOR_PREFIX) for d in dictionary])[name_idx]
        id_tensor[valid] = np.where(is_topk, size_bytes, 0)
    op = rec["operation_type"]
    any_exps = reads_exps.any(axis=1)
    bad_op_exps = any_exps & ~_op_mask(op_names, ("MUL_MAT_ID",))[op] & ~(rec["num_experts"] > 0)
    bad_ms = np.zeros(valid.shape, dtype=bool)
    bad_ms[valid] = ms > BUFFER
    found: list[Finding] = []
    # "carries expert ids", the other implausible_op, is decode_experts' (a record is one or the other)
    _find(found, "implausible_op", bad_op_exps, lambda i: f"{_op_text(op_names, op[i])} reads an _exps weight")
    _find(found, "unknown_memory_source", bad_ms.any(axis=1),
          lambda i: f"source slot {int(np.argmax(bad_ms[i]))} has memory_source "
                    f"{slots['memory_source'][i, int(np.argmax(bad_ms[i]))]}")
    return DecodedSources(table, found, _code_counts(op[any_exps]), id_tensor.max(axis=1))


@dataclass
class DecodedExperts:
    table: pa.Table  # the record_experts table
    findings: list[Finding]


def decode_experts(
    rec: np.ndarray, record_ids: np.ndarray, op_names: tuple[str, ...], n_experts: int | None = None,
) -> DecodedExperts:
    """The ``record_experts`` columns (one row per recorded expert id) of used records ``rec``
    (``n_experts``: experts per layer, to check ids; None if unknown)."""
    # Most records carry no ids (one in six of a GPT-OSS pass does): only those that do are read.
    carriers = np.flatnonzero(rec["num_experts"] > 0)
    record_ids, num_experts = record_ids[carriers], rec["num_experts"][carriers]
    exp_grid = np.arange(MAX_EXPERTS, dtype=np.int16)
    has_ids = exp_grid[None, :] < np.minimum(num_experts, MAX_EXPERTS)[:, None]
    expert_ids = rec["expert_ids"][carriers]
    table = pa.table(
        {
            "record_id": column(np.broadcast_to(record_ids[:, None], has_ids.shape)[has_ids].astype(np.int64)),
            "slot": column(np.broadcast_to(exp_grid, has_ids.shape)[has_ids]),
            "expert_id": column(expert_ids[has_ids].astype(np.int32)),
        }
    )
    ids_masked = np.where(has_ids, expert_ids, 0)
    out_of_range = has_ids & ((expert_ids < 0) | (expert_ids >= (n_experts if n_experts else 2**31 - 1)))
    ordered = np.sort(np.where(has_ids, expert_ids.astype(np.int64), np.iinfo(np.int64).min + exp_grid.astype(np.int64)), axis=1)
    duplicated = (np.diff(ordered, axis=1) == 0).any(axis=1)
    op = rec["operation_type"][carriers]
    bad_op_ids = ~_op_mask(op_names, ("MUL_MAT_ID", "ADD_ID"))[op]
    found: list[Finding] = []
    _find(found, "expert_id_out_of_range", out_of_range.any(axis=1),
          lambda i: f"expert ids {','.join(map(str, ids_masked[i][out_of_range[i]].tolist()))} outside "
                    f"[0, {n_experts if n_experts else '?'})")
    _find(found, "duplicate_expert_ids", duplicated,
          lambda i: f"expert ids {','.join(map(str, expert_ids[i][has_ids[i]].tolist()))} repeat an id")
    _find(found, "implausible_op", bad_op_ids, lambda i: f"{_op_text(op_names, op[i])} carries expert ids")
    return DecodedExperts(table, [(kind, carriers[where], detail) for kind, where, detail in found])


def pass_starts(rec: np.ndarray) -> np.ndarray:
    """True where a record starts a graph evaluation: the GET_ROWS writing ``inp_embd``.

    Matched on the output name alone so that a wrong op table cannot hide pass boundaries.
    """
    return rec["dst_name"] == PASS_START_DST
