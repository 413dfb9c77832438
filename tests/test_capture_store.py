"""`moewh capture` end to end on real llama.cpp: the stored run, the views, --trace-out, --prompts,
reproducible run ids, refusals. Oracles: the closed-form routing of the tiny models, NumPy
recounts, the trace and routing importers reading the files capture wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from trace_samples import file_digest

from tests.capture_support import PROMPT_20, needs_llama_cpp
from warehouse.db.store import open_store
from warehouse.db.viewset import definitions
from warehouse.synth.tiny_moe import write_tiny_moe

pytestmark = needs_llama_cpp
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_moe(tmp_path_factory.mktemp("m") / "tiny-qwen3moe.gguf", arch="qwen3moe", n_layer=3,
                          n_expert=8, k=2, seed=5)


def _capture(cli, model, *extra):
    code, out, err = cli("capture", str(model.path), "--threads", "2", *extra)
    assert code == 0, (out, err)
    return out.split()[2]  # "captured run <id> (...)"


def _rows(db_path, sql, params=None):
    with open_store(db_path, read_only=True) as store:
        return store.con.execute(sql, params or []).fetchall()


def test_stored_routes_equal_the_closed_form(cli, db_path, model):
    run_id = _capture(cli, model, "--prompt", PROMPT_20, "-n", "4", "--domain", "code", "--tag", "who=test")
    toks = _rows(db_path, "select position, token_id, piece, phase, step, pass_id from v1.tokens "
                          "where run_id = ? order by position", [run_id])
    assert len(toks) == 24
    assert [t[1] for t in toks[:20]] == list(PROMPT_20.encode())
    assert "".join(t[2] for t in toks[:20]) == PROMPT_20
    assert [t[3] for t in toks] == ["prompt"] * 20 + ["generate"] * 4
    assert [t[4] for t in toks] == [None] * 20 + [1, 2, 3, 4]
    assert [t[5] for t in toks] == [0] * 20 + [1, 2, 3, 4]
    # step means what v1.decode_steps says (the prompt pass is step 0)
    steps = _rows(db_path, "select t.position, d.step from v1.tokens t join v1.decode_steps d "
                           "on d.run_id = t.run_id and d.pass_id = t.pass_id where t.run_id = ? and "
                           "t.phase = 'generate' order by 1", [run_id])
    assert [s for _, s in steps] == [t[4] for t in toks[20:]]
    routes = _rows(db_path, "select position, layer_id, rank, expert_id, weight from v1.token_routes "
                            "where run_id = ? order by position, layer_id, rank", [run_id])
    truth = model.expected_routing([t[1] for t in toks])
    assert len(routes) == 24 * 3 * 2
    got = np.array([r[3] for r in routes]).reshape(24, 3, 2).transpose(1, 0, 2)
    w = np.array([r[4] for r in routes]).reshape(24, 3, 2).transpose(1, 0, 2)
    assert np.array_equal(got, truth.experts)
    np.testing.assert_allclose(w, truth.weights, atol=1e-5)
    # every layer, the last included, has all 20 prompt tokens
    per_layer = _rows(db_path, "select layer_id, count(distinct position) from v1.token_routes "
                               "where run_id = ? and phase = 'prompt' group by 1 order by 1", [run_id])
    assert per_layer == [(0, 20), (1, 20), (2, 20)]
    run = _rows(db_path, "select domain, tags, experts_used, model_id is not null from v1.runs where run_id = ?",
                [run_id])[0]
    assert run[0] == "code" and run[2] == 2 and run[3]
    tags = dict(run[1]) if not isinstance(run[1], dict) else run[1]
    assert tags["who"] == "test" and tags["sampler"] == "greedy" and tags["threads"] == "2"
    assert tags["llama_cpp_python"] and tags["llama_cpp_commit"]


def test_hotness_equals_a_recount_of_the_routing(cli, db_path, model):
    run_id = _capture(cli, model, "--prompt", PROMPT_20, "-n", "6")
    toks = _rows(db_path, "select token_id, phase from v1.tokens where run_id = ? order by position", [run_id])
    ids = [t[0] for t in toks]
    truth = model.expected_routing(ids).experts  # [layer, token, rank]
    # Decode steps of a run with passes (v1.decode_steps): the prompt pass (one step, the first
    # token of its batch, as the tracer's records keep it) and one per generated token.
    step_tokens = [0] + [i for i, t in enumerate(toks) if t[1] == "generate"]
    expected = np.zeros((3, 8), int)
    for layer in range(3):
        for i in step_tokens:
            for e in truth[layer, i]:
                expected[layer, e] += 1
    hot = _rows(db_path, "select layer_id, expert_id, activations from v1.expert_hotness where run_id = ?",
                [run_id])
    got = np.zeros((3, 8), int)
    for layer, expert, n in hot:
        got[layer, expert] = n
    assert len(hot) == 24  # the whole grid, zeros included
    assert np.array_equal(got, expected)
    # token-level: every token's routing summed over the run, the prefill ones included
    all_tokens = np.zeros((3, 8), int)
    for layer in range(3):
        np.add.at(all_tokens[layer], truth[layer].ravel(), 1)
    counted = _rows(db_path, "select layer_id, expert_id, count(*) from v1.token_routes where run_id = ? "
                             "group by 1, 2", [run_id])
    recount = np.zeros((3, 8), int)
    for layer, expert, n in counted:
        recount[layer, expert] = n
    assert np.array_equal(recount, all_tokens)


def test_recapture_with_the_same_seed_is_the_same_run(cli, db_path, model):
    first = _capture(cli, model, "--prompt", "hello", "-n", "6", "--temp", "3", "--seed", "7")
    before = file_digest(db_path)
    code, out, err = cli("capture", str(model.path), "--threads", "2", "--prompt", "hello", "-n", "6",
                         "--temp", "3", "--seed", "7")
    assert code == 0, err
    assert out.split()[:5] == ["already", "stored", "as", "run", first]
    assert file_digest(db_path) == before
    other = _capture(cli, model, "--prompt", "hello", "-n", "6", "--temp", "3", "--seed", "8")
    assert other != first
    assert _rows(db_path, "select count(*) from v1.runs")[0][0] == 2


def test_every_view_answers_for_a_captured_run(cli, db_path, model):
    run_id = _capture(cli, model, "--prompt", PROMPT_20, "-n", "5", "--domain", "code")
    _capture(cli, model, "--prompt", "Another prompt", "-n", "5", "--domain", "math")  # a pair to compare
    code, _, err = cli("simulate", run_id, "--slots", "2,8", "--predictors")  # the simulation views too
    assert code == 0, err
    empty = []
    with open_store(db_path, read_only=True) as store:
        for d in definitions("v1"):
            cols = [c[0] for c in store.con.execute(f"describe {d.qualified}").fetchall()]
            if "run_id" in cols:
                n = store.con.execute(f"select count(*) from {d.qualified} where run_id = ?", [run_id]).fetchone()[0]
            elif "run_id_a" in cols:
                n = store.con.execute(f"select count(*) from {d.qualified} where ? in (run_id_a, run_id_b)",
                                      [run_id]).fetchone()[0]
            else:
                n = store.con.execute(f"select count(*) from {d.qualified}").fetchone()[0]
            if n == 0:
                empty.append(d.name)
    # the tiny model's layout has no overlaps or gaps
    allowed_empty = {"layout_overlaps", "layout_gaps"}
    assert set(empty) <= allowed_empty, empty


def test_trace_out_files_read_back_by_the_importers(cli, db_path, model, tmp_path):
    out_dir = tmp_path / "out"
    run_id = _capture(cli, model, "--prompt", "Mixture!", "-n", "3", "--trace-out", str(out_dir))
    assert (out_dir / "tensor_trace.bin").stat().st_size % 1024 == 0
    # the 1024-byte trace, ingested like the research fork's, gives the same per-pass selections
    other = str(tmp_path / "other.duckdb")
    from warehouse.cli import run as moewh

    assert moewh(["--db", other, "ingest", "trace", str(out_dir / "tensor_trace.bin"), "--model",
                  str(model.path)]) == 0
    sel = "select pass_id, layer_id, rank, expert_id from v1.expert_selections where run_id = ? order by 1, 2, 3"
    mine = _rows(db_path, sel, [run_id])
    with open_store(other, read_only=True) as store:
        rid = store.con.execute("select run_id from v1.runs").fetchone()[0]
        theirs = store.con.execute(sel, [rid]).fetchall()
    assert mine == theirs and len(mine) == 4 * 3 * 2
    # the interchange file holds every token's routing, read back losslessly
    from warehouse.ingest.routing import read_routing_file

    [routes] = read_routing_file(None, out_dir / "routes.csv")  # detected from the content
    stored = _rows(db_path, "select position, layer_id, rank, expert_id, weight from v1.token_routes "
                            "where run_id = ? order by 1, 2, 3", [run_id])
    r = routes.sorted()
    assert list(zip(r.position.tolist(), r.layer_id.tolist(), r.rank.tolist(), r.expert_id.tolist(),
                    r.weight.tolist(), strict=True)) == stored
    assert len(stored) == 11 * 3 * 2


def test_prompts_file_one_run_per_prompt_and_a_failure_does_not_stop_the_others(cli, db_path, model, tmp_path):
    plan = {"experiment_name": "sweep", "description": "x", "prompts": [
        {"id": "code-1", "domain": "code", "prompt": "def f(x):", "n_predict": 3},
        {"id": "too-long", "domain": "chat", "prompt": "x" * 100, "n_predict": 3},
        {"id": "math-1", "domain": "math", "prompt": "1+1=", "n_predict": 2},
    ]}
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(plan))
    code, out, err = cli("capture", str(model.path), "--threads", "2", "--prompts", str(path), "--ctx", "64",
                         "--trace-out", str(tmp_path / "runs"))
    assert code == 1, (out, err)
    assert "2 captured, 1 failed" in out
    assert "failed: too-long:" in err and "do not fit in --ctx 64" in err
    runs = _rows(db_path, "select run_name, experiment, domain, n_predict from v1.runs order by 1")
    assert runs == [("code-1", "sweep", "code", 3), ("math-1", "sweep", "math", 2)]
    gen = _rows(db_path, "select r.run_name, count(*) from v1.tokens t join v1.runs r using (run_id) "
                         "where t.phase = 'generate' group by 1 order by 1")
    assert gen == [("code-1", 3), ("math-1", 2)]
    assert (tmp_path / "runs" / "code-1" / "routes.csv").is_file()
    assert not (tmp_path / "runs" / "too-long").exists()


@pytest.mark.parametrize("doc, key", [
    ({"prompts": []}, "key prompts"),
    ({"prompts": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]}, "key prompts[1].id"),
    ({"prompts": [{"id": "a"}]}, "key prompts[0].prompt"),
    ({"prompts": [{"id": "a/b", "prompt": "x"}]}, "key prompts[0].id"),
    ({"prompts": [{"id": "a", "prompt": "x", "n_predict": -1}]}, "key prompts[0].n_predict"),
])
def test_bad_prompts_file_exits_2_naming_the_key(cli, db_path, model, tmp_path, doc, key):
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(doc))
    code, out, err = cli("capture", str(model.path), "--prompts", str(path))
    assert code == 2
    assert err.startswith(f"moewh: error: {path}: {key}") and len(err.strip().splitlines()) == 1


def test_dense_model_refused_and_database_untouched(cli, db_path, model, tmp_path):
    _capture(cli, model, "--prompt", "a", "-n", "1")
    from gguf import GGUFWriter

    dense = tmp_path / "dense.gguf"
    w = GGUFWriter(dense, "llama")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    before = file_digest(db_path)
    code, out, err = cli("capture", str(dense), "--prompt", "a")
    assert code == 2
    assert "not a mixture-of-experts model" in err and len(err.strip().splitlines()) == 1
    assert file_digest(db_path) == before


def test_without_llama_cpp_python_says_how_to_install(tmp_path, model):
    # A real interpreter in which llama_cpp cannot be imported (as without the extra).
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'llama_cpp' or name.startswith('llama_cpp.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from warehouse.cli import run\n"
        f"sys.exit(run(['--db', {str(tmp_path / 'w.duckdb')!r}, 'capture', {str(model.path)!r}, '--prompt', 'a']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "pip install 'moe-trace-warehouse[capture]'" in done.stderr
    assert done.stderr.startswith("moewh: error:") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w.duckdb").exists()


def test_architecture_llama_cpp_does_not_know_is_refused_with_its_reason(cli, db_path, tmp_path):
    from gguf import GGUFWriter

    path = tmp_path / "mymoe.gguf"
    w = GGUFWriter(path, "mymoe")  # MoE by its metadata and tensors, unknown to llama.cpp
    w.add_block_count(1)
    w.add_expert_count(4)
    w.add_expert_used_count(2)
    w.add_tensor("blk.0.ffn_up_exps.weight", np.zeros((4, 8, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    code, out, err = cli("capture", str(path), "--prompt", "a")
    assert code == 2
    assert err.startswith(f"moewh: error: {path}: llama.cpp could not load the model: ")
    assert "unknown model architecture: 'mymoe'" in err and len(err.strip().splitlines()) == 1


def test_replace_stores_the_run_again_without_doubling_it(cli, db_path, model):
    first = _capture(cli, model, "--prompt", "replace me", "-n", "3")
    counts = "select (select count(*) from token_routes), (select count(*) from tokens), (select count(*) from records)"
    before = _rows(db_path, counts)
    again = _capture(cli, model, "--prompt", "replace me", "-n", "3", "--replace")
    assert again == first
    assert _rows(db_path, counts) == before
    assert _rows(db_path, "select count(*) from v1.runs") == [(1,)]
