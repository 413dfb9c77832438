"""`moewh simulate`: expert cache policies and prefetch predictors replayed over the runs."""

from __future__ import annotations

import typer

from ..db.store import open_store
from ..errors import UsageError
from ..simulate.engine import POLICIES, SCOPES
from ..simulate.runner import cache_table, predictor_table, simulate_cache, simulate_predictors
from ..simulate.units import parse_size
from .app import app, state
from .output import emit

FORMATS = ("table", "csv", "json")


def _list(values: list[str] | None) -> list[str]:
    """Comma-separated and repeated option values, in order."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _budgets(values: list[str] | None) -> list[int] | None:
    if not values:
        return None
    out = []
    for v in _list(values):
        try:
            size = parse_size(v)
        except ValueError as exc:
            raise UsageError(f"--budget: {exc}") from None
        if size <= 0:
            raise UsageError(f"--budget {v}: a budget is more than 0 bytes")
        out.append(size)
    return out


def _slots(values: list[str] | None) -> list[int] | None:
    if not values:
        return None
    out = []
    for v in _list(values):
        if not v.isdigit() or int(v) <= 0:
            raise UsageError(f"--slots {v}: slots are whole numbers of items, at least 1")
        out.append(int(v))
    return out


@app.command()
def simulate(
    runs: list[str] = typer.Argument(None, metavar="RUN",
                                     help="Runs to simulate (id, unique name or id prefix); default: every run."),
    domain: str = typer.Option(None, "--domain", help="Only the runs of this domain."),
    experiment: str = typer.Option(None, "--experiment", help="Only the runs of this experiment."),
    policy: list[str] = typer.Option(None, "--policy", metavar="P,P,...",
                                     help=f"Policies among {', '.join(POLICIES)} (default: all five)."),
    budget: list[str] = typer.Option(None, "--budget", metavar="SIZE,SIZE,...",
                                     help="Cache sizes in bytes: 512MiB, 2GiB, 1.5GB, 4096, ..."),
    slots: list[str] = typer.Option(None, "--slots", metavar="N,N,...", help="Cache sizes in items (experts)."),
    scope: str = typer.Option("global", "--scope", help="global: one cache; layer: one cache per layer, "
                              "the capacity split evenly."),
    train: list[str] = typer.Option(None, "--train", metavar="RUN",
                                    help="Runs static and the predictors learn from (repeatable or "
                                    "comma-separated); default: each run itself (marked in-sample)."),
    train_domain: str = typer.Option(None, "--train-domain", metavar="D",
                                     help="Learn from every run of domain D (of the same model)."),
    predictors: bool = typer.Option(False, "--predictors",
                                    help="Also score the prefetch predictors (prev-token, static, transition, "
                                    "oracle); alone, without --budget or --slots, only them."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json."),
) -> None:
    """Replay the runs' expert selections through a RAM/VRAM expert cache and store the results.

    An item is one expert of one layer (its gate/up/down slices and split biases); the accesses
    are the decode steps in order, layers ascending, the selected experts in rank order. lru,
    fifo and lfu evict the least recently used, earliest inserted and least often used item;
    static keeps the items most activated in training; belady evicts the item used farthest in
    the future, the optimum: every row carries belady's hits and the regret to them. Results
    go to v1.cache_results and v1.cache_layer_results (predictors: v1.predictor_results);
    simulating the same thing again replaces its rows.

    The examples run on the demo (`moewh ingest demo`).

    \b
    Example:
      moewh simulate --budget 512MiB,2GiB,8GiB
    Example:
      moewh simulate synthetic-code --slots 48,96,192,384 --scope layer --policy lru,belady
    Example:
      moewh simulate --domain math --budget 3GiB --train-domain code --format csv
    Example:
      moewh simulate --predictors --train-domain code
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if scope not in SCOPES:
        raise UsageError(f"--scope {scope}: choose one of {', '.join(SCOPES)}")
    policies = tuple(dict.fromkeys(_list(policy))) or POLICIES
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise UsageError(f"--policy {unknown[0]}: choose among {', '.join(POLICIES)}")
    budgets, slot_counts = _budgets(budget), _slots(slots)
    if budgets and slot_counts:
        raise UsageError("give --budget or --slots, not both")
    cache = budgets is not None or slot_counts is not None
    if not cache and not predictors:
        raise UsageError("give --budget SIZES or --slots N (or --predictors)")
    if cache and predictors and fmt != "table":
        raise UsageError(f"--format {fmt} prints one table: run --predictors on its own")
    train_runs = _list(train) or None
    open_store(state.db, read_only=True).close()  # no warehouse yet: say so instead of creating one
    with open_store(state.db) as store:
        tables = []
        if cache:
            outcome = simulate_cache(store, runs or None, domain=domain, experiment=experiment, policies=policies,
                                     budgets=budgets, slots=slot_counts, scope=scope, train=train_runs,
                                     train_domain=train_domain)
            for msg in outcome.skipped:
                typer.echo(f"warning: {msg}", err=True)
            tables.append(cache_table(store.con, outcome, policies, budgets or slot_counts))
        if predictors:
            outcome = simulate_predictors(store, runs or None, domain=domain, experiment=experiment,
                                          train=train_runs, train_domain=train_domain)
            tables.append(predictor_table(store.con, outcome))
    for i, table in enumerate(tables):
        if i:
            typer.echo("")
        emit(table, fmt)
