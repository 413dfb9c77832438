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
from .routes import GENERATE, PHASE_NAMES, PROMPT, RESIDENCY_NAMES, Routes

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
            table = pq.ParquetFile(path).read()  # not read_table: its dataset layer imports pandas
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
    # strings through Arrow compute: NumPy object arrays would cost a second per million rows
    run_codes = pc.dictionary_encode(table.column("run").cast(pa.string())).combine_chunks()
    run = run_codes.indices.to_numpy(zero_copy_only=False)
    run_labels = run_codes.dictionary.to_pylist()
    phase = table.column("phase").cast(pa.string())
    is_gen = pc.equal(phase, "generate").to_numpy(zero_copy_only=False)
    is_prompt = pc.equal(phase, "prompt").to_numpy(zero_copy_only=False)
    if (i := first_bad(~(is_gen | is_prompt))) is not None:
        raise RoutingInputError(path, _where(first_line, i), f"phase {phase[i].as_py()!r} is neither prompt nor "
                                "generate")
    cols = {"position": _ints(table, "position"), "layer_id": _ints(table, "layer"), "rank": _ints(table, "rank"),
            "expert_id": _ints(table, "expert"), "phase": np.where(is_gen, GENERATE, PROMPT)}
    for name in ("position", "layer_id", "rank", "expert_id"):
        if (i := first_bad(cols[name] < 0)) is not None:
            raise RoutingInputError(path, _where(first_line, i), f"negative {name.removesuffix('_id')}")
    if "weight" in names:
        cols["weight"] = table.column("weight").cast(pa.float64()).fill_null(np.nan).to_numpy()
    for name in ("token_id", "step", "pass_id"):
        if name in names:
            cols[name] = table.column(name).cast(pa.int64()).fill_null(-1).to_numpy()
    if "step" in names:
        bad = is_gen & (cols["step"] < 0) | ~is_gen & (cols["step"] >= 0)
        if (i := first_bad(bad)) is not None:
            raise RoutingInputError(path, _where(first_line, i), "step must be given for generated tokens only")
    if "residency" in names:
        text = table.column("residency").cast(pa.string())
        res = pc.fill_null(pc.index_in(text, pa.array(list(RESIDENCY_NAMES))), -1).to_numpy().astype(np.int8)
        known = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False) | (res >= 0)
        if (i := first_bad(~known)) is not None:
            raise RoutingInputError(path, _where(first_line, i), f"residency {text[i].as_py()!r}: expected "
                                    f"{', '.join(RESIDENCY_NAMES)} or empty")
        cols["recorded_residency"] = res
    if "trusted" in names:
        cols["trusted"] = table.column("trusted").cast(pa.bool_()).fill_null(True).to_numpy(zero_copy_only=False)
    runs = []
    codes, first = np.unique(run, return_index=True)
    for code in codes[np.argsort(first)]:
        label = run_labels[int(code)]
        sel = np.flatnonzero(run == code) if len(codes) > 1 else slice(None)
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


def _ints(table, name):
    return table.column(name).cast(pa.int64()).to_numpy()


def _unique(path, part, first_line, sel):
    pos, layer, rank = part["position"], part["layer_id"], part["rank"]
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
