"""A repacked GGUF is the same model to real llama.cpp (llama-cpp-python, the capture extra).

Tiny MoE models written by warehouse.synth.tiny_moe (random weights: every tensor matters)
are run before and after `repack`: whole-tensor moves give bitwise equal logits; expert
permutations give logits equal within float rounding (the router's softmax and top-k then
see the experts in another order) and the same greedy tokens. A capture of the repacked
closed-form model, stored through the real capture path, maps back to the original routing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.capture_support import PROMPT_20, needs_llama_cpp
from warehouse.db.store import open_store
from warehouse.layout.repack import repack
from warehouse.synth.tiny_moe import write_tiny_moe

pytestmark = needs_llama_cpp
N_LAYER, N_EXPERT, K = 3, 8, 2


def _run(path, tokens: list[int], n_greedy: int = 8):
    """Logits of every prompt position, then greedy tokens with their logits."""
    import llama_cpp

    llm = llama_cpp.Llama(str(path), n_ctx=64, n_threads=2, logits_all=True, verbose=False, seed=1)
    llm.eval(tokens)
    greedy = []
    for _ in range(n_greedy):
        greedy.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        llm.eval([greedy[-1]])
    logits = np.array(llm.scores[: llm.n_tokens], dtype=np.float32)
    llm.close()
    return logits, greedy


def _perms(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(N_EXPERT) for _ in range(N_LAYER)])


@pytest.mark.parametrize("arch", ["qwen3moe", "gpt-oss"])
@pytest.mark.parametrize("expert_type", ["F16", "Q8_0"])
def test_repacked_files_compute_the_same_logits(tmp_path, arch, expert_type):
    m = write_tiny_moe(tmp_path / "m.gguf", arch=arch, n_layer=N_LAYER, n_expert=N_EXPERT, k=K, seed=21,
                       weights="random", expert_type=expert_type)
    tokens = m.tokenize("The quick brown fox")
    base, base_greedy = _run(m.path, tokens)
    assert np.isfinite(base).all() and base.std() > 0

    repack(m.path, tmp_path / "layer.gguf", "layer")
    layer, layer_greedy = _run(tmp_path / "layer.gguf", tokens)
    assert np.array_equal(layer, base)  # bitwise: the same bytes, only elsewhere in the file
    assert layer_greedy == base_greedy

    perms = _perms(5)
    assert (perms != np.arange(N_EXPERT)).any(axis=1).all()  # every layer really is permuted
    for order in ("hot-first", "coact"):
        out = tmp_path / f"{order}.gguf"
        repack(m.path, out, order, perms)
        got, greedy = _run(out, tokens)
        scale = float(np.abs(base).max())
        assert np.abs(got - base).max() <= 1e-3 * scale, (order, float(np.abs(got - base).max()), scale)
        assert greedy == base_greedy, order


@pytest.mark.parametrize("arch", ["qwen3moe", "gpt-oss"])
def test_capture_of_the_repacked_model_maps_back_to_the_original_routing(tmp_path, cli, db_path, arch):
    m = write_tiny_moe(tmp_path / "m.gguf", arch=arch, n_layer=N_LAYER, n_expert=N_EXPERT, k=K, seed=8)
    perms = _perms(9)
    repack(m.path, tmp_path / "coact.gguf", "coact", perms)
    runs = []
    for path in (m.path, tmp_path / "coact.gguf"):
        code, out, err = cli("capture", str(path), "--threads", "2", "--prompt", PROMPT_20, "-n", "4")
        assert code == 0, (out, err)
        runs.append(out.split()[2])
    with open_store(db_path, read_only=True) as store:
        def routes(run_id):
            return store.con.execute("select position, layer_id, rank, expert_id, weight from v1.token_routes "
                                     "where run_id = ? order by 1, 2, 3", [run_id]).fetchall()

        def selections(run_id):
            return store.con.execute("select pass_id, layer_id, rank, expert_id from v1.expert_selections "
                                     "where run_id = ? order by 1, 2, 3", [run_id]).fetchall()

        original, repacked = routes(runs[0]), routes(runs[1])
        sel_original, sel_repacked = selections(runs[0]), selections(runs[1])
        raw = store.con.execute("select count(*) from record_experts where run_id = ?", [runs[1]]).fetchone()[0]
    truth = m.expected_routing([t for t in list(PROMPT_20.encode())])
    assert len(original) == len(repacked) > 0 and raw > 0
    assert [r[:4] for r in repacked] == [r[:4] for r in original]
    np.testing.assert_allclose([r[4] for r in repacked], [r[4] for r in original], atol=1e-5)
    # and the original run is the closed form: experts of the first 20 positions
    got = np.array([r[3] for r in original if r[0] < 20]).reshape(20, N_LAYER, K).transpose(1, 0, 2)
    assert np.array_equal(got, truth.experts)
    assert sel_repacked == sel_original and sel_original
