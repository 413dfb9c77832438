"""`moewh ingest routing` and `moewh export routes`: token-level routing from other recorders."""

from __future__ import annotations

from pathlib import Path

import typer

from ..db.lookup import resolve_run
from ..db.store import open_store
from ..errors import UsageError
from ..formats.routing.detect import FORMATS
from ..formats.routing.hf_logits import ROUTINGS
from ..ingest.routing import export_routes, ingest_routing_file
from .app import export_app, ingest_app, state
from .trace_cmds import EXPERTS_USED_HELP, MODEL_OPT_HELP, _model, _tags, _warn

FORMAT_HELP = "Force the format instead of reading it from the content: " + "; ".join(
    f"{k} ({v})" for k, v in FORMATS.items())


@ingest_app.command("routing")
def ingest_routing_cmd(
    path: Path = typer.Argument(..., metavar="FILE", help="A routing file of one of the formats below."),
    fmt: str = typer.Option(None, "--format", metavar="F", help=FORMAT_HELP),
    model: str = typer.Option(None, "--model", "-m", metavar="MODEL_ID|PATH.gguf", help=MODEL_OPT_HELP
                              + " Byte figures of routing-only runs are estimated from it."),
    experts_used: int = typer.Option(None, "--experts-used", metavar="K", help=EXPERTS_USED_HELP),
    name: str = typer.Option(None, "--name", help="Run name (several runs in one file: the prefix)."),
    experiment: str = typer.Option(None, "--experiment", help="Experiment the run belongs to."),
    domain: str = typer.Option(None, "--domain", help="Prompt domain, e.g. code or math."),
    prompt: str = typer.Option(None, "--prompt", help="Prompt text."),
    tag: list[str] = typer.Option(None, "--tag", metavar="KEY=VALUE", help="Tag the run (repeatable)."),
    routing: str = typer.Option(None, "--routing", metavar="R",
                                help=f"Router logits only: {' or '.join(ROUTINGS)} (Mixtral/Qwen-MoE or GPT-OSS)."),
    norm_topk: bool = typer.Option(False, "--norm-topk", help="Router logits, softmax-topk: renormalise the k weights."),
    prompt_tokens: int = typer.Option(None, "--prompt-tokens", metavar="P",
                                      help="Tokens from P on are generated (router logits; vLLM --layout single)."),
    layout: str = typer.Option("split", "--layout", metavar="L",
                               help="vLLM: split (prompt_routed_experts + routed_experts) or single (first release)."),
    replace: bool = typer.Option(False, "--replace", help="Ingest again even if the run is already there."),
) -> None:
    """Load the expert routing of another recorder as token-level runs (one per turn or choice).

    The format is read from the content (ambiguity is refused; --format forces one). Every run
    gets one row per token position, MoE layer and rank in v1.token_routes, its tokens in
    v1.tokens, and works in every routing view (hotness, statistics, stickiness, transitions,
    co-activation, domains, similarity, bytes per step, v1.prefill_experts). Byte figures are
    estimated from --model's layout or the recorder's per-layer sizes. The run_id is a digest
    of the routing, so the same routing again changes nothing. One transaction.

    Example: moewh ingest routing tests/data/routing/route_trace.csv --domain code --tag source=real
    """
    if layout not in ("split", "single"):
        raise UsageError(f"--layout {layout!r}: expected split or single")
    tags = _tags(tag)
    with open_store(state.db) as store, store.transaction() as con:
        results = ingest_routing_file(
            con, path, fmt=fmt, model_id=_model(con, model), name=name, experts_used=experts_used, routing=routing,
            norm_topk=norm_topk, prompt_tokens=prompt_tokens, layout=layout, replace=replace,
            experiment=experiment, domain=domain, prompt=prompt, tags=tags)
    for r in results:
        if not r.created:
            typer.echo(r.warnings[0])
            continue
        _warn(r.warnings)
        what = "activation counts only" if r.counts_only else (
            f"{r.n_rows:,} routes, {r.n_tokens:,} tokens ({r.n_generated:,} generated)")
        typer.echo(f"ingested run {r.run_id} ({r.run_name}) from {r.source_format}: {what}")


@export_app.command("routes")
def export_routes_cmd(
    run: list[str] = typer.Option(None, "--run", metavar="RUN",
                                  help="Export only this run (id, unique prefix or unique name); repeatable."),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE",
                                help="Interchange file: Parquet for a .parquet suffix, else CSV."),
) -> None:
    """Write token-level routing in the interchange format (see the README), any run.

    Columns: run,position,phase,layer,rank,expert[,weight][,token_id][,step][,pass_id][,residency][,trusted]
    (optional columns only when some row has a value). `moewh ingest routing FILE` reads it back.

    Example: moewh export routes --run "route_trace turn 0" -o routes.parquet
    """
    with open_store(state.db, read_only=True) as store:
        run_ids = [resolve_run(store.con, r)[0] for r in run or []]
        n = export_routes(store.con, run_ids, output)
    typer.echo(f"wrote {n:,} routing rows to {output}")
