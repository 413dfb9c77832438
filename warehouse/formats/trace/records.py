"""The tracer's 1024-byte records (trace-format spec section 1), read in bounded chunks.

A trace is a flat array of packed little-endian records with no header. The file is normally
pre-allocated and sparse, so it ends in a long run of all-zero records; a record whose
timestamp is 0 is unused. This module maps the file chunk by chunk as a NumPy structured
array (``RECORD_DTYPE``), skips the holes of sparse files with ``SEEK_DATA``/``SEEK_HOLE``
instead of reading gigabytes of zeros, and turns a chunk of used records into Arrow columns
for the warehouse tables without a Python loop per record. Names are decoded once per
distinct value (dictionary encoding), because a trace repeats a few thousand names millions
of times; their bytes are untrusted (may be unterminated, or not UTF-8).

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

from ...ingest.arrow_columns import column, dictionary_column, numbers, strings
from .clock import ThreadClock
from .clock import out_of_range as timestamp_out_of_range
from .reading import read_slots

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
    for first, chunk in iter_chunks(path, extent, dtype, chunk_records):
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


_NAME_HASH_MULTIPLIERS = np.random.default_rng(0x6D6F65).integers(1, 2**63, size=32, dtype=np.uint64) | np.uint64(1)


def _factorize(fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique values, inverse) of a fixed-width bytes array, much faster than sorting the bytes.

    Each name is hashed to 64 bits (a multilinear hash over its first 8-byte words; most names
    are short), the hashes are factorised, and a full comparison against each group's
    representative proves there was no collision. On a collision the whole width is hashed,
    and failing that the bytes themselves are sorted.
    """
    n, width = len(fixed), fixed.dtype.itemsize
    if n == 0 or width % 8:
        return np.unique(fixed, return_inverse=True)
    words = np.ascontiguousarray(fixed).view(np.uint64).reshape(n, width // 8)
    for n_words in sorted({min(4, width // 8), width // 8}):
        with np.errstate(over="ignore"):
            h = (words[:, :n_words] * _NAME_HASH_MULTIPLIERS[:n_words]).sum(axis=1, dtype=np.uint64)
        _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        if np.array_equal(words[first][inverse], words):
            return fixed[first], inverse
    return np.unique(fixed, return_inverse=True)


def decode_names(fixed: np.ndarray) -> pa.DictionaryArray:
    """Fixed-width, NUL-terminated name bytes -> dictionary-encoded Arrow strings.

    Only the distinct values are decoded; bytes after the first NUL are ignored and invalid
    UTF-8 becomes U+FFFD, so a corrupt name never stops an ingest.
    """
    uniques, inverse = _factorize(fixed)
    texts = [u.split(b"\0", 1)[0].decode("utf-8", errors="replace") for u in uniques.tolist()]
    return dictionary_column(inverse.astype(np.int32, copy=False), texts)


def _label(codes: np.ndarray, labels: tuple[str, ...]) -> pa.DictionaryArray:
    idx = np.minimum(codes, len(labels) - 1).astype(np.int8)
    return dictionary_column(idx, labels)


def _nullable(values: np.ndarray, none_value: int) -> pa.Array:
    return column(values, values == none_value)


def _constant(value: str, n: int) -> pa.DictionaryArray:
    return dictionary_column(np.zeros(n, np.int8), [value])


@dataclass
class DecodedChunk:
    records: pa.Table
    sources: pa.Table
    experts: pa.Table
    anomalies: pa.Table  # per-record problems found within the record itself
    # For the op-table plausibility check: op codes of records with expert ids, and of
    # records that read a 3-D *_exps.weight tensor.
    expert_op_codes: dict[int, int]  # {op code: records}
    exps_weight_op_codes: dict[int, int]
    # size_bytes of each record's ffn_moe_topk-N source (the expert-id tensor), 0 if none
    id_tensor_bytes: np.ndarray


ID_TENSOR_PREFIX = "ffn_moe_topk-"
# Every kind of row in the anomalies table, in the order v1.trace_quality shows them: the
# per-record kinds decode_chunk finds, then the two found in SQL after the append
# (expert_ids_disagree, sql/ingest/trace_anomalies.sql; op_table_mismatch, one per run). The
# view has one count column per kind and the dashboard one sentence per kind; a test keeps
# both in step with this list.
RECORD_ANOMALY_KINDS = (
    "expert_id_out_of_range", "duplicate_expert_ids", "too_many_sources", "too_many_experts",
    "unknown_op_code", "implausible_op", "unknown_memory_source", "unknown_phase",
    "timestamp_out_of_range", "timestamp_backwards",
)
ANOMALY_KINDS = RECORD_ANOMALY_KINDS + ("expert_ids_disagree", "op_table_mismatch")


def _anomalies(run_id: str, record_ids: np.ndarray, found: list[tuple[str, np.ndarray, list[str]]]) -> pa.Table:
    ids, kinds, details = [], [], []
    for kind, where, detail in found:
        ids.append(record_ids[where])
        kinds.extend([kind] * len(detail))
        details.extend(detail)
    rid = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    return pa.table({"run_id": _constant(run_id, len(rid)), "record_id": column(rid.astype(np.int64)),
                     "kind": strings(kinds), "detail": strings(details)})


def decode_chunk(
    run_id: str, rec: np.ndarray, record_ids: np.ndarray, pass_ids: np.ndarray, op_names: tuple[str, ...],
    n_experts: int | None = None, clock: ThreadClock | None = None,
) -> DecodedChunk:
    """Arrow tables for ``records``, ``sources``, ``record_experts`` and the per-record anomalies
    of used records ``rec`` (``n_experts``: experts per layer, to check ids; None if unknown;
    ``clock``: each thread's last timestamp, carried across the chunks of one run)."""
    n = len(rec)
    ts = rec["timestamp_ns"]
    ts_bad = timestamp_out_of_range(ts)
    op = rec["operation_type"]
    known = op < len(op_names)
    op_name = dictionary_column(np.where(known, op, 0).astype(np.int16), op_names, null=~known)
    num_sources = rec["num_sources"]
    num_experts = rec["num_experts"]
    phase = rec["phase"]
    records = pa.table(
        {
            "run_id": _constant(run_id, n),
            "record_id": column(record_ids.astype(np.int64, copy=False)),
            "pass_id": column(pass_ids.astype(np.int32, copy=False)),
            # records.timestamp_ns is NOT NULL: the largest BIGINT stands in (the anomaly keeps the value)
            "timestamp_ns": column(np.minimum(ts, np.uint64(2**63 - 1)).astype(np.int64)),
            "token_id": column(rec["token_id"].astype(np.int64)),
            "layer_id": _nullable(rec["layer_id"].astype(np.int32), NO_LAYER),
            "thread_id": column(rec["thread_id"].astype(np.int32)),
            "op_code": column(op.astype(np.int16)),
            "op_name": op_name,
            "phase": _label(phase, PHASES),
            "num_sources": column(num_sources.astype(np.int16)),
            "num_experts": column(num_experts.astype(np.int16)),
            "dst_name": decode_names(rec["dst_name"]),
        }
    )

    slot_grid = np.arange(MAX_SOURCES, dtype=np.int16)
    valid = slot_grid[None, :] < np.minimum(num_sources, MAX_SOURCES)[:, None]
    src = rec["sources"][valid]
    src_names = decode_names(src["name"])
    ms = src["memory_source"]
    value = src["disk_offset_or_buffer_id"]
    is_disk, is_buffer = ms == DISK, ms == BUFFER
    sources = pa.table(
        {
            "run_id": _constant(run_id, len(src)),
            "record_id": column(np.broadcast_to(record_ids[:, None], valid.shape)[valid].astype(np.int64)),
            "slot": column(np.broadcast_to(slot_grid, valid.shape)[valid]),
            "name": src_names,
            "tensor_ptr": column(src["tensor_ptr"]),
            "size_bytes": column(src["size_bytes"].astype(np.int64)),
            "layer_id": _nullable(src["layer_id"].astype(np.int32), NO_LAYER),
            "memory_source": _label(ms, MEMORY_SOURCES),
            "disk_offset": column(value.astype(np.int64), ~is_disk | (value == 0)),
            "buffer_id": column(value, ~is_buffer),
            "tensor_idx": _nullable(src["tensor_idx"].astype(np.int64), NO_TENSOR_IDX),
        }
    )

    exp_grid = np.arange(MAX_EXPERTS, dtype=np.int16)
    has_ids = exp_grid[None, :] < np.minimum(num_experts, MAX_EXPERTS)[:, None]
    expert_ids = rec["expert_ids"]
    experts = pa.table(
        {
            "run_id": _constant(run_id, int(has_ids.sum())),
            "record_id": column(np.broadcast_to(record_ids[:, None], has_ids.shape)[has_ids].astype(np.int64)),
            "slot": column(np.broadcast_to(exp_grid, has_ids.shape)[has_ids]),
            "expert_id": column(expert_ids[has_ids].astype(np.int32)),
        }
    )

    # Per-name facts, computed once per distinct name and spread back through the indices.
    dictionary = src_names.dictionary.to_pylist()
    name_idx = numbers(src_names.indices)
    reads_exps = np.zeros(valid.shape, dtype=bool)
    id_tensor = np.zeros(valid.shape, dtype=np.int64)
    if len(dictionary):
        reads_exps[valid] = np.array([d.endswith("_exps.weight") for d in dictionary])[name_idx]
        is_topk = np.array([d.startswith(ID_TENSOR_PREFIX) for d in dictionary])[name_idx]
        id_tensor[valid] = np.where(is_topk, src["size_bytes"], 0)
    has_any_ids = num_experts > 0

    # Anomalies a record shows on its own (cross-record ones are found in SQL after the append).
    ids_masked = np.where(has_ids, expert_ids, 0)
    out_of_range = has_ids & ((expert_ids < 0) | (expert_ids >= (n_experts if n_experts else 2**31 - 1)))
    ordered = np.sort(np.where(has_ids, expert_ids.astype(np.int64), np.iinfo(np.int64).min + exp_grid.astype(np.int64)), axis=1)
    duplicated = (np.diff(ordered, axis=1) == 0).any(axis=1)
    expert_ops = np.array([name in ("MUL_MAT_ID", "ADD_ID") for name in op_names] + [False] * (256 - len(op_names)))
    mul_mat_id = np.array([name == "MUL_MAT_ID" for name in op_names] + [False] * (256 - len(op_names)))
    bad_op_ids = has_any_ids & ~expert_ops[op]
    bad_op_exps = reads_exps.any(axis=1) & ~mul_mat_id[op] & ~has_any_ids
    bad_ms = np.zeros(valid.shape, dtype=bool)
    bad_ms[valid] = ms > BUFFER
    found = []

    def add(kind: str, mask: np.ndarray, detail) -> None:
        assert kind in RECORD_ANOMALY_KINDS, kind
        where = np.flatnonzero(mask)
        if len(where):
            found.append((kind, where, [detail(i) for i in where]))

    add("expert_id_out_of_range", out_of_range.any(axis=1),
        lambda i: f"expert ids {','.join(map(str, ids_masked[i][out_of_range[i]].tolist()))} outside "
                  f"[0, {n_experts if n_experts else '?'})")
    add("duplicate_expert_ids", duplicated,
        lambda i: f"expert ids {','.join(map(str, expert_ids[i][has_ids[i]].tolist()))} repeat an id")
    add("too_many_sources", num_sources > MAX_SOURCES, lambda i: f"num_sources {num_sources[i]} > {MAX_SOURCES}")
    add("too_many_experts", num_experts > MAX_EXPERTS, lambda i: f"num_experts {num_experts[i]} > {MAX_EXPERTS}")
    add("unknown_op_code", ~known, lambda i: f"op code {op[i]} is not in the run's op table")
    add("implausible_op", bad_op_ids | bad_op_exps,
        lambda i: f"{op_names[op[i]] if known[i] else f'op code {op[i]}'} "
                  + ("carries expert ids" if bad_op_ids[i] else "reads an _exps weight"))
    add("unknown_memory_source", bad_ms.any(axis=1),
        lambda i: f"source slot {int(np.argmax(bad_ms[i]))} has memory_source {rec['sources'][i, int(np.argmax(bad_ms[i]))]['memory_source']}")
    add("unknown_phase", phase > 1, lambda i: f"phase {phase[i]} is neither 0 (PROMPT) nor 1 (GENERATE)")
    add("timestamp_out_of_range", ts_bad, lambda i: f"timestamp {ts[i]} is above 2^63 - 1; stored as 2^63 - 1")
    if clock is not None:
        back, before = clock.backwards(rec["thread_id"], ts)
        add("timestamp_backwards", back, lambda i: f"timestamp {ts[i]} is {int(before[i]) - int(ts[i])} ns "
                                                   f"before the previous record of thread {rec['thread_id'][i]}")
    return DecodedChunk(
        records,
        sources,
        experts,
        _anomalies(run_id, record_ids, found),
        _code_counts(op[has_any_ids]),
        _code_counts(op[reads_exps.any(axis=1)]),
        id_tensor.max(axis=1),
    )


def _code_counts(codes: np.ndarray) -> dict[int, int]:
    values, n = np.unique(codes, return_counts=True)
    return dict(zip(values.tolist(), n.tolist(), strict=True))


def pass_starts(rec: np.ndarray) -> np.ndarray:
    """True where a record starts a graph evaluation: the GET_ROWS writing ``inp_embd``.

    Matched on the output name alone so that a wrong op table cannot hide pass boundaries.
    """
    return rec["dst_name"] == PASS_START_DST
