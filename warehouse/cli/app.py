"""The Typer application: global options, sub-command groups and error handling.

Commands live in the sibling modules, one per topic, and stay thin: they parse options,
call the library, and print.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from ..errors import EXIT_BAD_INPUT, WarehouseError
from ..paths import DEFAULT_DB

HELP = f"""MoE Trace Warehouse: mixture-of-experts traces and GGUF expert layouts in DuckDB.

Load GGUF layouts and tracer output into one DuckDB file, then ask it questions with SQL
over the documented views in schema v1 (`moewh views list`).

\b
  moewh ingest demo    # GPT-OSS-20B layout, its real trace, synthetic runs
  moewh query "select * from v1.expert_hotness where rank_in_layer <= 3"

The database is --db PATH, else $MOEWH_DB, else ./{DEFAULT_DB}.

Exit codes: 0 success; 1 the command ran and found problems (layout overlaps, failed runs in
a batch); 2 bad input or usage (unreadable, hostile or special file, bad or refused SQL); 3
database or environment (locked, missing, written by a newer version, disk full, read-only).
"""

def _listed(*order: str) -> type[TyperGroup]:
    """A command group whose --help lists commands in the order a user meets them, not in the
    order the modules that define them happen to be imported; others follow by name."""
    rank = {name: i for i, name in enumerate(order)}

    class Listed(TyperGroup):
        def list_commands(self, ctx) -> list[str]:
            return sorted(super().list_commands(ctx), key=lambda n: (rank.get(n, len(rank)), n))

    return Listed


app = typer.Typer(cls=_listed("ingest", "query", "views", "runs", "simulate", "capture", "layout", "check", "settings", "export", "spark", "dashboard"), help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
ingest_app = typer.Typer(cls=_listed("demo", "model", "layout", "trace", "dir", "routing", "parquet"), help="Load files into the warehouse (models, layouts, traces, experiment folders).",
                         no_args_is_help=True)
views_app = typer.Typer(cls=_listed("list", "show", "sql"), help="The documented SQL views: list them, show one, transpile the set.", no_args_is_help=True)
runs_app = typer.Typer(cls=_listed("list", "rm"), help="Trace runs in the warehouse.", no_args_is_help=True)
layout_app = typer.Typer(cls=_listed("plan", "repack", "export"), help="Tensor layouts of ingested models.", no_args_is_help=True)
check_app = typer.Typer(cls=_listed("layout"), help="Consistency checks that exit 1 when they find a problem.", no_args_is_help=True)
settings_app = typer.Typer(cls=_listed("list", "set"), help="Tunable parameters of the analysis views (e.g. the file-map bucket size).",
                           no_args_is_help=True)
export_app = typer.Typer(cls=_listed("parquet", "routes", "ddl"), help="Write the warehouse out in other formats.", no_args_is_help=True)

app.add_typer(ingest_app, name="ingest")
app.add_typer(views_app, name="views")
app.add_typer(runs_app, name="runs")
app.add_typer(layout_app, name="layout")
app.add_typer(check_app, name="check")
app.add_typer(export_app, name="export")
app.add_typer(settings_app, name="settings")


class State:
    db: str = DEFAULT_DB


state = State()


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__
        from ..db.store import schema_version

        typer.echo(f"moewh {__version__} (schema {schema_version():03d})")
        raise typer.Exit()


@app.callback()
def _global(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="MOEWH_DB", metavar="PATH",
                           help="DuckDB warehouse file (env MOEWH_DB).", show_default=True),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and schema version, then exit."),
) -> None:
    state.db = db


def _db_first(argv: list[str]) -> list[str]:
    """``--db PATH`` is one global option, declared once, yet users type it after the command
    too (``moewh dashboard --db x.duckdb``): move it to the front, where Click reads it."""
    out, moved = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        if arg == "--db" and i + 1 < len(argv):
            moved += argv[i:i + 2]
            i += 2
            continue
        if arg.startswith("--db="):
            moved.append(arg)
        else:
            out.append(arg)
        i += 1
    return moved + out


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of raising (used by main and tests)."""
    try:
        argv = _db_first(list(sys.argv[1:] if argv is None else argv))
        result = app(args=argv, prog_name="moewh", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except WarehouseError as exc:
        print(f"moewh: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:
        # Typer bundles its own Click: usage errors, bad parameters and a bare group (which
        # prints its help) arrive here, all as exit 2 like Click's own convention.
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"moewh: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except typer.Abort:
        print("moewh: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("moewh: interrupted; nothing of the unfinished command was kept", file=sys.stderr)
        return 130


def main() -> None:
    sys.exit(run(sys.argv[1:]))
