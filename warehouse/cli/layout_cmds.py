"""`moewh ingest model|layout`, `moewh layout export`, `moewh check layout`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..db.lookup import resolve_model
from ..db.store import open_store
from ..errors import EXIT_FINDINGS, UsageError
from ..ingest.models import DecodedLayout, IngestResult, decode_gguf, decode_layout_file, store_layout
from ..layout.check import check_layouts
from ..layout.export import export_csv
from .app import check_app, ingest_app, layout_app, state
from .output import render_table

MODEL_HELP = "Model: model_id, a unique prefix of it, or model_name. Optional when the warehouse holds one."


def _store_decoded(decoded: DecodedLayout) -> IngestResult:
    # The file was read and validated before the database is opened, so bad input leaves the
    # warehouse file untouched; the rows go in as one transaction.
    with open_store(state.db) as store:
        with store.transaction() as con:
            return store_layout(con, decoded)


def _report(result: IngestResult, decoded: DecodedLayout) -> None:
    m = decoded.model
    if result.matched:
        typer.echo(f"{m['file_name']} describes model {result.model_id} ({result.model_name}), already in the "
                   f"warehouse: same {result.n_rows} layout rows (names, offsets, sizes); nothing changed")
        return
    if not result.created:
        typer.echo(f"model {result.model_id} is already in the warehouse as {result.model_name!r} "
                   f"({result.n_rows} layout rows); nothing changed")
        return
    experts = f", {m['n_experts']} experts" if m["n_experts"] else ""
    typer.echo(f"ingested model {result.model_id} ({result.model_name}): {m['n_tensors']} tensors{experts}, "
               f"{result.n_rows} layout rows")
    if m["inferred"]:
        typer.echo(f"inferred (not in the file): {', '.join(m['inferred'])}")


@ingest_app.command("model")
def ingest_model(
    path: Path = typer.Argument(..., metavar="PATH.gguf", help="GGUF model file (only its header is read)."),
    name: str = typer.Option(None, "--name", help="Model name to store (default: the file name)."),
) -> None:
    """Load a GGUF file's tensor layout, splitting expert tensors into per-expert slices.

    Reads the header, metadata and tensor-info table (not the weights): one model row (with
    architecture, block and expert counts, data offset, alignment, scalar metadata) and one row
    per tensor, where every expert tensor (name contains _exps, last dimension = expert count)
    becomes one row per expert, NAME[e]. The model_id is a fingerprint of the header, so the
    same file again, or a renamed copy, is recognised and nothing changes.

    \b
    Example:
      moewh ingest model ~/models/gpt-oss-20b-F16.gguf --name gpt-oss-20b
    """
    decoded = decode_gguf(path, name)
    _report(_store_decoded(decoded), decoded)


@ingest_app.command("layout")
def ingest_layout(
    file: Path = typer.Argument(..., metavar="FILE", help="gguf-dump CSV or memory-map.json (recognised by content)."),
    name: str = typer.Option(None, "--name", help="Model name to store (default: memory-map.json's model_name, "
                             "else the file name)."),
) -> None:
    """Load an old layout file: a gguf-dump CSV (split or unsplit) or a memory-map.json.

    The model_id is a fingerprint of the file's content. Facts the file lacks are NULL or
    inferred (expert count from the largest expert id, layer count from the largest layer id,
    data offset from the smallest offset) and listed in v1.models.inferred. Old CSVs whose
    offsets were relative or whose sizes ignored quantization load as they are; `moewh check
    layout` then reports their overlaps. A file whose rows (names, absolute offsets, sizes)
    equal those of a model already in the warehouse, say one ingested from its GGUF, is that
    model: nothing is stored, and traces read against it are comparable.
    """
    decoded = decode_layout_file(file, name)
    _report(_store_decoded(decoded), decoded)


@layout_app.command("export")
def layout_export(
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    fmt: str = typer.Option("csv", "--format", help="csv: the old gguf-dump CSV with split experts."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Write a model's layout in the old gguf-dump CSV format, expert tensors split as NAME[e].

    Rows are in file order with absolute offsets; `moewh ingest layout` reads the file back.
    """
    if fmt != "csv":
        raise UsageError(f"--format {fmt!r}: layout export writes csv only")
    with open_store(state.db, read_only=True) as store:
        text = export_csv(store.con, resolve_model(store.con, model))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@check_app.command("layout")
def check_layout(
    model: str = typer.Option(None, "--model", "-m", help="Model (id, id prefix or name); default: every model."),
    limit: int = typer.Option(20, "--limit", help="Show at most this many overlaps and gaps per model."),
) -> None:
    """Report overlapping tensors and uncovered bytes in model layouts; exit 1 on any overlap.

    Overlaps (v1.layout_overlaps) mean two rows claim the same bytes: a broken layout. Gaps
    (v1.layout_gaps) are data-section bytes no tensor covers beyond alignment padding; they are
    listed but do not fail the check.
    """
    with open_store(state.db, read_only=True) as store:
        checks = check_layouts(store.con, model, limit)
    for c in checks:
        typer.echo(f"{'ok' if c.ok else 'FAIL'}: model {c.model_id} ({c.model_name}): {c.n_layout_rows} layout rows, "
                   f"{c.n_overlaps} overlaps ({c.overlap_bytes} bytes), {c.n_gaps} gaps ({c.gap_bytes} bytes)")
        if c.n_overlaps:
            typer.echo(_indent(render_table(c.overlaps), c.n_overlaps, limit))
        if c.n_gaps:
            typer.echo(_indent(render_table(c.gaps), c.n_gaps, limit))
    if not all(c.ok for c in checks):
        raise typer.Exit(EXIT_FINDINGS)


def _indent(text: str, total: int, limit: int) -> str:
    more = f"\n  ... {total - limit} more; see the full list with `moewh query`" if total > limit else ""
    return "\n".join("  " + line for line in text.rstrip("\n").splitlines()) + more
