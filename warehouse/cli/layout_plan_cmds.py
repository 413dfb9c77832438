"""`moewh layout plan`: replay decode steps against candidate file orders of a model."""

from __future__ import annotations

import re
import sys

import typer

from ..errors import UsageError
from ..layout.plan import ORDERS, Params
from ..layout.plan_store import plan_model, store_plan
from ..lookup import resolve_model
from ..output import check_format, emit
from ..sqlfiles import load_sql
from ..store import open_store
from .app import layout_app, state

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
