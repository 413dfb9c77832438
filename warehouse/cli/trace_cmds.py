"""`moewh ingest trace`, `moewh ingest dir`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer

from ..db.lookup import resolve_model
from ..db.store import open_store
from ..errors import EXIT_FINDINGS, UsageError
from ..formats.trace import op_tables
from ..formats.trace.detect import FORMATS as TRACE_FORMATS
from ..ingest.experiments import ingest_dir
from ..ingest.traces import ingest_trace, open_source
from .app import ingest_app, state
from .output import render_table

MODEL_OPT_HELP = ("Layout to read the trace against: a model_id (or unique prefix, or model name) already in "
                  "the warehouse, or a GGUF file (ingested first if new). Gives k (experts used per token) "
                  "and the expert count, and lets DISK sources be matched to tensors.")
OP_TABLE_HELP = (f"ggml op-code table naming the operations: {', '.join(op_tables.TABLES)}. Default: "
                 f"{op_tables.DEFAULT_TABLE} for 1024-byte records and JSON, {op_tables.LEGACY_TABLE} for "
                 "256-byte records.")
EXPERTS_USED_HELP = ("k, experts selected per token, when the model does not say (memory-map layouts, no "
                     "model). Without it k is read from the trace only when its MoE records hold fewer "
                     "than 16 ids (the tracer's cap); otherwise no selections are made and the run says so.")
# Show a progress bar for traces at least this big, always on a terminal, or when MOEWH_PROGRESS=1.
PROGRESS_MIN_BYTES = 256 << 20
PROGRESS_ENV = "MOEWH_PROGRESS"
PASSES = ("scanning", "decoding records", "decoding sources", "decoding expert ids")


class _Bar:
    """A one-line progress bar on stderr. The trace is read once to scan it and once per table
    it fills, so the bar runs once per pass; a drop in ``done`` marks the next pass."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled = label, enabled
        self.phase, self.last_done, self.shown, self.used = 0, 0, 0.0, False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        new_phase = done < self.last_done
        if new_phase:
            self.phase += 1
        self.last_done, self.used = done, True
        now = time.monotonic()
        if now - self.shown < 0.2 and done < total and not new_phase:
            return
        self.shown = now
        step = PASSES[min(self.phase, len(PASSES) - 1)]
        filled = 30 * done // total
        sys.stderr.write(f"\r{self.label} {step} [{'#' * filled}{'.' * (30 - filled)}] {100 * done // total:3d}%")
        sys.stderr.flush()

    def close(self) -> None:
        if self.used:
            sys.stderr.write("\n")


def _tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tag {item!r}: expected KEY=VALUE")
        tags[key.strip()] = value.strip()
    return tags


def _model(con, spec: str | None) -> str | None:
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        from ..ingest.models import ingest_gguf

        result = ingest_gguf(con, path)
        if result.created:
            typer.echo(f"ingested model {result.model_id} ({result.model_name}) from {path}", err=True)
        return result.model_id
    if spec.lower().endswith(".gguf"):
        raise UsageError(f"--model {spec}: no such file")
    return resolve_model(con, spec)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)


def _progress_for(path: Path, label: str) -> _Bar:
    size = path.stat().st_size if path.is_file() else 0
    forced = os.environ.get(PROGRESS_ENV)
    enabled = forced == "1" if forced in ("0", "1") else sys.stderr.isatty() or size >= PROGRESS_MIN_BYTES
    return _Bar(label, enabled)


@ingest_app.command("trace")
def ingest_trace_cmd(
    path: Path = typer.Argument(..., metavar="PATH", help="tensor_trace.bin (1024- or 256-byte records), a "
                                "token-NNNNN.json file, or a folder of them (the format is read from the content)."),
    model: str = typer.Option(None, "--model", "-m", metavar="MODEL_ID|PATH.gguf", help=MODEL_OPT_HELP),
    name: str = typer.Option(None, "--name", help="Run name (default: the trace's folder or file name)."),
    experiment: str = typer.Option(None, "--experiment", help="Experiment the run belongs to."),
    domain: str = typer.Option(None, "--domain", help="Prompt domain, e.g. code or math."),
    prompt: str = typer.Option(None, "--prompt", help="Prompt text."),
    n_predict: int = typer.Option(None, "--n-predict", help="Tokens the run was asked to generate."),
    tag: list[str] = typer.Option(None, "--tag", metavar="KEY=VALUE", help="Tag the run (repeatable)."),
    op_table: str = typer.Option(None, "--op-table", metavar="NAME", help=OP_TABLE_HELP),
    experts_used: int = typer.Option(None, "--experts-used", metavar="K", help=EXPERTS_USED_HELP),
    replace: bool = typer.Option(False, "--replace", help="Ingest again even if the run is already there."),
    fmt: str = typer.Option(None, "--format", metavar="FORMAT",
                            help=f"Record layout, when detection cannot tell: {' | '.join(TRACE_FORMATS)}."),
) -> None:
    """Load one trace as one run: records, sources, expert ids, passes, selections, anomalies.

    The run_id is a digest of the used records, so the same trace (or its JSON export) again is
    recognised and nothing changes. Unused (zero) records are skipped; a sparse tail is not
    read at all. Passes start at the GET_ROWS writing inp_embd; a pass whose MoE records carry
    more ids per token than k is a warm-up and yields no selections. Odd records (ids out of
    range, duplicate or disagreeing ids, impossible counts, unknown op codes) are kept and
    listed in the anomalies table and v1.trace_quality. All rows go in as one transaction.

    \b
    Example:
      moewh ingest trace run1/tensor_trace.bin --model gpt-oss-20b --domain code --tag source=real
    """
    tags = _tags(tag)
    if fmt is not None and fmt not in TRACE_FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(TRACE_FORMATS)}")
    source = open_source(path, op_table, fmt)  # bad input is refused before the database is opened
    bar = _progress_for(source.path, path.name)
    try:
        with open_store(state.db) as store, store.transaction() as con:
            result = ingest_trace(
                con, source, model_id=_model(con, model), name=name, experiment=experiment, domain=domain,
                prompt=prompt, n_predict=n_predict, tags=tags, op_table=op_table, experts_used=experts_used,
                replace=replace, progress=bar)
    finally:
        bar.close()
    if not result.created:
        typer.echo(result.warnings[0])
        return
    _warn(result.warnings)
    typer.echo(f"ingested run {result.run_id} ({result.run_name}) from {result.source_format}: "
               f"{result.n_records:,} records, {result.n_passes} passes ({result.warmup_passes} warm-up), "
               f"{result.n_selections:,} expert selections")


@ingest_app.command("dir")
def ingest_dir_cmd(
    path: Path = typer.Argument(..., metavar="PATH", help="An experiments folder of the old pipeline (or one run folder)."),
    model: str = typer.Option(None, "--model", "-m", metavar="MODEL_ID|PATH.gguf",
                              help=MODEL_OPT_HELP + " Default: each run's memory-map.json, if any."),
    tag: list[str] = typer.Option(None, "--tag", metavar="KEY=VALUE", help="Tag every run (repeatable)."),
    op_table: str = typer.Option(None, "--op-table", metavar="NAME", help=OP_TABLE_HELP),
    experts_used: int = typer.Option(None, "--experts-used", metavar="K", help=EXPERTS_USED_HELP),
    replace: bool = typer.Option(False, "--replace", help="Ingest runs again even if already there."),
) -> None:
    """Load every run of an old experiment layout, one transaction per run.

    A run is a folder with tensor_trace.bin, or only traces/token-*.json. Experiment, domain,
    prompt and n_predict come from prompts.json (matched by the run folder's name),
    settings.json and summary.json found in the run folder or above it; a memory-map.json beside
    a run supplies its layout when --model is not given. A failed run does not stop the
    others; the exit code is 1 if any failed.

    \b
    Example:
      moewh ingest dir ~/old/experiments --experts-used 4
    """
    tags = _tags(tag)
    with open_store(state.db) as store:
        model_id = None
        if model is not None:
            with store.transaction() as con:
                model_id = _model(con, model)

        def on_run(i, n, run):
            sys.stderr.write(f"\r[{i + 1}/{n}] {run.name[:60]:<60}")
            sys.stderr.flush()

        outcomes = ingest_dir(store, path, model_id=model_id, experts_used=experts_used, op_table=op_table,
                              tags=tags, replace=replace, on_run=on_run)
    sys.stderr.write("\n")
    for note in dict.fromkeys(n for o in outcomes for n in o.run.notes):  # each file's note once
        typer.echo(f"note: {note}", err=True)
    import pyarrow as pa

    rows = {"run": [], "status": [], "run_id": [], "records": [], "passes": [], "note": []}
    for o in outcomes:
        r = o.result
        rows["run"].append(o.run.name)
        rows["status"].append(o.status)
        rows["run_id"].append(r.run_id if r else None)
        rows["records"].append(r.n_records if r else None)
        rows["passes"].append(r.n_passes if r else None)
        note = o.error or ("; ".join(r.warnings[:1]) if r and r.created and r.warnings else "")
        rows["note"].append(note[:100] + ("..." if len(note) > 100 else ""))
    typer.echo(render_table(pa.table(rows)))
    for o in outcomes:  # the table's note is cut short; every warning in full, with its fix
        if o.result and o.result.created:
            for w in o.result.warnings:
                typer.echo(f"warning: {o.run.name}: {w}", err=True)
    failed = [o for o in outcomes if o.status == "failed"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ingested", "present", "failed")}
    typer.echo(f"{counts['ingested']} ingested, {counts['present']} already there, {counts['failed']} failed")
    for o in failed:
        typer.echo(f"failed: {o.run.folder}: {o.error}", err=True)
    if failed:
        raise typer.Exit(EXIT_FINDINGS)
