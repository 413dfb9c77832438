"""`moewh capture`: run a GGUF MoE model with stock llama.cpp and store every token's routing."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..db.store import open_store
from ..errors import EXIT_FINDINGS, UsageError, WarehouseError
from .app import app, state
from .output import render_table
from .trace_cmds import _tags, _warn


def _bar(i: int, n: int, label: str) -> None:
    filled = 30 * i // n
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {i}/{n} {label[:40]:<40}")
    sys.stderr.flush()


@app.command("capture")
def capture_cmd(
    model: Path = typer.Argument(..., metavar="MODEL.gguf", help="A mixture-of-experts GGUF llama.cpp can run."),
    prompt: str = typer.Option(None, "--prompt", metavar="TEXT", help="One prompt: one run."),
    prompts: Path = typer.Option(None, "--prompts", metavar="FILE.json",
                                 help="The old pipeline's prompts.json ({experiment_name, prompts: [{id, domain, "
                                      "prompt, n_predict}]}): one run per prompt, named by its id."),
    n_predict: int = typer.Option(32, "-n", "--n-predict", metavar="N",
                                  help="Tokens to generate (a prompts.json entry's n_predict wins)."),
    name: str = typer.Option(None, "--name", help="Run name (default: the model's file name and the run_id)."),
    experiment: str = typer.Option(None, "--experiment", help="Experiment (default with --prompts: experiment_name)."),
    domain: str = typer.Option(None, "--domain", help="Prompt domain (with --prompts: each prompt's own)."),
    tag: list[str] = typer.Option(None, "--tag", metavar="KEY=VALUE", help="Tag the run(s) (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampler's draw (with --temp > 0)."),
    temp: float = typer.Option(0.0, "--temp", help="Sampling temperature; 0 is greedy."),
    ctx: int = typer.Option(2048, "--ctx", metavar="N", help="Context size in tokens (prompt + generated)."),
    batch: int = typer.Option(512, "--batch", metavar="N",
                              help="Prompt tokens per graph evaluation (n_batch = n_ubatch)."),
    threads: int = typer.Option(None, "--threads", metavar="N", help="CPU threads (default: every core)."),
    trace_out: Path = typer.Option(None, "--trace-out", metavar="DIR",
                                   help="Also write tensor_trace.bin (1024-byte records: first token of a batch, "
                                        "at most 16 ids) and routes.csv (interchange format) there; with --prompts "
                                        "one folder per prompt id."),
    replace: bool = typer.Option(False, "--replace", help="Store again even if the same run is already there."),
) -> None:
    """Run the model in-process (llama-cpp-python, stock llama.cpp) and store each run's routing.

    Every graph evaluation's selected experts and router weights are read for every token of
    the batch (prompt tokens too, in every layer: all prompt outputs are requested), with each
    token's position, id and text, and stored as one run in one transaction: token-level
    routing (v1.token_routes, v1.tokens), the op records of the 1024-byte tracer (records,
    passes, selections), and the model's layout if it is new. Tags record the llama.cpp
    version, the sampler, the seed and the thread count. The run_id is a digest of the routing
    and settings, so the same capture again (same seed) is the same run. Needs the extra:
    pip install 'moe-trace-warehouse[capture]'.

    \b
    Examples:
      moewh capture model.gguf --prompt "def quicksort(xs):" -n 64 --domain code
      moewh capture model.gguf --prompts prompts.json --trace-out runs/ --tag gpu=none
    """
    from ..capture.runner import CaptureSession, CaptureSettings, require_llama_cpp

    require_llama_cpp()
    if (prompt is None) == (prompts is None):
        raise UsageError("give exactly one of --prompt TEXT or --prompts FILE.json")
    tags = _tags(tag)
    from ..capture.prompts import PlannedPrompt, read_prompts

    if prompts is not None:
        if name is not None:
            raise UsageError("--name names one run; with --prompts each run is named by its prompt id")
        plan = read_prompts(prompts)
        items = plan.prompts
        experiment = experiment or plan.experiment
    else:
        items = [PlannedPrompt(name or "", prompt, domain, None)]
    settings = CaptureSettings(n_predict=n_predict, seed=seed, temp=temp, n_ctx=ctx, n_batch=batch,
                               n_threads=threads)
    from ..capture.store import store_capture, write_trace_out

    outcomes = []
    with open_store(state.db) as store, CaptureSession(model, settings) as session:
        for i, item in enumerate(items):
            if prompts is not None:
                _bar(i, len(items), item.id)
            try:
                cap = session.run(item.prompt, item.n_predict)
                with store.transaction() as con:
                    stored = store_capture(
                        con, cap, name=(item.id or None), experiment=experiment,
                        domain=item.domain if prompts is not None else domain,
                        n_predict=item.n_predict if item.n_predict is not None else n_predict,
                        tags=tags, replace=replace)
                    written = []
                    if trace_out is not None:
                        folder = trace_out / item.id if prompts is not None else trace_out
                        written = write_trace_out(con, folder, cap, stored.run_id)
                outcomes.append((item, cap, stored, written, None))
            except WarehouseError as exc:
                if prompts is None:
                    raise
                outcomes.append((item, None, None, [], str(exc)))
        if prompts is not None:
            _bar(len(items), len(items), "done")
            sys.stderr.write("\n")

    if prompts is None:
        _item, cap, stored, written, _ = outcomes[0]
        _warn([w for w in stored.warnings if "already ingested" not in w])
        verb = "captured run" if stored.created else "already stored as run"
        typer.echo(f"{verb} {stored.run_id} ({stored.run_name}): {cap.n_prompt} prompt + {cap.n_generated} "
                   f"generated tokens, {len(cap.moe_layers)} MoE layers x k={cap.k}, "
                   f"{_rate(cap):.1f} tokens/s, {len(cap.route_expert):,} routing rows, "
                   f"{len(cap.pass_tokens)} passes")
        typer.echo(f"generated: {cap.generated_text!r}")
        for path in written:
            typer.echo(f"wrote {path}")
        return

    import pyarrow as pa

    rows = {"run": [], "status": [], "run_id": [], "prompt_tokens": [], "generated": [], "tokens_per_s": [],
            "note": []}
    for item, cap, stored, _written, error in outcomes:
        rows["run"].append(item.id)
        rows["status"].append("failed" if error else "captured" if stored.created else "present")
        rows["run_id"].append(stored.run_id if stored else None)
        rows["prompt_tokens"].append(cap.n_prompt if cap else None)
        rows["generated"].append(cap.n_generated if cap else None)
        rows["tokens_per_s"].append(round(_rate(cap), 1) if cap else None)
        note = error or ""
        rows["note"].append(note[:100] + ("..." if len(note) > 100 else ""))
    typer.echo(render_table(pa.table(rows)))
    failed = [o for o in outcomes if o[4]]
    typer.echo(f"{len(outcomes) - len(failed)} captured, {len(failed)} failed")
    for item, *_rest, error in failed:
        typer.echo(f"failed: {item.id}: {error}", err=True)
    if failed:
        raise typer.Exit(EXIT_FINDINGS)


def _rate(cap) -> float:
    return len(cap.position) / cap.seconds if cap.seconds > 0 else 0.0
