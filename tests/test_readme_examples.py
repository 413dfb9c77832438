"""Every example command of the README and of `--help` runs as written, against the demo
warehouse, in a shell, as a reader would paste it; the README's demo figures are the demo's.

The reader's world is set up first: the demo (`moewh ingest demo`) in $MOEWH_DB, `moewh` and
`.venv/bin/moewh` on hand, the files the examples name (~/models/*.gguf is the GPT-OSS-20B
replica, run1/tensor_trace.bin the real reference trace, ~/old/experiments an experiment
tree, sql/ the repository's). Lines of other tools (make, spark-sql, trino) are not run; the
test checks that nothing else is left out. A timeout guards against a runaway query (the
README promises seconds); it asserts nothing about speed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from capture_support import HAVE_LLAMA_CPP
from layout_samples import shared_replica
from trace_samples import MEMORY_MAP, REAL_TRACE

from warehouse.synth import generate_run

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MOEWH = {"moewh", ".venv/bin/moewh"}
OTHER_TOOLS = {"make", "spark-sql", "trino", "pip"}
GUARD_S = 300


def readme_commands() -> list[str]:
    """Command lines of the README's ```sh blocks, continuation lines joined, in order."""
    lines, block = [], None
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            block = line[3:].strip() if block is None else None
            continue
        if block == "sh" and line.strip():
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1].rstrip() + " " + line.strip()
            elif lines and not _complete(lines[-1]):  # a quoted SQL text that goes on
                lines[-1] = lines[-1] + "\n" + line
            else:
                lines.append(line.strip())
    return lines


def _complete(line: str) -> bool:
    try:
        shlex.split(line, comments=True)
    except ValueError:
        return False
    return True


def help_examples() -> list[str]:
    import typer.main

    import warehouse.cli  # noqa: F401  (registers every command)
    from warehouse.cli.app import app

    found = []

    def walk(cmd):
        found.extend(re.findall(r"Example:\s+(moewh .+)", cmd.help or ""))
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return found


def _program(line: str) -> str:
    return shlex.split(line, comments=True)[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    replica = shared_replica(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("readme")
    home, work, bin_dir = tmp / "home", tmp / "work", tmp / "bin"
    for d in (home / "models", work / ".venv" / "bin", bin_dir):
        d.mkdir(parents=True)
    script = f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m warehouse \"$@\"\n"
    for exe in (bin_dir / "moewh", work / ".venv" / "bin" / "moewh"):
        exe.write_text(script)
        exe.chmod(0o755)
    (work / "sql").symlink_to(ROOT / "sql")
    (work / "tests").symlink_to(ROOT / "tests")
    if HAVE_LLAMA_CPP:
        # the capture examples' models: a tiny qwen3moe that llama.cpp runs in a blink
        from warehouse.synth.tiny_moe import write_tiny_moe

        write_tiny_moe(work / "model.gguf", weights="random")
        (home / "models" / "qwen3-30b-a3b.gguf").symlink_to(work / "model.gguf")
        (work / "prompts.json").write_text(json.dumps({"experiment_name": "readme", "prompts": [
            {"id": "p1", "domain": "code", "prompt": "def f(x):", "n_predict": 4},
            {"id": "p2", "domain": "chat", "prompt": "Hello there", "n_predict": 4}]}))
    for name in ("gpt-oss-20b-mxfp4.gguf", "gpt-oss-20b-F16.gguf"):
        (home / "models" / name).symlink_to(replica)
    (work / "run1").mkdir()
    shutil.copy(REAL_TRACE, work / "run1" / "tensor_trace.bin")
    run = home / "old" / "experiments" / "ctx-sweep" / "p1"
    run.mkdir(parents=True)
    generate_run(run / "tensor_trace.bin", domain="math", n_steps=3, seed=77, warmup=True)
    shutil.copy(MEMORY_MAP, run / "memory-map.json")
    env = dict(os.environ, HOME=str(home), MOEWH_CACHE=str(replica.parent), MOEWH_DB=str(work / "demo.duckdb"),
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(["moewh", "ingest", "demo"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=GUARD_S)
    assert done.returncode == 0, done.stderr
    return work, env


def _sh(world, line: str) -> subprocess.CompletedProcess:
    work, env = world
    return subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=GUARD_S)


def test_only_other_tools_are_left_out():
    progs = {_program(line) for line in readme_commands()}
    assert progs - MOEWH <= OTHER_TOOLS, progs - MOEWH
    assert len([x for x in readme_commands() if _program(x) in MOEWH]) >= 15  # the parser sees the blocks


def test_every_readme_command_runs_as_written(world):
    if shutil.which("java") is None:
        pytest.skip("the README's Spark examples need Java")
    failures = []
    for line in readme_commands():
        if _program(line) not in MOEWH:
            continue
        if " capture " in line and not HAVE_LLAMA_CPP:
            continue  # the capture extra is not installed here (CI installs it and requires it)
        done = _sh(world, line)
        if done.returncode != 0:
            failures.append(f"{line}\n  exit {done.returncode}: {done.stderr.strip()[-500:]}")
    assert not failures, "\n".join(failures)


def test_every_help_example_runs_as_written(world):
    examples = help_examples()
    assert len(examples) >= 8
    failures = []
    for line in examples:
        if " dashboard" in line:
            continue  # a server: test_help_dashboard_example_serves
        done = _sh(world, line)
        if done.returncode != 0:
            failures.append(f"{line}\n  exit {done.returncode}: {done.stderr.strip()[-500:]}")
    assert not failures, "\n".join(failures)


def test_help_dashboard_example_serves(world):
    [line] = [x for x in help_examples() if " dashboard" in x]
    port = int(re.search(r"--port (\d+)", line).group(1))
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"port {port} is taken on this machine")
    work, env = world
    proc = subprocess.Popen(["bash", "-c", "exec " + line], cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the dashboard did not come up"
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def demo(world):
    """A demo warehouse of its own: the README's commands add models and runs to the shared one."""
    work, env = world
    fresh = dict(env, MOEWH_DB=str(work / "fresh-demo.duckdb"))
    done = subprocess.run(["moewh", "ingest", "demo"], cwd=work, env=fresh, capture_output=True, text=True,
                          timeout=GUARD_S)
    assert done.returncode == 0, done.stderr
    return work, fresh


def test_readme_demo_figures_are_the_demos(demo):
    world = demo
    text = README.read_text()
    q = lambda sql: json.loads(_sh(world, f"moewh query {shlex.quote(sql)} --format json").stdout)  # noqa: E731
    assert q("select count(*) as n from v1.tensors") == [{"n": 4923}] and "# 4923 layout rows" in text
    runs = q("select run_name, n_records, n_passes, tags['source'] as source from v1.runs order by run_name")
    real = [r for r in runs if r["source"] == "real"]
    synthetic = [r for r in runs if r["source"] == "synthetic"]
    assert [(r["n_records"], r["n_passes"]) for r in real] == [(1696, 2)] and "1,696 records in" in text
    assert len(synthetic) == 5 and {r["n_passes"] for r in synthetic} == {102} and "102 passes each" in text
    [b] = q("select round(median(p50_step_bytes) / 1048576) as mib, round(median(p50_step_bytes) / 1e9, 2) as gb "
            "from v1.run_bytes")
    assert f"{int(b['mib']):,} MiB per decode step" in text, b


def test_layer_sequential_savings_chunks_recounted_on_the_demo(demo):
    """The query merges chunk ranges instead of listing chunks; a plain set of chunks per step,
    from the rows the views give, must agree (2 MiB and the smallest accepted, 64 KiB)."""
    import duckdb

    world = demo
    work, env = world
    con = duckdb.connect(env["MOEWH_DB"], read_only=True)
    touched = con.execute(
        "select step, offset_start, read_bytes from v1.pass_tensor_reads join v1.runs using (run_id) "
        "where run_name = 'synthetic-code' union all "
        "select step, offset_start, size_bytes from v1.expert_slice_accesses join v1.runs using (run_id) "
        "where run_name = 'synthetic-code'").fetchall()
    con.close()
    for chunk in (2097152, 65536):
        per_step: dict[int, set] = {}
        for step, start, n in touched:
            per_step.setdefault(step, set()).update(range(start // chunk, (start + n - 1) // chunk + 1))
        want = round(sum(len(c) for c in per_step.values()) / len(per_step) * chunk)
        done = _sh(world, f"moewh query --file sql/queries/layer_sequential_savings.sql -p chunk_bytes={chunk} "
                          "--format json")
        assert done.returncode == 0, done.stderr
        [got] = [r for r in json.loads(done.stdout) if r["run_name"] == "synthetic-code"]
        assert (got["n_steps"], got["actual_chunk_bytes_per_step"]) == (len(per_step), want)


def test_chunks_below_64_kib_are_refused(world):
    done = _sh(world, "moewh query --file sql/queries/layer_sequential_savings.sql -p chunk_bytes=1024")
    assert done.returncode == 2
    assert done.stderr.startswith("moewh: error:") and "chunk_bytes must be at least 65536 (64 KiB)" in done.stderr
    assert "Traceback" not in done.stderr
