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

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..db.store import Store
from ..errors import InputError, WarehouseError
from ..formats.jsonfile import read_json
from ..formats.limits import INT32_MAX
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
    if os.path.lexists(trace):  # a FIFO or a broken link here is refused when the run is opened
        return trace
    traces = folder / "traces"
    if traces.is_dir() and token_files(traces):
        return traces
    return None


def _load_json(path: Path, notes: list[str], shape: dict[str, type]):
    """The document of a metadata file, or None (with a note) when it is unreadable or when its
    top level or one of the ``shape`` keys has the wrong type; the other runs go on."""
    try:
        doc = read_json(path, "metadata file")
    except InputError as exc:
        notes.append(f"{exc}; file ignored")
        return None
    if not isinstance(doc, dict):
        notes.append(f"{path}: ignored, the top level is {_kind(doc)}, not an object")
        return None
    for key, kind in shape.items():
        if doc.get(key) is not None and not isinstance(doc[key], kind):
            notes.append(f"{path}: ignored, {key!r} is {_kind(doc[key])}, not {_kind(kind())}")
            return None
    return doc


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _text(doc: dict, key: str, path: Path, notes: list[str]) -> str | None:
    value = doc.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    notes.append(f"{path}: {key!r} is {_kind(value)}, not a string; ignored")
    return None


def _count(doc: dict, key: str, path: Path, notes: list[str]) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32_MAX:
        return value
    shown = _kind(value) if not isinstance(value, int) or isinstance(value, bool) else f"{value}, out of range"
    notes.append(f"{path}: {key!r} is {shown}, not a token count; ignored")
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
            if os.path.lexists(d / name) and not (d / name).is_dir():
                found[name].append(d / name)
        if d == stop:
            break
    return found


def _describe(folder: Path, trace: Path, root: Path) -> RunFolder:
    run = RunFolder(folder=folder, trace=trace, name=folder.name)
    meta = _meta_files(folder, root)
    notes = run.notes
    for path in meta["prompts.json"]:
        doc = _load_json(path, notes, {"prompts": list})
        if doc is None:
            continue
        for p in doc.get("prompts") or []:
            if isinstance(p, dict) and str(p.get("id")) == folder.name:
                run.experiment = run.experiment or _text(doc, "experiment_name", path, notes)
                run.domain = run.domain or _text(p, "domain", path, notes)
                run.prompt = run.prompt or _text(p, "prompt", path, notes)
                if run.n_predict is None:
                    run.n_predict = _count(p, "n_predict", path, notes)
                break
    for path in meta["settings.json"]:
        doc = _load_json(path, notes, {"experiment": dict})
        exp = doc.get("experiment") if doc is not None else None
        if exp:
            run.prompt = run.prompt or _text(exp, "prompt", path, notes)
            if run.n_predict is None:
                run.n_predict = _count(exp, "tokens_to_generate", path, notes)
    for path in meta["summary.json"]:
        doc = _load_json(path, notes, {"domains": list})
        if doc is None:
            continue
        run.experiment = run.experiment or _text(doc, "experiment", path, notes)
        for d in doc.get("domains") or []:
            if isinstance(d, dict) and str(d.get("id")) == folder.name:
                if run.n_predict is None:
                    run.n_predict = _count(d, "tokens", path, notes)
    if run.experiment is None and folder != root:
        run.experiment = folder.parent.name
    layout = folder / "memory-map.json"
    run.layout = layout if os.path.lexists(layout) else None
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
