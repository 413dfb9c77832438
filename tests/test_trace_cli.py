"""`moewh ingest trace|dir` and `moewh runs`: exit codes, messages, an unchanged database on bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from trace_samples import MEMORY_MAP, REAL_TRACE, TOKEN_JSON, file_digest, rows, write_moe_gguf

from warehouse.db.store import open_store
from warehouse.synth import generate_run


def _layout(cli) -> str:
    code, out, err = cli("ingest", "layout", str(MEMORY_MAP))
    assert code == 0, err
    return out.split()[2]  # "ingested model <id> ..."


def test_ingest_trace_reports_and_second_time_changes_nothing(cli, db_path):
    model_id = _layout(cli)
    code, out, err = cli("ingest", "trace", str(REAL_TRACE), "--model", model_id, "--experts-used", "4",
                         "--name", "hello", "--tag", "source=real", "--tag", "gpu=none", "--domain", "chat")
    assert code == 0, err
    assert "1,696 records, 2 passes (2 warm-up), 0 expert selections" in out
    before = file_digest(db_path)
    code, out, err = cli("ingest", "trace", str(TOKEN_JSON), "--model", model_id)
    assert code == 0 and "already ingested" in out and "nothing changed" in out
    assert file_digest(db_path) == before
    code, out, _ = cli("runs", "list", "--format", "json")
    listed = json.loads(out)
    assert [(r["run_name"], r["n_records"], r["n_passes"], r["k"], r["tags"]) for r in listed] == [
        ("hello", 1696, 2, 4, {"gpu": "none", "source": "real"})]


BAD_INPUTS = {
    "random bytes": lambda p: p.write_bytes(bytes(range(256)) * 4096),
    "empty": lambda p: p.write_bytes(b""),
    "all zeros": lambda p: p.write_bytes(bytes(8192)),
    "shorter than a record": lambda p: p.write_bytes(REAL_TRACE.read_bytes()[:200]),
    "truncated JSON": lambda p: p.write_bytes(TOKEN_JSON.read_bytes()[:50_000]),
    "JSON without entries": lambda p: p.write_text('{"token_id": 0, "metadata": {}}'),
    "JSON entry missing a field": lambda p: p.write_text(json.dumps({"entries": [{"token_id": 0}]})),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_exits_2_and_leaves_the_database_unchanged(cli, db_path, tmp_path, kind):
    _layout(cli)
    code, _, _ = cli("ingest", "trace", str(REAL_TRACE), "--experts-used", "4")
    assert code == 0
    bad = tmp_path / "bad.bin"
    BAD_INPUTS[kind](bad)
    before = file_digest(db_path)
    code, out, err = cli("ingest", "trace", str(bad))
    assert code == 2, (out, err)
    assert err.startswith("moewh: error: ") and str(bad) in err and len(err.strip().splitlines()) == 1
    assert file_digest(db_path) == before


def test_gguf_given_as_trace_is_refused_with_a_hint(cli, db_path, tmp_path):
    gguf = write_moe_gguf(tmp_path / "m.gguf")
    code, _, err = cli("ingest", "trace", str(gguf))
    assert code == 2 and "GGUF model file, not a trace" in err and "--model" in err
    assert file_digest(db_path) == "absent"  # not even created


def test_unknown_op_table_and_bad_tag_are_usage_errors(cli):
    code, _, err = cli("ingest", "trace", str(REAL_TRACE), "--op-table", "ggml-1999")
    assert code == 2 and "unknown op table" in err and "ggml-2026-01" in err
    code, _, err = cli("ingest", "trace", str(REAL_TRACE), "--tag", "novalue")
    assert code == 2 and "KEY=VALUE" in err


def test_model_given_as_gguf_path_is_ingested_first(cli, db_path, tmp_path):
    gguf = write_moe_gguf(tmp_path / "m.gguf", k=4)
    truth = generate_run(tmp_path / "t.bin", domain="code", n_steps=3, seed=1)
    code, out, err = cli("ingest", "trace", str(truth.path), "--model", str(gguf))
    assert code == 0, err
    assert "ingested model" in err
    with open_store(db_path, read_only=True) as store:
        assert rows(store.con, "select r.experts_used_source, m.file_name from runs r join models m using (model_id)") \
            == [("model", "m.gguf")]
        got = rows(store.con, "select pass_id, layer_id, rank, expert_id from v1.expert_selections order by all")
        assert got == truth.selection_rows()
    code, _, err = cli("ingest", "trace", str(truth.path), "--model", str(tmp_path / "missing.gguf"))
    assert code == 2 and "no such file" in err


def test_runs_rm_removes_every_row_of_one_run(cli, db_path, tmp_path):
    model_id = _layout(cli)
    a = generate_run(tmp_path / "a.bin", domain="code", n_steps=2, seed=1)
    b = generate_run(tmp_path / "b.bin", domain="math", n_steps=2, seed=2)
    for t in (a, b):
        assert cli("ingest", "trace", str(t.path), "--model", model_id)[0] == 0
    with open_store(db_path, read_only=True) as store:
        from warehouse.db.catalog import run_tables

        tables = run_tables(store.con)
        b_rows = {t: rows(store.con, f"select count(*) from {t} where run_id in (select run_id from runs "
                                     f"where run_name = 'b')")[0][0] for t in tables}
    assert {"records", "sources", "passes", "selections", "runs"} <= set(tables)
    code, out, _ = cli("runs", "rm", "a")
    assert code == 0 and "removed run" in out
    with open_store(db_path, read_only=True) as store:
        for t in tables:
            assert rows(store.con, f"select count(*) from {t}")[0][0] == b_rows[t], t
    code, _, err = cli("runs", "rm", "a")
    assert code == 2 and "no run matches" in err


def _experiment_tree(root, tmp_path):
    """experiments/exp1/{p-code (binary), p-math (JSON only), p-broken}, prompts.json in the tool folder."""
    exp = root / "experiments" / "exp1"
    truths = {}
    (exp / "p-code").mkdir(parents=True)
    truths["p-code"] = generate_run(exp / "p-code" / "tensor_trace.bin", domain="code", n_steps=3, seed=11,
                                    zero_tail_records=100)
    shutil.copy(MEMORY_MAP, exp / "p-code" / "memory-map.json")
    truths["p-math"] = generate_run(exp / "p-math" / "traces", domain="math", n_steps=2, seed=12,
                                    source_format="token-json")
    (exp / "p-broken").mkdir()
    (exp / "p-broken" / "tensor_trace.bin").write_bytes(b"\x07" * 5000)
    (root / "prompts.json").write_text(json.dumps({"experiment_name": "exp1", "description": "d", "prompts": [
        {"id": "p-code", "domain": "code", "prompt": "write code", "n_predict": 3},
        {"id": "p-math", "domain": "math", "prompt": "do math", "n_predict": 2}]}))
    (exp / "summary.json").write_text(json.dumps({"experiment": "exp1", "date": "2025-01-01", "model": "m",
                                                  "domains": [{"id": "p-math", "tokens": 2, "size_mb": 1}]}))
    (exp / "p-math" / "settings.json").write_text(json.dumps({"experiment": {"model_path": "x", "prompt": "ignored",
                                                                             "tokens_to_generate": 99}}))
    return truths


def test_ingest_dir_old_experiment_layout(cli, db_path, tmp_path):
    truths = _experiment_tree(tmp_path / "tool", tmp_path)
    code, out, err = cli("ingest", "dir", str(tmp_path / "tool"), "--experts-used", "4")
    assert code == 1  # one run failed, the others are in
    assert "2 ingested, 0 already there, 1 failed" in out
    assert "p-broken" in err and "not a trace" in err
    with open_store(db_path, read_only=True) as store:
        got = rows(store.con, "select run_name, experiment, domain, prompt, n_predict, source_format, "
                              "model_id is not null from v1.runs order by run_name")
        assert got == [
            ("exp1/p-code", "exp1", "code", "write code", 3, "trace-1024", True),  # memory-map.json beside it
            ("exp1/p-math", "exp1", "math", "do math", 2, "token-json", False),
        ]
        for name, truth in truths.items():
            sel = rows(store.con, "select pass_id, layer_id, rank, expert_id from v1.expert_selections "
                                  "join runs using (run_id) where run_name = ? order by all", [f"exp1/{name}"])
            assert sel == truth.selection_rows(), name
    code, out, _ = cli("ingest", "dir", str(tmp_path / "tool"))
    assert code == 1 and "0 ingested, 2 already there, 1 failed" in out
    shutil.rmtree(tmp_path / "tool" / "experiments" / "exp1" / "p-broken")
    code, out, _ = cli("ingest", "dir", str(tmp_path / "tool"))
    assert code == 0


def test_ingest_dir_without_runs_is_an_input_error(cli, tmp_path):
    code, _, err = cli("ingest", "dir", str(tmp_path))
    assert code == 2 and "no runs found" in err
