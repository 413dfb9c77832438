"""Trace ingest: one writer for every trace format, producing one run per trace.

Data flow: ``formats.trace_detect`` names the format; a ``TraceSource`` yields chunks of used
records as ``RECORD_DTYPE`` arrays (1024-byte records directly, legacy records and JSON
entries converted); ``decode_records``, ``decode_sources`` and ``decode_experts`` turn each
chunk into the Arrow columns of ``records``, ``sources`` and ``record_experts``; SQL under
``sql/ingest/trace_*.sql`` then derives ``passes``, ``selections`` and ``anomalies`` inside
the same transaction.

The file is read four times, from the page cache after the first. The first pass only finds
the used records and hashes them: the run_id is that digest, so the same trace ingested twice
(or its JSON export, which re-encodes to the same bytes) is one run, and a repeated ingest
stops before decoding anything. Then each table is written by one INSERT that pulls its
chunks as DuckDB writes them: one statement per table writes row groups straight to the file
on DuckDB's threads while Python decodes the next chunk, about three times faster than an
insert per chunk, and a table's pass decodes only its own fields. Memory is bounded by the
chunk size in every pass.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..db import catalog
from ..db.sqlfiles import ident, load_sql, render_sql
from ..errors import InputError, UsageError
from ..formats.trace import op_tables
from ..formats.trace.clock import ThreadClock
from ..formats.trace.detect import TOKEN_JSON, TRACE_256, TRACE_1024, detect
from ..formats.trace.legacy import LEGACY_RECORD_DTYPE, to_records
from ..formats.trace.names import NameTable
from ..formats.trace.reading import read_ahead
from ..formats.trace.records import (
    DEFAULT_CHUNK_RECORDS,
    RECORD_DTYPE,
    Finding,
    decode_experts,
    decode_records,
    decode_sources,
    find_extent,
    iter_chunks,
    pass_starts,
    scan_used,
)
from ..formats.trace.token_json import entries_to_records, load_entries
from . import derived, expert_permutation, pass_facts
from .arrow_columns import column, dictionary_column, strings
from .spool import Spool

RUN_ID_CHARS = 16
Progress = Callable[[int, int], None]  # (units done so far, total units)


@dataclass
class RunResult:
    run_id: str
    created: bool
    warnings: list[str] = field(default_factory=list)
    run_name: str = ""
    n_records: int = 0
    n_passes: int = 0
    source_format: str = ""
    warmup_passes: int = 0
    n_selections: int = 0


@dataclass
class _Scanned:
    digest: str
    n_used: int
    file_size: int | None = None
    skipped_tail_bytes: int = 0
    dropped_partial_bytes: int = 0
    partial_offset: int | None = None
    hole_records: int = 0
    hole_offsets: list[int] = field(default_factory=list)


class TraceSource:
    """Used records of one trace, chunk by chunk, in ``RECORD_DTYPE``."""

    format: str
    default_op_table: str = op_tables.DEFAULT_TABLE
    path: Path  # the file, or the folder of token files
    given: Path  # the path as the user gave it (names the run)

    def scan(self, progress: Progress | None) -> _Scanned:
        raise NotImplementedError

    def chunks(self, progress: Progress | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(record_ids, records)`` of used records in file order."""
        raise NotImplementedError


class BinarySource(TraceSource):
    def __init__(self, path: Path, fmt: str, chunk_records: int = DEFAULT_CHUNK_RECORDS):
        self.path, self.format = path, fmt
        self.dtype = RECORD_DTYPE if fmt == TRACE_1024 else LEGACY_RECORD_DTYPE
        if fmt == TRACE_256:
            self.default_op_table = op_tables.LEGACY_TABLE
        self.chunk_records = chunk_records
        self.extent = find_extent(path, self.dtype.itemsize)

    def _total(self) -> int:
        return sum(b - a for a, b in self.extent.data_ranges)

    def _progress(self, progress: Progress | None):
        if progress is None:
            return None
        total, done = self._total(), 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress(done, total)

        return advance

    def scan(self, progress):
        ext, rs = self.extent, self.dtype.itemsize
        used = scan_used(self.path, ext, self.dtype, self.chunk_records, self._progress(progress))
        end = used.last_used + 1 if used.last_used is not None else 0
        return _Scanned(
            digest=used.digest,
            n_used=used.n_used,
            file_size=ext.file_size,
            skipped_tail_bytes=(ext.n_slots - end) * rs,
            dropped_partial_bytes=ext.partial_bytes,
            partial_offset=ext.partial_offset if ext.partial_bytes else None,
            hole_records=used.hole_records + (used.first_used or 0),
            hole_offsets=used.hole_offsets,
        )

    def chunks(self, progress):
        advance = self._progress(progress)
        for first, chunk in iter_chunks(self.path, self.extent, self.dtype, self.chunk_records):
            used = np.flatnonzero(chunk["timestamp_ns"] != 0)
            if len(used):
                rec = np.asarray(chunk)[used] if len(used) < len(chunk) else np.asarray(chunk)
                if self.format == TRACE_256:
                    rec = to_records(rec)
                yield used + first, rec
            if advance:
                advance(len(chunk))
            del chunk


class JsonSource(TraceSource):
    """Per-token JSON files, re-encoded to 1024-byte records (kept in memory: the export is small)."""

    format = TOKEN_JSON

    def __init__(self, path: Path, files: tuple[Path, ...], op_table: str):
        self.path, self.files, self.op_table = path, files, op_table
        self._decoded: list[np.ndarray] | None = None

    def _records(self) -> list[np.ndarray]:
        if self._decoded is None:
            self._decoded = [entries_to_records(p, load_entries(p), self.op_table) for p in self.files]
        return self._decoded

    def scan(self, progress):
        import hashlib

        h = hashlib.sha1()  # as scan_used, so a JSON export and its binary share the run_id
        h.update(f"{RECORD_DTYPE.itemsize}\n".encode())
        n = 0
        for i, rec in enumerate(self._records()):
            used = rec[rec["timestamp_ns"] != 0]
            h.update(used.view(np.uint8))
            n += len(used)
            if progress:
                progress(i + 1, len(self.files))
        size = sum(p.stat().st_size for p in self.files)
        return _Scanned(digest=h.hexdigest(), n_used=n, file_size=size)

    def chunks(self, progress):
        base = 0
        for rec in self._records():
            used = np.flatnonzero(rec["timestamp_ns"] != 0)
            yield used + base, rec[used]
            base += len(rec)


def open_source(path: str | os.PathLike, op_table: str | None = None, fmt: str | None = None) -> TraceSource:
    """Detect the format of ``path`` (or take ``fmt``) and open it; JSON is parsed here, so bad
    input is refused before any database work starts."""
    if op_table is not None and op_table not in op_tables.TABLES:
        raise UsageError(f"unknown op table {op_table!r}; known: {', '.join(op_tables.TABLES)}")
    found = detect(path, fmt)
    if found.format == TOKEN_JSON:
        source = JsonSource(found.path, found.files, op_table or op_tables.DEFAULT_TABLE)
        source._records()
    else:
        source = BinarySource(found.path, found.format)
    source.given = Path(path)
    return source


def default_run_name(path: Path) -> str:
    path = Path(path)
    if path.is_dir():
        return (path.parent.name if path.name == "traces" else path.name) or "trace"
    if path.stem in ("tensor_trace", "trace") or path.name.startswith("token-"):
        parent = path.parent.name if path.parent.name != "traces" else path.parent.parent.name
        return parent or path.stem
    return path.stem


def delete_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Remove every row of a run, in every table that has one (the caller owns the transaction)."""
    for table in catalog.run_tables(con):
        con.execute(render_sql("ingest/delete_run_rows.sql", table=ident(table)), {"run_id": run_id})


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> tuple | None:
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _model(con, model_id: str | None) -> tuple[int | None, int | None, int | None]:
    if model_id is None:
        return None, None, None
    row = _one(con, load_sql("ingest/trace_model_facts.sql"), {"model_id": model_id})
    if row is None:
        raise UsageError(f"no model {model_id!r} in the warehouse; ingest its GGUF or layout first")
    return row[0], row[1], row[2]


def _with_run_id(table: pa.Table, run_id: str, columns: list[str]) -> pa.Table:
    run = dictionary_column(np.zeros(table.num_rows, np.int8), [run_id])
    return table.append_column("run_id", run).select(columns)


def _stream(con: duckdb.DuckDBPyConnection, table: str, tables: Iterator[pa.Table]) -> None:
    """Append every Arrow table of ``tables`` to ``table`` in one INSERT that pulls them as it writes.

    ``tables`` runs one table ahead on a thread of its own (``read_ahead``): DuckDB pulls a
    stream on a single thread and writes what it pulled before pulling again, so without it
    decoding and writing would take turns. An error raised while producing (a file that
    shrank meanwhile) would reach the caller as DuckDB's own text, so it ends the stream
    instead and is raised once the statement is done; the caller's transaction then rolls the
    partial rows back.
    """
    failed: list[BaseException] = []

    def batches():
        try:
            for t in read_ahead(tables):
                yield from t.to_batches()
        except GeneratorExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - raised below, once DuckDB lets go of the stream
            failed.append(exc)

    stream = batches()
    try:
        first = next(stream, None)
        if first is not None:
            reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], stream))
            con.from_arrow(reader).insert_into(table)
    finally:
        stream.close()  # stops the producing thread if DuckDB gave up on the stream early
    if failed:
        raise failed[0]


def _findings_table(record_ids: np.ndarray, found: list[Finding]) -> pa.Table:
    ids = [record_ids[where] for _, where, _ in found]
    return pa.table({
        "record_id": column(np.concatenate(ids).astype(np.int64) if ids else np.zeros(0, np.int64)),
        "kind": strings([kind for kind, _, detail in found for _ in detail]),
        "detail": strings([d for _, _, detail in found for d in detail]),
    })


def _largest_per_pass(into: dict[int, int], pass_ids: np.ndarray, values: np.ndarray, mask: np.ndarray) -> None:
    """Fold the largest ``values[mask]`` of each pass into ``into`` (pass ids never decrease)."""
    if not mask.any():
        return
    pids, vals = pass_ids[mask], values[mask]
    uniq, start = np.unique(pids, return_index=True)
    for p, v in zip(uniq.tolist(), np.maximum.reduceat(vals, start).tolist(), strict=True):
        into[p] = max(into.get(p, 0), v)


def ingest_trace(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike | TraceSource,
    *,
    model_id: str | None = None,
    name: str | None = None,
    experiment: str | None = None,
    domain: str | None = None,
    prompt: str | None = None,
    n_predict: int | None = None,
    tags: dict[str, str] | None = None,
    op_table: str | None = None,
    experts_used: int | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Ingest one trace as one run, inside the caller's transaction.

    ``path`` may also be a source from ``open_source`` (to refuse bad input before a
    transaction starts). ``progress(done, total)`` is called as the file is read (twice: scan,
    then decode).
    Returns ``created=False`` and changes nothing when the run is already there, unless
    ``replace`` is set.
    """
    if op_table is not None and op_table not in op_tables.TABLES:
        raise UsageError(f"unknown op table {op_table!r}; known: {', '.join(op_tables.TABLES)}")
    if experts_used is not None and not 1 <= experts_used <= 256:
        raise UsageError(f"--experts-used must be between 1 and 256, not {experts_used}")
    source = path if isinstance(path, TraceSource) else open_source(path, op_table)
    path = source.given
    table = op_table or source.default_op_table
    ops = op_tables.names(table)
    scanned = source.scan(progress)
    if scanned.n_used == 0:
        raise InputError(path, "no used records: every record's timestamp is 0")
    run_id = scanned.digest[:RUN_ID_CHARS]
    run_name = name or default_run_name(path)
    warnings: list[str] = []

    existing = _one(con, load_sql("ingest/trace_existing_run.sql"), {"run_id": run_id})
    if existing and not replace:
        return RunResult(run_id, False, [f"already ingested as run {run_id} ({existing[0]}); nothing changed "
                                         "(use --replace to ingest it again)"],
                         existing[0], existing[1], existing[2], source.format)
    if existing:
        delete_run(con, run_id)

    n_experts, model_k, n_layers = _model(con, model_id)
    con.execute(load_sql("ingest/trace_memory_limit.sql"))
    try:
        return _decode_and_derive(con, source, scanned, run_id, run_name, table, ops, n_experts, model_k,
                                  n_layers, warnings, model_id=model_id, experiment=experiment, domain=domain,
                                  prompt=prompt, n_predict=n_predict, tags=tags, experts_used=experts_used,
                                  progress=progress)
    finally:
        try:
            con.execute(load_sql("ingest/trace_memory_limit_reset.sql"))
        except duckdb.Error:
            pass  # an aborted transaction refuses statements; the error that aborted it is the one to report


def _decode_and_derive(con, source, scanned, run_id, run_name, table, ops, n_experts, model_k, n_layers,
                       warnings, *, model_id, experiment, domain, prompt, n_predict, tags, experts_used,
                       progress) -> RunResult:
    path = source.given
    columns = {t: catalog.table_columns(con, t) for t in ("records", "sources", "record_experts", "anomalies")}
    id_bytes: dict[int, int] = {}
    batch_ids: dict[int, int] = {}  # pass -> ids of its first GET_ROWS's index source (its tokens)
    expert_codes: Counter[int] = Counter()
    exps_codes: Counter[int] = Counter()
    anomalies = Spool()
    clock = ThreadClock()
    dst_names, source_names = NameTable(), NameTable()

    def rows(table: str, decode):
        """The Arrow tables of ``table``, chunk by chunk: ``decode(record_ids, rec, pass_ids, starts)``
        decodes a chunk (and folds its per-run facts); its findings go to the anomaly spool. The
        pass ids are carried across chunks, and the pass must read every used record."""
        counter, n = None, 0
        for record_ids, rec in source.chunks(progress):
            starts = pass_starts(rec)
            if counter is None:
                counter = -1 if starts[0] else 0
                if not starts[0] and table == "records":
                    warnings.append(f"the first record (record {int(record_ids[0])}) does not start a graph "
                                    "evaluation (GET_ROWS -> inp_embd); records before the first start form pass 0")
            pass_ids = counter + np.cumsum(starts)
            counter = int(pass_ids[-1])
            n += len(rec)
            decoded = decode(record_ids, rec, pass_ids, starts)
            anomalies.add(_findings_table(record_ids, decoded.findings))
            yield _with_run_id(decoded.table, run_id, columns[table])
        if n != scanned.n_used:
            # The tracer writes into a pre-allocated, memory-mapped file: it may still be running.
            raise InputError(path, f"the trace changed while being read ({scanned.n_used} used records at first, "
                                   f"{n} then); ingest it once the traced program has finished")

    def records(record_ids, rec, pass_ids, starts):
        batch_ids.update(zip(pass_ids[starts].tolist(), pass_facts.index_ids(rec, starts).tolist(), strict=True))
        decoded = decode_records(rec, record_ids, pass_ids, ops, clock, dst_names)
        expert_codes.update(decoded.expert_op_codes)
        return decoded

    def sources(record_ids, rec, pass_ids, starts):
        decoded = decode_sources(rec, record_ids, ops, source_names)
        _largest_per_pass(id_bytes, pass_ids, decoded.id_tensor_bytes, rec["num_experts"] > 0)
        exps_codes.update(decoded.exps_weight_op_codes)
        return decoded

    def experts(record_ids, rec, pass_ids, starts):
        return decode_experts(rec, record_ids, ops, n_experts)

    with anomalies:
        _stream(con, "records", rows("records", records))
        _stream(con, "sources", rows("sources", sources))
        _stream(con, "record_experts", rows("record_experts", experts))
        _stream(con, "anomalies", (_with_run_id(t, run_id, columns["anomalies"]) for t in anomalies.tables()))
    n_records = scanned.n_used

    # Op table plausibility (spec section 5).
    problems = op_tables.check(table, expert_codes, exps_codes)
    if problems:
        fits = [t for t in op_tables.fitting_tables(expert_codes, exps_codes) if t != table]
        hint = f"; table {fits[0]} fits (use --op-table {fits[0]})" if fits else "; no known table fits"
        message = f"op table {table} looks wrong: {problems[0]}{hint}"
        warnings.append(message)
        con.execute(load_sql("ingest/trace_op_table_anomaly.sql"), {"run_id": run_id, "message": message})

    # k: the model's experts-used count, else the option, else inferred from the passes.
    per_pass = con.execute(load_sql("ingest/trace_pass_ids.sql"), {"run_id": run_id}).fetchall()
    recorded = [r[1] for r in per_pass]
    if model_k:
        k, k_source = int(model_k), "model"
        if experts_used is not None and experts_used != k:
            warnings.append(f"--experts-used {experts_used} ignored: the model says {k}")
    elif experts_used is not None:
        k, k_source = experts_used, "option"
    elif (k := pass_facts.infer_k(recorded, n_experts)) is not None:
        k_source = "inferred"
        warnings.append(f"experts used per token inferred as {k} from the trace (no model, no --experts-used)")
    else:
        k, k_source = None, None

    pass_list = sorted(set(id_bytes) | set(batch_ids))
    con.register("_trace_pass_id_bytes", pa.table({
        "pass_id": column(np.array(pass_list, np.int32)),
        "id_tensor_bytes": column(np.array([id_bytes.get(p, 0) for p in pass_list], np.int64)),
        "index_ids": column(np.array([batch_ids.get(p, 0) for p in pass_list], np.int64))}))
    try:
        con.execute(load_sql("ingest/trace_passes.sql"),
                    {"run_id": run_id, "k": k, "n_experts": n_experts, "n_layers": n_layers})
    finally:
        con.unregister("_trace_pass_id_bytes")
    for pass_id, first, last in con.execute(load_sql("ingest/trace_incomplete_passes.sql"),
                                            {"run_id": run_id}).fetchall():
        warnings.append(pass_facts.incomplete_warning(pass_id, first, last))
    if k is None and _one(con, load_sql("ingest/trace_k_lost.sql"), {"run_id": run_id}):
        warnings.append(pass_facts.K_UNKNOWN_WARNING.format(recorded=", ".join(map(str, sorted(set(recorded))))))
    if k is not None:
        con.execute(load_sql("ingest/trace_selections.sql"), {"run_id": run_id, "k": k})
        expert_permutation.to_original_ids(con, model_id, run_id, ("selections",))  # a repacked model
    con.execute(load_sql("ingest/trace_anomalies.sql"), {"run_id": run_id})
    n_passes, warmup_passes, n_selections = _one(con, load_sql("ingest/trace_summary.sql"), {"run_id": run_id})

    if scanned.skipped_tail_bytes:
        warnings.append(f"skipped {scanned.skipped_tail_bytes:,} bytes of unused (zero) records at the end")
    if scanned.hole_records:
        where = ", ".join(f"byte offset {o:,}" for o in scanned.hole_offsets[:3])
        warnings.append(f"{scanned.hole_records:,} unused records lie between used ones; the records after "
                        f"them were ingested (resuming at {where})")
    if scanned.dropped_partial_bytes:
        warnings.append(f"dropped a partial record of {scanned.dropped_partial_bytes} bytes at byte offset "
                        f"{scanned.partial_offset:,} (the file was cut short)")
    counts = con.execute(load_sql("ingest/trace_anomaly_counts.sql"), {"run_id": run_id}).fetchall()
    if counts:
        warnings.append("anomalies: " + ", ".join(f"{n:,} {kind}" for kind, n in counts)
                        + f" (see v1.trace_quality; anomalies table, run_id {run_id})")

    tag_items = sorted((tags or {}).items())
    con.execute(load_sql("ingest/trace_run.sql"), {
        "run_id": run_id, "run_name": run_name, "experiment": experiment, "domain": domain,
        "prompt": prompt, "n_predict": n_predict, "model_id": model_id, "source_path": str(path),
        "source_format": source.format, "op_table": table, "n_records": n_records, "n_passes": n_passes,
        "experts_used": k, "experts_used_source": k_source, "file_size_bytes": scanned.file_size,
        "skipped_tail_bytes": scanned.skipped_tail_bytes,
        "dropped_partial_bytes": scanned.dropped_partial_bytes, "hole_records": scanned.hole_records,
        "tag_keys": [k_ for k_, _ in tag_items], "tag_values": [v for _, v in tag_items],
    })
    derived.refresh_run(con, run_id)
    return RunResult(run_id, True, warnings, run_name, n_records, n_passes, source.format, warmup_passes,
                     n_selections)
