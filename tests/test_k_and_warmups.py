"""k is never guessed from warm-ups: the real reference trace (two warm-up evaluations, 16
recorded ids of 32) gives 0 selections and 2 warm-up passes through every ingest path, and a
run whose k cannot be known says so instead of inventing selections."""

from __future__ import annotations

import json
import shutil

import pytest
from layout_samples import shared_replica
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON

from warehouse.db.store import open_store
from warehouse.synth import generate_run

# From tests/data/gpt-oss-20b/README.md: two evaluations, all 288 MoE records with 16 of 32 ids.
REFERENCE = {"passes": 2, "warmups": 2, "selections": 0}


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    return shared_replica(tmp_path_factory)


def _facts(db_path: str) -> list[dict]:
    with open_store(db_path, read_only=True) as s:
        got = s.con.execute(
            "select r.run_name, r.n_passes, q.warmup_passes, q.k_unknown, r.experts_used, m.model_name, "
            "(select count(*) from selections x where x.run_id = r.run_id) as n_sel, "
            "(select count(*) from v1.decode_steps d where d.run_id = r.run_id) as n_steps "
            "from v1.runs r join v1.trace_quality q using (run_id) left join v1.models m on m.model_id = r.model_id "
            "order by r.run_name").fetchall()
    return [dict(zip(("run", "passes", "warmups", "k_unknown", "k", "model", "selections", "steps"), r,
                     strict=True)) for r in got]


def _reference_ok(f: dict) -> bool:
    return (f["passes"], f["warmups"], f["selections"], f["steps"]) == (2, 2, 0, 0) and f["k_unknown"] is False


def _experiment(tmp_path, trace=REAL_TRACE):
    run = tmp_path / "experiments" / "hello" / "p1"
    run.mkdir(parents=True)
    shutil.copy(trace, run / "tensor_trace.bin")
    shutil.copy(MEMORY_MAP, run / "memory-map.json")
    return tmp_path / "experiments"


@pytest.mark.parametrize("how", ["gguf", "memory-map", "no-model", "json", "json-memory-map"])
def test_ingest_trace_gives_two_warmups_and_no_selections(cli, db_path, replica, how):
    trace = TOKEN_JSON if how.startswith("json") else REAL_TRACE
    args = ["ingest", "trace", str(trace)]
    if how == "gguf":
        args += ["--model", str(replica)]
    if how.endswith("memory-map"):
        code, out, err = cli("ingest", "layout", str(MEMORY_MAP))
        assert code == 0, err
        args += ["--model", "temp_model"]  # memory-map.json's model_name
    code, out, err = cli(*args)
    assert code == 0, err
    assert "2 passes (2 warm-up), 0 expert selections" in out
    [f] = _facts(db_path)
    assert _reference_ok(f), f
    assert f["k"] == (4 if how == "gguf" else None)
    assert "unknown" not in err  # nothing was lost: both passes are warm-ups


@pytest.mark.parametrize("with_model", [False, True])
def test_ingest_dir_gives_two_warmups_and_no_selections(cli, db_path, replica, tmp_path, with_model):
    root = _experiment(tmp_path)
    code, out, err = cli("ingest", "dir", str(root), *(["--model", str(replica)] if with_model else []))
    assert code == 0, err
    [f] = _facts(db_path)
    assert _reference_ok(f), f


def test_k_unknown_is_said_in_full_with_the_fix(cli, db_path, tmp_path):
    """A trace whose passes all record 16 ids and no model: k could be 16 or anything above;
    no selections are made, v1.trace_quality says k_unknown, the CLI prints the whole warning."""
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=4, seed=5, k=16, warmup=True)
    assert all(len(ids) == 16 for p in truth.passes for ids in p.recorded_ids.values())
    root = _experiment(tmp_path, truth.path)
    (root / "hello" / "p1" / "memory-map.json").unlink()
    code, out, err = cli("ingest", "dir", str(root))
    assert code == 0, err
    [f] = _facts(db_path)
    assert (f["k_unknown"], f["k"], f["selections"], f["warmups"]) == (True, None, 0, 1)
    from warehouse.dashboard.ui import quality_messages

    with open_store(db_path, read_only=True) as s:
        quality = s.con.execute("select * from v1.trace_quality").df()
    said = [text for severity, text in quality_messages(next(quality.itertuples())) if severity == "warning"]
    assert any("k (experts used per token) is unknown" in t and "--experts-used K" in t for t in said)  # Overview
    line = next(x for x in err.splitlines() if "(k) is unknown" in x)
    assert "--experts-used K" in line and "--model PATH.gguf" in line and not line.endswith("...")
    code, out, err = cli("ingest", "dir", str(root), "--experts-used", "16", "--replace")
    assert code == 0, err
    [f] = _facts(db_path)
    want = sum(len(ids) for p in truth.passes if not p.is_warmup for ids in p.selections.values())
    assert (f["k_unknown"], f["k"], f["selections"]) == (False, 16, want)


def test_memory_map_fixture_is_the_reference_model():
    doc = json.loads(MEMORY_MAP.read_text())
    assert doc["model_name"] == "temp_model" and len(doc["tensors"]) == 2691
