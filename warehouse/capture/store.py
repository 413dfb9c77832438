"""A ``Capture`` into the warehouse, inside the caller's transaction, and out to files.

One run per capture:

- the model's layout (``ingest_gguf``, a no-op when the model is already there);
- the op records through the trace ingest (records, sources, record_experts, passes,
  selections, anomalies: what the 1024-byte tracer's runs hold), read from memory by
  ``CaptureSource`` instead of a file;
- the token-level routing (``token_routes``, ``tokens``: every token's experts and weights)
  through the routing ingest.

The run_id is a digest of what the run says, not of when it ran: the model's fingerprint, the
prompt, the sampling settings, the token ids and every routed expert id and weight (float32).
Capturing again with the same seed gives the same run_id, and the warehouse keeps one copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from ..formats.routing.routes import Routes, Tokens
from ..ingest.models import ingest_gguf
from ..ingest.traces import RUN_ID_CHARS, TraceSource, _Scanned, ingest_trace
from . import records as op_records
from .runner import Capture

SOURCE_FORMAT = "llama-cpp-python-capture"


def run_digest(cap: Capture, model_id: str) -> str:
    """The content digest that names the run (see the module doc)."""
    h = hashlib.sha1()
    settings = {k: cap.facts[k] for k in ("sampler", "seed", "temp", "n_batch", "n_ctx") if k in cap.facts}
    h.update(f"capture v1\n{model_id}\n{cap.prompt}\n{sorted(settings.items())}\n".encode())
    for arr in (cap.token_id.astype("<i8"), cap.phase.astype("i1"), cap.route_layer.astype("<i4"),
                cap.route_expert.astype("<i4"), cap.route_weight.astype("<f4")):
        h.update(np.ascontiguousarray(arr).view(np.uint8))
    return h.hexdigest()


class CaptureSource(TraceSource):
    """A capture's op records as a trace source: what ``ingest_trace`` reads from a file."""

    format = SOURCE_FORMAT
    default_op_table = op_records.OP_TABLE

    def __init__(self, cap: Capture, digest: str):
        if cap.records is None or not len(cap.records):
            raise ValueError("the capture has no op records")
        self.records, self.digest = cap.records, digest
        self.path = self.given = cap.model_path

    def scan(self, progress):
        return _Scanned(digest=self.digest, n_used=len(self.records), file_size=None)

    def chunks(self, progress):
        yield np.arange(len(self.records), dtype=np.int64), self.records


def to_routes(cap: Capture) -> Routes:
    """The capture's routing as the routing ingest's ``Routes`` (one row per token, layer, rank)."""
    idx = cap.route_position
    routes = Routes.from_columns({
        "position": idx,
        "token_id": cap.token_id[idx],
        "phase": cap.phase[idx],
        "step": cap.step[idx],
        "pass_id": cap.pass_id[idx],
        "layer_id": cap.route_layer,
        "rank": cap.route_rank,
        "expert_id": cap.route_expert,
        "weight": cap.route_weight,
    }, SOURCE_FORMAT, n_layers=cap.n_layers, n_experts=cap.n_experts, experts_used=cap.k,
        model_name=cap.model_path.name, architecture=cap.architecture)
    routes.tokens = Tokens(cap.position, cap.token_id, cap.phase, cap.step, cap.pass_id, list(cap.piece))
    return routes


@dataclass
class StoredRun:
    run_id: str
    created: bool
    run_name: str
    model_id: str
    model_created: bool
    n_records: int = 0
    n_passes: int = 0
    n_routes: int = 0
    warnings: list[str] = field(default_factory=list)


def default_name(cap: Capture, run_id: str) -> str:
    return f"{cap.model_path.stem}-{run_id[:8]}"


def store_capture(con: duckdb.DuckDBPyConnection, cap: Capture, *, name: str | None = None,
                  experiment: str | None = None, domain: str | None = None, n_predict: int | None = None,
                  tags: dict[str, str] | None = None, replace: bool = False) -> StoredRun:
    """Write one capture as one run (layout if missing, op records, token-level routing)."""
    from ..ingest.routing import ingest_routes

    model = ingest_gguf(con, cap.model_path)
    run_id = run_digest(cap, model.model_id)[:RUN_ID_CHARS]
    run_name = name or default_name(cap, run_id)
    all_tags = {**cap.facts, **(tags or {})}
    result = ingest_trace(
        con, CaptureSource(cap, run_id), model_id=model.model_id, name=run_name, experiment=experiment,
        domain=domain, prompt=cap.prompt, n_predict=n_predict, tags=all_tags, replace=replace)
    stored = StoredRun(result.run_id, result.created, result.run_name, model.model_id, model.created,
                       result.n_records, result.n_passes, warnings=list(result.warnings))
    if not result.created:
        return stored
    routed = ingest_routes(con, to_routes(cap), model_id=model.model_id, name=result.run_name,
                           attach_to=result.run_id)
    stored.n_routes = routed.n_rows
    stored.warnings += routed.warnings
    return stored


def write_trace_out(con: duckdb.DuckDBPyConnection, folder: str | Path, cap: Capture, run_id: str) -> list[Path]:
    """``--trace-out``: ``tensor_trace.bin`` (the op records) and ``routes.csv`` (the stored run's
    token routes in the interchange format, as ``moewh export routes`` writes them)."""
    from ..ingest.routing import export_routes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if cap.records is not None:
        written.append(op_records.write_trace(folder / "tensor_trace.bin", cap.records))
    export_routes(con, [run_id], folder / "routes.csv")
    written.append(folder / "routes.csv")
    return written
