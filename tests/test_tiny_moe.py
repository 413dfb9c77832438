"""warehouse.synth.tiny_moe: the files it writes hold what it says, its closed form has no
near-ties, and every variant loads and runs in llama.cpp."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGUFReader
from gguf.quants import dequantize

from tests.capture_support import needs_llama_cpp
from warehouse.synth.tiny_moe import ROUTER_GAPS, write_tiny_moe


@pytest.mark.parametrize("arch", ["qwen3moe", "gpt-oss"])
@pytest.mark.parametrize("weights, expert_type", [("closed-form", "F32"), ("random", "F16"), ("random", "Q8_0")])
def test_file_holds_the_returned_tensors(tmp_path, arch, weights, expert_type):
    m = write_tiny_moe(tmp_path / "m.gguf", arch=arch, n_layer=2, n_expert=4, k=2, seed=3, weights=weights,
                       expert_type=expert_type)
    reader = GGUFReader(m.path)
    stored = {t.name: t for t in reader.tensors}
    assert set(stored) == set(m.tensors)
    for name, expected in m.tensors.items():
        t = stored[name]
        data = dequantize(t.data, t.tensor_type) if t.tensor_type.name == "Q8_0" else np.asarray(t.data)
        np.testing.assert_array_equal(np.asarray(data, np.float32).reshape(expected.shape), expected, err_msg=name)
    field = reader.fields[f"{arch}.expert_used_count"]
    assert int(field.parts[field.data[0]][0]) == 2


@pytest.mark.parametrize("arch", ["qwen3moe", "gpt-oss"])
def test_closed_form_ranking_has_clear_gaps(tmp_path, arch):
    m = write_tiny_moe(tmp_path / "m.gguf", arch=arch, n_layer=3, n_expert=8, k=2, seed=4)
    logits = m.router_logits(range(m.n_vocab))  # [layer, token, expert]
    ranked = -np.sort(-logits, axis=-1)
    assert np.diff(-ranked, axis=-1).min() >= ROUTER_GAPS[0] - 1e-6
    r = m.expected_routing(range(m.n_vocab))
    assert np.allclose(r.weights.sum(axis=-1), 1)
    assert (np.diff(r.weights, axis=-1) < 0).all()  # rank 0 weighs most


def test_routing_needs_the_closed_form(tmp_path):
    m = write_tiny_moe(tmp_path / "m.gguf", weights="random")
    with pytest.raises(ValueError, match="closed form"):
        m.expected_routing([1, 2])


@needs_llama_cpp
@pytest.mark.parametrize("arch", ["qwen3moe", "gpt-oss"])
@pytest.mark.parametrize("expert_type", ["F16", "Q8_0"])
def test_random_variants_run_in_llama_cpp(tmp_path, arch, expert_type):
    import llama_cpp

    m = write_tiny_moe(tmp_path / "m.gguf", arch=arch, weights="random", expert_type=expert_type, seed=9)
    llm = llama_cpp.Llama(str(m.path), n_ctx=64, n_threads=2, logits_all=True, verbose=False)
    llm.eval(m.tokenize("abc"))
    logits = np.asarray(llm.scores[: llm.n_tokens])
    assert logits.shape == (3, m.n_vocab) and np.isfinite(logits).all()
    assert logits.std() > 0
