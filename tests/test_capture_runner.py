"""moewh capture's runner on real llama.cpp (llama-cpp-python) over tiny MoE GGUFs written here.

The oracle is the closed-form construction of warehouse.synth.tiny_moe: one-hot embeddings,
zero attention output and expert down projections, routers whose columns rank the experts with
clear gaps. Every token's selection in every layer is then known from NumPy alone, and so is
greedy generation (the output head maps token t to next_token(t)).
"""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGUFReader, GGUFWriter

from tests.capture_support import PROMPT_20, needs_llama_cpp
from warehouse.errors import InputError
from warehouse.formats.trace import op_tables
from warehouse.synth.tiny_moe import next_token, write_tiny_moe

pytestmark = needs_llama_cpp


@pytest.fixture(scope="module", params=["qwen3moe", "gpt-oss"])
def tiny(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / f"{request.param}.gguf"
    return write_tiny_moe(path, arch=request.param, n_layer=3, n_expert=8, k=2, seed=11)


def run(model, prompt, **kw):
    from warehouse.capture.runner import CaptureSettings, capture

    kw.setdefault("n_threads", 2)
    return capture(model.path, prompt, CaptureSettings(**kw))


def test_every_token_every_layer_matches_the_closed_form(tiny):
    c = run(tiny, PROMPT_20, n_predict=6, n_batch=64)
    assert c.token_id[:20].tolist() == list(PROMPT_20.encode())  # byte-level vocabulary
    assert c.n_prompt == 20 and c.n_generated == 6
    experts, weights = c.routing()
    truth = tiny.expected_routing(c.token_id)
    assert c.moe_layers == [0, 1, 2]
    assert experts.shape == (3, 26, 2)
    # the last layer routes every prompt token, not just the batch's last one
    assert np.array_equal(experts[2, :20], truth.experts[2, :20])
    assert np.array_equal(experts, truth.experts)
    np.testing.assert_allclose(weights, truth.weights, rtol=0, atol=1e-5)
    assert not np.allclose(truth.weights[:, :, 0], truth.weights[0, 0, 0])  # weights vary: a real check


def test_greedy_generation_follows_the_output_head(tiny):
    c = run(tiny, "ab", n_predict=5)
    expected, t = [], ord("b")
    for _ in range(5):
        t = next_token(t)
        expected.append(t)
    assert c.token_id[2:].tolist() == expected
    assert c.generated_text == bytes(expected).decode()
    assert c.step.tolist() == [-1, -1, 1, 2, 3, 4, 5]  # decode steps: the prompt pass is step 0
    assert c.pass_id.tolist() == [0, 0, 1, 2, 3, 4, 5]
    assert c.pass_tokens == [2, 1, 1, 1, 1, 1]
    assert c.piece[:2] == ["a", "b"]


def test_prompt_split_over_batches_routes_every_token(tiny):
    c = run(tiny, PROMPT_20, n_predict=1, n_batch=7)
    assert c.pass_tokens == [7, 7, 6, 1]
    experts, weights = c.routing()
    truth = tiny.expected_routing(c.token_id)
    assert np.array_equal(experts, truth.experts)
    np.testing.assert_allclose(weights, truth.weights, atol=1e-5)


def test_weights_come_from_the_architectures_last_weight_tensor(tiny):
    c = run(tiny, "x", n_predict=0)
    last = "ffn_moe_weights_norm" if tiny.arch == "qwen3moe" else "ffn_moe_weights_softmax"
    assert c.weight_tensor == {layer: f"{last}-{layer}" for layer in range(3)}


def test_same_seed_same_tokens_with_temperature(tiny):
    a = run(tiny, "hello", n_predict=8, temp=5.0, seed=3)
    b = run(tiny, "hello", n_predict=8, temp=5.0, seed=3)
    assert a.token_id.tolist() == b.token_id.tolist()
    assert np.array_equal(a.route_expert, b.route_expert)


def test_op_records_hold_first_token_ids_and_file_offsets(tiny):
    c = run(tiny, "hello", n_predict=2)
    rec = c.records
    ops = op_tables.names(op_tables.DEFAULT_TABLE)
    names = [ops[o] if o < len(ops) else None for o in rec["operation_type"]]
    assert None not in names
    starts = np.flatnonzero(rec["dst_name"] == b"inp_embd")
    assert len(starts) == 3 and starts[0] == 0  # one marker per graph evaluation
    # GGUF offsets, read independently with gguf's reader
    reader = GGUFReader(tiny.path)
    offsets = {t.name: int(t.data_offset) for t in reader.tensors}
    n_disk = 0
    for r in rec:
        for s in r["sources"][: r["num_sources"]]:
            if s["memory_source"] == 0:
                n_disk += 1
                assert s["disk_offset_or_buffer_id"] == offsets[s["name"].decode()]
    assert n_disk > 0
    experts, _ = c.routing()
    mmid = [i for i, n in enumerate(names) if n == "MUL_MAT_ID"]
    assert len(mmid) == 3 * 3 * 3  # gate, up, down per layer and pass
    pass_of = np.searchsorted(starts, np.arange(len(rec)), side="right") - 1
    first_token = {0: 0, 1: 5, 2: 6}  # first position evaluated by each pass
    for i in mmid:
        layer = int(rec["dst_name"][i].rsplit(b"-", 1)[1])
        assert rec["num_experts"][i] == 2
        assert rec["expert_ids"][i][:2].tolist() == experts[layer, first_token[pass_of[i]]].tolist()
        assert rec["layer_id"][i] == layer


def test_dense_model_is_refused_naming_what_was_looked_for(tmp_path):
    from warehouse.capture.runner import check_moe

    path = tmp_path / "dense.gguf"
    w = GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(InputError) as err:
        check_moe(path)
    text = str(err.value)
    assert "not a mixture-of-experts model" in text
    assert "llama.expert_count" in text and "ffn_*_exps.weight" in text


def test_op_records_of_reused_graphs_equal_freshly_built_ones(tiny, monkeypatch):
    reused = run(tiny, "hello", n_predict=6)
    assert reused.reused_passes >= 4  # llama.cpp reuses the one-token decode graph
    assert np.all(np.diff(reused.records["timestamp_ns"].astype(np.int64)) >= 0)
    monkeypatch.setenv("LLAMA_GRAPH_REUSE_DISABLE", "1")
    built = run(tiny, "hello", n_predict=6)
    assert built.reused_passes == 0
    a, b = reused.records.copy(), built.records.copy()
    assert len(a) == len(b)
    for rec in (a, b):
        rec["timestamp_ns"] = 0
        rec["sources"]["tensor_ptr"] = 0  # buffers are allocated anew per context
        rec["sources"]["disk_offset_or_buffer_id"][rec["sources"]["memory_source"] == 1] = 0
    assert a.tobytes() == b.tobytes()
