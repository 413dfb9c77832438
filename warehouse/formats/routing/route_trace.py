"""BigMoeOnEdge ``--route-trace`` files (``# route_trace v1``).

Read as the recorder writes them: BigMoeOnEdge's CSV route-trace sink (``CsvRouteTraceSink``:
``on_static`` writes the preamble, ``on_rows`` one ``%d,...,%.6g|nan,...`` line per routed
expert) and ``docs/telemetry.md`` "Route trace" (github.com/Helldez/BigMoeOnEdge; read in the
version that appended the ``dropped`` column, after the 2026-07-15 route-trace bench data; no
commit of that version was listed in the index, so none is pinned). The file is::

    # route_trace v1
    # model=<path> arch=<string> n_layer=<int> n_expert=<int> n_expert_used=<int>
    # layer=<int> expert_bytes=<int> dense_bytes=<int>        (one line per layer)
    turn,phase,step,layer,slot,expert,weight,residency,expert_bytes[,dropped]

Columns are append-only within v1 and are read by name; every column past ``expert`` is
optional. ``phase`` 0 = prefill, 1 = decode; ``step`` is the absolute context position
(prefill and decode share one axis); ``slot`` is the router rank; ``weight`` is the applied
routing weight or ``nan`` when the graph exposed none; ``residency`` 0 miss, 1 hit, 2 hit on a
speculative prefetch's first touch. Each ``turn`` becomes one run. A negative step is a row
the recorder could not attribute to a position; such rows are dropped with a warning.
The per-read ``expert_bytes`` and the ``dropped`` policy flag are not kept: byte figures come
from the preamble's per-layer sizes (or a model layout). Known recorder limit: in prefill the
last MoE layer routes only the final prompt token (llama.cpp gathers ``inp_out_ids`` before
the last layer's FFN), so that layer has one prefill row per rank, at the last position.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from .csvtext import null_line, read_table
from .problems import RoutingInputError, first_bad
from .routes import GENERATE, PROMPT, LayerBytes, Routes

FORMAT = "route-trace-v1"
MAGIC = b"# route_trace v1"
REQUIRED = ("turn", "phase", "step", "layer", "slot", "expert")
_INT_COLUMNS = ("turn", "phase", "step", "layer", "slot", "expert", "residency", "expert_bytes", "dropped")
_STATIC_RE = re.compile(r"^# model=(?P<model>.*?) arch=(?P<arch>\S*) n_layer=(?P<n_layer>-?\d+) "
                        r"n_expert=(?P<n_expert>-?\d+) n_expert_used=(?P<k>-?\d+)\s*$")
_LAYER_RE = re.compile(r"^# layer=(?P<layer>\d+) expert_bytes=(?P<eb>\d+) dense_bytes=(?P<db>\d+)\s*$")


def sniff(head: bytes) -> float:
    return 1.0 if head.startswith(b"# route_trace") else 0.0  # any version: the decoder names it


def _preamble(path: Path, data: bytes) -> tuple[dict, list[tuple[int, int, int]], int]:
    static: dict | None = None
    layers: list[tuple[int, int, int]] = []
    pos, lineno = 0, 0
    while pos < len(data) and data[pos:pos + 1] == b"#":
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].decode("utf-8", errors="replace").rstrip("\r")
        lineno += 1
        if lineno == 1:
            if line.strip() != "# route_trace v1":
                raise RoutingInputError(path, "line 1", f"expected '# route_trace v1', found {line[:60]!r}")
        elif (m := _STATIC_RE.match(line)) is not None:
            static = m.groupdict()
        elif (m := _LAYER_RE.match(line)) is not None:
            layers.append((int(m["layer"]), int(m["eb"]), int(m["db"])))
        else:
            raise RoutingInputError(path, f"line {lineno}", f"unknown preamble line {line[:80]!r}")
        pos = end + 1
    if static is None:
        raise RoutingInputError(path, f"line {lineno + 1}", "the preamble lacks the '# model=... n_layer=... "
                                "n_expert=... n_expert_used=...' line")
    return static, layers, lineno


def decode(path: Path, data: bytes | None = None) -> list[Routes]:
    path = Path(path)
    data = path.read_bytes() if data is None else data
    static, layer_lines, n_pre = _preamble(path, data)
    n_layer, n_expert, k = int(static["n_layer"]), int(static["n_expert"]), int(static["k"])
    for name, v in (("n_layer", n_layer), ("n_expert", n_expert), ("n_expert_used", k)):
        if v <= 0:
            raise RoutingInputError(path, "line 2", f"{name}={v} must be positive")
    header_line = n_pre + 1
    header = data.split(b"\n", n_pre + 1)[n_pre].decode("utf-8", errors="replace").strip().split(",")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RoutingInputError(path, f"line {header_line}", f"header lacks column(s) {', '.join(missing)} "
                                f"(found {','.join(header)})")
    types = {c: pa.int64() for c in _INT_COLUMNS if c in header}
    if "weight" in header:
        types["weight"] = pa.float64()
    table = read_table(path, data, n_pre, None, types, header_line)
    first = header_line + 1  # 1-based line of data row 0
    for c in types:
        if c != "weight" and (line := null_line(table, c, first)) is not None:
            raise RoutingInputError(path, f"line {line}", f"empty {c}")
    col = {c: table.column(c).to_numpy(zero_copy_only=False) for c in header if c in types}
    _check_range(path, col, "phase", 0, 1, first)
    _check_range(path, col, "layer", 0, n_layer - 1, first)
    _check_range(path, col, "slot", 0, k - 1, first)
    _check_range(path, col, "expert", 0, n_expert - 1, first)
    if "residency" in col:
        _check_range(path, col, "residency", 0, 2, first)
    warnings = []
    keep = col["step"] >= 0
    if not keep.all():
        warnings.append(f"dropped {int((~keep).sum())} rows with a negative step (line {first + first_bad(~keep)} "
                        "first): the recorder could not attribute them to a position")
        col = {c: v[keep] for c, v in col.items()}
        rows = np.flatnonzero(keep)
    else:
        rows = None
    key_order = np.lexsort((col["slot"], col["layer"], col["step"], col["phase"], col["turn"]))
    keys = np.stack([col[c][key_order] for c in ("turn", "phase", "step", "layer", "slot")])
    dup = np.all(keys[:, 1:] == keys[:, :-1], axis=0)
    if dup.any():
        i = int(key_order[first_bad(dup) + 1])
        line = first + (int(rows[i]) if rows is not None else i)
        raise RoutingInputError(path, f"line {line}", "duplicate (turn, phase, step, layer, slot)")
    layer_bytes = None
    if layer_lines:
        lb = np.array(layer_lines, dtype=np.int64)
        layer_bytes = LayerBytes(lb[:, 0].astype(np.int32), lb[:, 1], lb[:, 2])
    runs = []
    turns = np.unique(col["turn"])
    for turn in turns.tolist():
        sel = col["turn"] == turn if len(turns) > 1 else slice(None)
        phase, pos = col["phase"][sel], col["step"][sel]
        generate = phase == 1
        # Decode step: the order of the turn's decode positions.
        dec_positions = np.unique(pos[generate])
        step = np.full(len(pos), -1, np.int32)
        step[generate] = np.searchsorted(dec_positions, pos[generate])
        both = np.intersect1d(np.unique(pos[~generate]), dec_positions)
        if len(both):
            raise RoutingInputError(path, None, f"turn {turn}: position {int(both[0])} appears in prefill and in decode")
        weight = col["weight"][sel] if "weight" in col else None
        residency = col["residency"][sel] if "residency" in col else None
        runs.append(Routes.from_columns(
            {"position": pos, "phase": np.where(generate, GENERATE, PROMPT), "step": step,
             "layer_id": col["layer"][sel], "rank": col["slot"][sel], "expert_id": col["expert"][sel],
             "weight": weight, "recorded_residency": residency},
            FORMAT, run_name=f"turn {turn}" if len(turns) > 1 else None, n_layers=n_layer, n_experts=n_expert,
            experts_used=k, model_name=Path(static["model"]).stem or None, architecture=static["arch"] or None,
            layer_bytes=layer_bytes, warnings=list(warnings)))
    if not runs:
        raise RoutingInputError(path, f"line {first}", "no routing rows after the header")
    return runs


def _check_range(path, col, name, lo, hi, first):
    v = col[name]
    bad = (v < lo) | (v > hi)
    i = first_bad(bad)
    if i is not None:
        raise RoutingInputError(path, f"line {first + i}", f"{name} {int(v[i])} outside [{lo}, {hi}]")
