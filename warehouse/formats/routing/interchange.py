"""The routing interchange format: CSV or Parquet, one row per run, token position, layer and rank.

Columns, in this order (the first six required, the rest optional and written when known):

    run,position,phase,layer,rank,expert[,weight][,token_id][,step][,pass_id][,residency][,trusted]

``run`` names the run (one file may hold several); ``position`` is the 0-based position in
the sequence; ``phase`` is ``prompt`` or ``generate``; ``rank`` 0 is the router's first choice;
``weight`` the applied routing weight (empty = unknown); ``token_id`` (empty = unknown);
``step`` the decode step of a generated token (empty for prompt tokens; derived from the order
of generated positions when the column is absent); ``pass_id`` the graph evaluation;
``residency`` the recorder's own cache verdict (``hit``, ``miss``, ``prefetch-hit``);
``trusted`` false for rows the recorder may have got wrong. ``moewh export routes`` writes it,
``moewh ingest routing`` reads it back losslessly (floats are written in shortest round-trip form).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .csvtext import read_table
from .problems import RoutingInputError, first_bad
from .routes import GENERATE, PHASE_NAMES, PROMPT, RESIDENCY_NAMES, ROW_DTYPES, UNKNOWN, Routes, order_key

FORMAT_CSV = "routes-csv"
FORMAT_PARQUET = "routes-parquet"
REQUIRED = ("run", "position", "phase", "layer", "rank", "expert")
OPTIONAL = ("weight", "token_id", "step", "pass_id", "residency", "trusted")
HEADER_PREFIX = ",".join(REQUIRED)
SCHEMA = pa.schema([("run", pa.string()), ("position", pa.int64()), ("phase", pa.string()), ("layer", pa.int32()),
                    ("rank", pa.int16()), ("expert", pa.int32()), ("weight", pa.float64()),
                    ("token_id", pa.int64()), ("step", pa.int32()), ("pass_id", pa.int32()),
                    ("residency", pa.string()), ("trusted", pa.bool_())])


def sniff(head: bytes) -> dict[str, float]:
    if head.startswith(b"PAR1"):
        return {FORMAT_PARQUET: 0.5}  # confirmed by the schema when read
    first = head.split(b"\n", 1)[0].strip().decode("utf-8", errors="replace").replace('"', "")
    if first.startswith(HEADER_PREFIX):
        return {FORMAT_CSV: 1.0}
    return {}


def read(path: Path, fmt: str) -> list[Routes]:
    path = Path(path)
    if fmt == FORMAT_PARQUET:
        try:
            # not read_table: its dataset layer imports pandas. Text columns are read as the
            # file's own dictionaries: a code per row, no string per row to compare or encode.
            schema = pq.ParquetFile(path).schema_arrow
            text = [f.name for f in schema if f.name in _TEXT and (pa.types.is_string(f.type)
                                                                    or pa.types.is_large_string(f.type))]
            table = pq.ParquetFile(path, read_dictionary=text).read()
        except (pa.ArrowInvalid, OSError) as exc:
            raise RoutingInputError(path, None, f"unreadable Parquet: {exc}") from None
        first_line = None
    else:
        data = path.read_bytes()
        header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip().replace('"', "").split(",")
        types = {f.name: f.type for f in SCHEMA if f.name in header}
        table = read_table(path, data, 0, None, types, 1)
        first_line = 2
    return from_table(path, table, first_line, fmt)


def _where(first_line: int | None, i: int) -> str:
    return f"line {first_line + i}" if first_line is not None else f"row {i}"


def from_table(path: Path, table: pa.Table, first_line: int | None, fmt: str) -> list[Routes]:
    names = table.column_names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise RoutingInputError(path, "line 1" if first_line else "key schema",
                                f"lacks column(s) {', '.join(missing)}; the interchange header is "
                                f"{HEADER_PREFIX}[,{'][,'.join(OPTIONAL)}]")
    for c in ("run", "position", "phase", "layer", "rank", "expert"):
        col = table.column(c)
        if col.null_count:
            i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
            raise RoutingInputError(path, _where(first_line, i), f"empty {c}")
    # strings as codes into their distinct values: NumPy object arrays would cost a second per million rows
    run, run_labels = _codes(table.column("run"))
    if None in run_labels and (i := first_bad(run == run_labels.index(None))) is not None:
        raise RoutingInputError(path, _where(first_line, i), "empty run")
    phase, phase_labels = _codes(table.column("phase"))
    is_gen = np.array([v == "generate" for v in phase_labels], bool)[phase]
    is_prompt = np.array([v == "prompt" for v in phase_labels], bool)[phase]
    if (i := first_bad(~(is_gen | is_prompt))) is not None:
        raise RoutingInputError(path, _where(first_line, i), f"phase {phase_labels[phase[i]]!r} is neither prompt "
                                "nor generate")
    cols = {name: _ints(path, first_line, table, c, ROW_DTYPES[name]) for c, name in _KEYS.items()}
    cols["phase"] = np.where(is_gen, np.int8(GENERATE), np.int8(PROMPT))
    for name in _KEYS.values():
        if (i := first_bad(cols[name] < 0)) is not None:
            raise RoutingInputError(path, _where(first_line, i), f"negative {name.removesuffix('_id')}")
    if "weight" in names:
        cols["weight"] = table.column("weight").cast(pa.float64()).fill_null(np.nan).to_numpy()
    for name in ("token_id", "step", "pass_id"):
        if name in names:
            cols[name] = _ints(path, first_line, table, name, ROW_DTYPES[name], missing=UNKNOWN)
    if "step" in names:
        bad = is_gen & (cols["step"] < 0) | ~is_gen & (cols["step"] >= 0)
        if (i := first_bad(bad)) is not None:
            raise RoutingInputError(path, _where(first_line, i), "step must be given for generated tokens only")
    if "residency" in names:
        codes, labels = _codes(table.column("residency"))
        res = np.array([RESIDENCY_NAMES.index(v) if v in RESIDENCY_NAMES else UNKNOWN for v in labels], np.int8)
        known = np.array([v in RESIDENCY_NAMES or v in ("", None) for v in labels], bool)
        if (i := first_bad(~known[codes])) is not None:
            raise RoutingInputError(path, _where(first_line, i), f"residency {labels[codes[i]]!r}: expected "
                                    f"{', '.join(RESIDENCY_NAMES)} or empty")
        cols["recorded_residency"] = res[codes]
    if "trusted" in names:
        cols["trusted"] = table.column("trusted").cast(pa.bool_()).fill_null(True).to_numpy(zero_copy_only=False)
    runs = []
    for label, sel in _runs(run, run_labels):
        part = {k: v[sel] for k, v in cols.items()}
        if "step" not in part:
            gen = part["phase"] == GENERATE
            dec = np.unique(part["position"][gen])
            step = np.full(len(gen), -1, np.int32)
            step[gen] = np.searchsorted(dec, part["position"][gen])
            part["step"] = step
        _unique(path, part, first_line, sel)
        runs.append(Routes.from_columns(part, fmt, run_name=str(label)))
    if not runs:
        raise RoutingInputError(path, None, "no rows")
    return runs


_TEXT = ("run", "phase", "residency")
_KEYS = {"position": "position", "layer": "layer_id", "rank": "rank", "expert": "expert_id"}


def _codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """A text column as one code per row into its distinct values (None stands for null)."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col.cast(pa.string()))
    arr = col.unify_dictionaries().combine_chunks()
    # a file's dictionary may repeat a value or hold one no row uses; encode it once more
    values = pc.dictionary_encode(arr.dictionary.cast(pa.string()), null_encoding="encode")
    labels = values.dictionary.to_pylist()
    remap = values.indices.to_numpy(zero_copy_only=False)
    codes = (arr.indices.fill_null(0) if arr.null_count else arr.indices).to_numpy()
    if not np.array_equal(remap, np.arange(len(remap))):
        codes = remap[codes]
    if arr.null_count:
        codes = np.where(arr.is_null().to_numpy(zero_copy_only=False), len(labels), codes)
        labels.append(None)
    return codes, labels


def _runs(run: np.ndarray, labels: list) -> list[tuple[str, np.ndarray | slice]]:
    """(name, rows) of each run, in the order of their first rows; rows ascending."""
    if len(labels) == 1:  # one run, the usual file: nothing to group
        return [(labels[0], slice(None))] if len(run) else []
    counts = np.bincount(run, minlength=len(labels))
    used = np.flatnonzero(counts)
    if len(used) < 2:
        return [(labels[int(code)], slice(None)) for code in used]
    # a stable sort groups each run's rows, in file order; small codes sort by radix
    order = np.argsort(run.astype(np.uint16 if len(labels) <= 2**16 else np.int64), kind="stable")
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    first = order[start[used]]
    return [(labels[int(code)], order[start[code]:start[code] + counts[code]]) for code in used[np.argsort(first)]]


def _ints(path: Path, first_line: int | None, table: pa.Table, name: str, dtype,
          missing: int | None = None) -> np.ndarray:
    """An integer column as ``dtype`` when its type fits there losslessly (no copy for ``dtype``
    itself), else as int64 (``Routes`` narrows it); nulls become ``missing``."""
    col = table.column(name)
    bits = np.dtype(dtype).itemsize * 8
    fits = pa.types.is_integer(col.type) and (col.type.bit_width < bits or col.type.bit_width == bits
                                              and pa.types.is_signed_integer(col.type))
    try:
        col = col.cast(pa.from_numpy_dtype(dtype) if fits else pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        i = None
        if pa.types.is_floating(col.type):  # a fraction, NaN or infinity
            v = col.to_numpy(zero_copy_only=False)
            i = first_bad(~(np.isfinite(v) & (v == np.trunc(v))) & ~col.is_null().to_numpy(zero_copy_only=False))
        raise RoutingInputError(path, None if i is None else _where(first_line, i),
                                f"{name} is not an integer ({str(exc).splitlines()[0]})") from None
    if missing is not None and col.null_count:
        col = col.fill_null(missing)
    return col.to_numpy()


def _unique(path, part, first_line, sel):
    pos, layer, rank = part["position"], part["layer_id"], part["rank"]
    key = order_key(pos, layer, rank)
    if key is not None:
        if np.all(key[1:] > key[:-1]):
            return  # already in canonical order, so every key is new
        order = np.argsort(key, kind="stable")
        dup = np.diff(key[order]) == 0
    else:
        order = np.lexsort((rank, layer, pos))
        dup = (np.diff(pos[order]) == 0) & (np.diff(layer[order]) == 0) & (np.diff(rank[order]) == 0)
    if (i := first_bad(dup)) is not None:
        row = int(order[i + 1])
        if not isinstance(sel, slice):
            row = int(sel[row])
        raise RoutingInputError(path, _where(first_line, row), "duplicate (run, position, layer, rank)")


def write(table: pa.Table, path: Path) -> None:
    """Write an interchange table (columns of ``SCHEMA``; all-null optional columns dropped):
    Parquet for a ``.parquet`` suffix, else CSV."""
    keep = [c for c in table.column_names if c in REQUIRED or table.column(c).null_count < table.num_rows]
    table = table.select(keep)
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
    else:
        # a bare header line, as documented; values quoted where needed
        with open(path, "wb") as f:
            f.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="needed"))


def phase_label(phase: np.ndarray) -> list[str]:
    return [PHASE_NAMES[p] for p in phase.tolist()]
