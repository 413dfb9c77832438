"""Experiment folders of the old pipeline (trace-format spec section 6), many runs at once.

A run is a folder holding ``tensor_trace.bin``, or only ``traces/token-*.json``. Around it:
``prompts.json`` (``{experiment_name, prompts: [{id, domain, prompt, n_predict}]}``, matched by
the run folder's name), ``settings.json`` (``{experiment: {prompt, tokens_to_generate, ...}}``)
and ``summary.json`` (``{experiment, domains: [{id, tokens, ...}]}``) in the run folder or any
folder above it up to the root given. A ``memory-map.json`` beside a run supplies its layout
when no model is given. Each run is ingested in its own transaction, so one bad run does not
stop or spoil the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..db.store import Store
from ..errors import InputError, WarehouseError
from ..formats.trace.token_json import token_files
from .traces import RunResult, ingest_trace, open_source

META_FILES = ("prompts.json", "settings.json", "summary.json")


@dataclass
class RunFolder:
    folder: Path
    trace: Path  # tensor_trace.bin, or the traces/ folder of token files
    name: str
    experiment: str | None = None
    domain: str | None = None
    prompt: str | None = None
    n_predict: int | None = None
    layout: Path | None = None  # memory-map.json beside the run
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    run: RunFolder
    status: str  # ingested | present | failed
    result: RunResult | None = None
    error: str | None = None


def _is_run(folder: Path) -> Path | None:
    trace = folder / "tensor_trace.bin"
    if trace.is_file():
        return trace
    traces = folder / "traces"
    if traces.is_dir() and token_files(traces):
        return traces
    return None


def _load_json(path: Path, notes: list[str]):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        notes.append(f"{path}: ignored, not readable JSON ({exc})")
        return None


# How far above the given root to look for the tool folder's prompts.json / settings.json:
# experiments/<experiment>/<prompt-id>/ may be given as any of its three levels.
META_LEVELS_ABOVE_ROOT = 3


def _meta_files(folder: Path, root: Path) -> dict[str, list[Path]]:
    """Metadata files from the run folder upwards (nearest first), to a few levels above
    ``root``: the tool folder holding prompts.json sits beside ``experiments/``."""
    found: dict[str, list[Path]] = {name: [] for name in META_FILES}
    folder = folder.resolve()
    chain = [folder, *folder.parents]
    above = list(root.resolve().parents)
    stop = above[min(META_LEVELS_ABOVE_ROOT, len(above)) - 1] if above else root
    for d in chain:
        for name in META_FILES:
            if (d / name).is_file():
                found[name].append(d / name)
        if d == stop:
            break
    return found


def _describe(folder: Path, trace: Path, root: Path) -> RunFolder:
    run = RunFolder(folder=folder, trace=trace, name=folder.name)
    meta = _meta_files(folder, root)
    for path in meta["prompts.json"]:
        doc = _load_json(path, run.notes)
        if not isinstance(doc, dict):
            continue
        for p in doc.get("prompts") or []:
            if isinstance(p, dict) and str(p.get("id")) == folder.name:
                run.experiment = run.experiment or doc.get("experiment_name")
                run.domain = run.domain or p.get("domain")
                run.prompt = run.prompt or p.get("prompt")
                if run.n_predict is None and isinstance(p.get("n_predict"), int):
                    run.n_predict = p["n_predict"]
                break
    for path in meta["settings.json"]:
        doc = _load_json(path, run.notes)
        exp = doc.get("experiment") if isinstance(doc, dict) else None
        if isinstance(exp, dict):
            run.prompt = run.prompt or exp.get("prompt")
            if run.n_predict is None and isinstance(exp.get("tokens_to_generate"), int):
                run.n_predict = exp["tokens_to_generate"]
    for path in meta["summary.json"]:
        doc = _load_json(path, run.notes)
        if not isinstance(doc, dict):
            continue
        run.experiment = run.experiment or doc.get("experiment")
        for d in doc.get("domains") or []:
            if isinstance(d, dict) and str(d.get("id")) == folder.name:
                if run.n_predict is None and isinstance(d.get("tokens"), int):
                    run.n_predict = d["tokens"]
    if run.experiment is None and folder != root:
        run.experiment = folder.parent.name
    layout = folder / "memory-map.json"
    run.layout = layout if layout.is_file() else None
    if run.experiment:
        run.name = f"{run.experiment}/{folder.name}"
    return run


def find_runs(root: str | os.PathLike) -> list[RunFolder]:
    """Every run folder under ``root`` (``root`` itself may be one), in path order."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    runs = []
    for dirpath, dirnames, _ in os.walk(root):
        folder = Path(dirpath)
        trace = _is_run(folder)
        if trace is not None:
            runs.append(_describe(folder, trace, root))
            dirnames[:] = [d for d in dirnames if d != "traces"]
        dirnames.sort()
    return sorted(runs, key=lambda r: str(r.folder))


def ingest_dir(
    store: Store,
    root: str | os.PathLike,
    *,
    model_id: str | None = None,
    experts_used: int | None = None,
    op_table: str | None = None,
    tags: dict[str, str] | None = None,
    replace: bool = False,
    on_run: Callable[[int, int, RunFolder], None] | None = None,
    progress=None,
) -> list[Outcome]:
    """Ingest every run under ``root``, one transaction per run; failures are collected."""
    from .models import ingest_layout_file

    runs = find_runs(root)
    if not runs:
        raise InputError(root, "no runs found (folders with tensor_trace.bin or traces/token-*.json)")
    outcomes = []
    for i, run in enumerate(runs):
        if on_run:
            on_run(i, len(runs), run)
        try:
            source = open_source(run.trace, op_table)
            with store.transaction() as con:
                mid, layout_note = model_id, None
                if mid is None and run.layout is not None:
                    layout = ingest_layout_file(con, run.layout)
                    mid = layout.model_id
                    if layout.matched:
                        layout_note = (f"{run.layout.name} describes model {layout.model_name} ({mid}), "
                                       "already in the warehouse: read against it")
                result = ingest_trace(
                    con, source, model_id=mid, name=run.name, experiment=run.experiment, domain=run.domain,
                    prompt=run.prompt, n_predict=run.n_predict, tags=tags, op_table=op_table,
                    experts_used=experts_used, replace=replace, progress=progress,
                )
            if layout_note and result.created:
                result.warnings.insert(0, layout_note)
            outcomes.append(Outcome(run, "ingested" if result.created else "present", result))
        except (WarehouseError, duckdb.Error, OSError) as exc:
            outcomes.append(Outcome(run, "failed", error=str(exc)))
    return outcomes
