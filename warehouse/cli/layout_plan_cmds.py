"""`moewh layout plan` (replay decode steps against candidate file orders of a model) and
`moewh layout repack` (write a model file in one of those orders)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import typer

from ..db.lookup import resolve_model
from ..db.sqlfiles import load_sql
from ..db.store import open_store
from ..errors import UsageError
from ..layout.plan import ORDERS, Params
from ..layout.plan_store import plan_model, store_plan, trained_permutations
from ..layout.repack import REPACK_ORDERS, repack
from .app import layout_app, state
from .output import check_format, emit

_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str, option: str) -> int:
    """Bytes of '4096', '4KiB', '128k', '1MiB' (binary units)."""
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS:
        raise UsageError(f"{option} {text!r}: give bytes, e.g. 4096, 4KiB, 128KiB or 1MiB")
    return int(m.group(1)) * _UNITS[unit]


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@layout_app.command("plan")
def layout_plan(
    runs: list[str] = typer.Argument(None, metavar="[RUN]...",
                                     help="Runs to replay (id, unique name or id prefix); default: every run of the model."),
    model: str = typer.Option(None, "--model", "-m", help="Model (id, id prefix or name); optional with one model."),
    domain: str = typer.Option(None, "--domain", help="Replay the model's runs of this domain (instead of RUNs)."),
    order: list[str] = typer.Option([",".join(ORDERS)], "--order",
                                    help=f"Orders to compare, comma-separated or repeated: {', '.join(ORDERS)}."),
    page: str = typer.Option("4KiB", "--page", help="Page size (4096, 4KiB, 16KiB, ...)."),
    readahead: str = typer.Option("128KiB", "--readahead", help="Readahead window size."),
    merge_gap: str = typer.Option("4KiB", "--merge-gap", help="Touched rows at most this far apart form one read extent."),
    train: list[str] = typer.Option([], "--train", metavar="RUN",
                                    help="Runs hot-first and coact learn from (repeat or comma-separate); "
                                         "default: the replayed runs (results then in-sample)."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json."),
) -> None:
    """Predict what each candidate order of a model's bytes costs per decode step, and store the plan.

    For every decode step of the runs (the bytes v1.pass_bytes counts: dense tensors read and
    the selected experts' slices), places the layout rows in each order and counts the read
    extents (maximal runs of touched bytes, rows at most --merge-gap apart merged), pages
    (--page) and readahead windows (--readahead) touched; prints mean and p95 per run and
    order, and the extents relative to today's file order. Orders: file (today's), layer
    (block by block), expert-major (each expert's gate/up/down slices together), hot-first
    (experts by descending activations), coact (greedy chain of often co-selected experts);
    the last two learn from --train runs, and results on a training run are marked in_sample.
    The plan is stored: v1.layout_plans, v1.layout_plan_steps, v1.layout_plan_offsets,
    v1.layout_plan_permutations, and the dashboard page /layout_plan.

    \b
    Examples:
      moewh layout plan --model gpt-oss-20b
      moewh layout plan --model gpt-oss-20b --domain code --order file,layer,coact --page 16KiB
      moewh layout plan synthetic-math synthetic-chat --train synthetic-code --format csv
    """
    if fmt == "parquet":
        raise UsageError("--format: layout plan prints table, csv or json")
    check_format(fmt)
    if runs and domain:
        raise UsageError("give RUNs or --domain, not both")
    orders = list(dict.fromkeys(_split(order)))
    try:
        params = Params(page=parse_size(page, "--page"), readahead=parse_size(readahead, "--readahead"),
                        merge_gap=parse_size(merge_gap, "--merge-gap"))
    except ValueError as exc:
        raise UsageError(f"--page/--readahead/--merge-gap: {exc}") from None
    with open_store(state.db) as store:
        model_id = resolve_model(store.con, model)
        planned = plan_model(store.con, model_id, runs or None, domain, orders, params, _split(train) or None)
        with store.transaction() as con:
            store_plan(con, planned)
        table = store.con.sql(load_sql("layout/plan_report.sql"),
                              params={"plan_id": planned.plan_id, "orders": orders}).to_arrow_table()
    trained = ", ".join(planned.train) if any(o in ("hot-first", "coact") for o in orders) else "-"
    print(f"plan {planned.plan_id}: model {planned.model_name} ({model_id}), {len(planned.scored)} runs, "
          f"{planned.steps.n_steps} decode steps, orders {', '.join(orders)}; page {params.page}, readahead "
          f"{params.readahead}, merge gap {params.merge_gap} bytes; trained on {trained}", file=sys.stderr)
    emit(table, fmt)


class _Bar:
    """One line on stderr: writing, then verifying."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled, self.shown, self.used, self.phase = label, enabled, 0.0, False, ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        now = time.monotonic()
        if phase == self.phase and now - self.shown < 0.2 and done < total:
            return
        if self.used and phase != self.phase:
            sys.stderr.write("\n")
        self.phase, self.shown, self.used = phase, now, True
        filled = 30 * done // total
        sys.stderr.write(f"\r{self.label} {phase:7s} [{'#' * filled}{'.' * (30 - filled)}] {100 * done // total:3d}%")
        sys.stderr.flush()

    def close(self) -> None:
        if self.used:
            sys.stderr.write("\n")


@layout_app.command("repack")
def layout_repack(
    in_path: Path = typer.Argument(..., metavar="IN.gguf", help="GGUF model to rewrite (read, never changed)."),
    out_path: Path = typer.Argument(..., metavar="OUT.gguf", help="File to write (temporary name, then renamed)."),
    order: str = typer.Option(..., "--order", help=f"{' | '.join(REPACK_ORDERS)} (expert-major is refused, see below)."),
    train: list[str] = typer.Option([], "--train", metavar="RUN",
                                    help="Runs hot-first and coact learn from (repeat or comma-separate); default: "
                                         "every run of the model."),
    model: str = typer.Option(None, "--model", "-m",
                              help="Model whose runs train the expert orders; default: IN's own, if ingested."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."),
) -> None:
    """Write IN's tensors in another order into OUT: the same model, other byte positions.

    layer moves whole tensors into block order (block 0's tensors, then block 1's, ...).
    hot-first and coact also permute each block's experts (by activations, or a greedy chain
    of co-selections, in the training runs of the warehouse): the expert dimension of every
    ffn_{gate,up,down}_exps weight and bias and the router (ffn_gate_inp) rows and bias move
    together, so the model computes the same function; the permutation is recorded as
    moewh.expert_permutation.N, and ingest maps a trace of OUT back to the original expert
    ids. Quantised data moves as bytes. expert-major is refused: gate, up and down are
    separate 3-D tensors, so one expert's slices cannot sit side by side. Data is streamed
    (memory stays at a few chunks), every tensor's checksum is verified after writing, and
    a failure leaves no OUT.

    \b
    Examples:
      moewh layout repack model.gguf model-layer.gguf --order layer
      moewh layout repack model.gguf model-coact.gguf --order coact --train synthetic-code
    """
    if not in_path.is_file():
        raise UsageError(f"{in_path}: no such file")
    if out_path.exists() and not force:
        raise UsageError(f"{out_path}: exists; give --force to replace it")
    if not out_path.parent.is_dir():
        raise UsageError(f"{out_path.parent}: no such folder")
    perms = None
    if order in ("hot-first", "coact"):
        from ..ingest.models import decode_gguf

        decoded = decode_gguf(in_path)
        with open_store(state.db, read_only=True) as store:
            model_id = resolve_model(store.con, model) if model else decoded.model_id
            if not model and store.con.execute(load_sql("layout/plan_model.sql"),
                                               {"model_id": model_id}).fetchone() is None:
                raise UsageError(f"{in_path} is not in the warehouse; ingest it (`moewh ingest model`) and its "
                                 "traces, or name the model whose runs to learn from with --model")
            trained, train_ids, layout = trained_permutations(store.con, model_id, _split(train) or None)
        shape = (decoded.model["n_layers"], decoded.model["n_experts"])
        if (layout.n_layers, layout.n_experts) != shape:
            raise UsageError(f"model {model_id} has {layout.n_layers} blocks x {layout.n_experts} experts, "
                             f"{in_path} has {shape[0]} x {shape[1]}")
        perms = trained[order]
        print(f"{order}: expert order learned from {len(train_ids)} runs of model {model_id}", file=sys.stderr)
    forced = os.environ.get("MOEWH_PROGRESS")
    enabled = progress if progress is not None else (forced == "1" if forced in ("0", "1") else sys.stderr.isatty())
    bar = _Bar(out_path.name, enabled)
    started = time.monotonic()
    try:
        result = repack(in_path, out_path, order, perms, bar)
    finally:
        bar.close()
    seconds = time.monotonic() - started
    typer.echo(f"wrote {out_path} ({order}): {result.n_tensors} tensors, {result.n_moved} moved, "
               f"{result.n_permuted} with experts permuted, {result.data_bytes:,} data bytes in {seconds:.1f} s; "
               "every tensor's checksum verified")
