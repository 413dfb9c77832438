"""Tiny mixture-of-experts GGUF models that stock llama.cpp loads, with routing known in closed form.

``write_tiny_moe(path, arch=..., n_layer=..., n_expert=..., k=..., seed=..., weights=...)``
writes a real GGUF (the gguf package's ``GGUFWriter``) of a llama.cpp MoE architecture, a few
layers deep, with a byte-level vocabulary (token i is byte i, plus one end-of-text token), and
returns a ``TinyMoe`` that holds every tensor it wrote.

Architectures: ``qwen3moe`` (router softmax over all experts, top-k, weights renormalised to
sum 1) and ``gpt-oss`` (top-k of the raw router logits plus a router bias, then a softmax over
the k selected logits).

``weights="closed-form"`` (the default) builds a model whose routing needs no inference to know:

- every token embedding is one-hot (``n_embd >= n_vocab``), so token t's hidden state is e_t;
- the attention output projection (and its bias) and every expert's down projection (and
  bias) are zero, so attention and the MoE block add nothing: the residual stream stays the
  token embedding in every layer;
- each layer's router has, for every token, logits that rank the experts in a random order
  with random gaps of at least ``ROUTER_GAPS[0]`` between neighbours (no near-ties: float rounding cannot reorder
  them);
- the output head maps token t to ``next_token(t)`` (a lowercase letter), so greedy
  generation is known too and never ends early.

``TinyMoe.expected_routing(token_ids)`` then gives the selected experts and their applied
weights per layer and token with plain NumPy from the same weights (RMS norm, router matrix,
the architecture's softmax / top-k / normalisation), without running llama.cpp.

``weights="random"`` fills every tensor with small random values instead (the model still
loads and runs; its routing is whatever it is), for tests that need every weight to matter,
such as logits compared before and after a layout change; ``expert_type`` ("F32", "F16",
"Q8_0") sets the type of the 3-D expert tensors there.

    from warehouse.synth.tiny_moe import write_tiny_moe
    m = write_tiny_moe(tmp / "q.gguf", arch="qwen3moe", n_layer=3, n_expert=8, k=2, seed=1)
    ids = m.tokenize("hello")                  # [104, 101, 108, 108, 111]
    r = m.expected_routing(ids)                # r.experts[layer, token, rank], r.weights[...]
    m.next_token(ids[-1])                      # what greedy decoding emits after "hello"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType
from gguf.quants import dequantize, quantize

ARCHS = ("qwen3moe", "gpt-oss")
EOT_TOKEN = "<|endoftext|>"
N_VOCAB = 257  # 256 bytes + end of text
RMS_EPS = 1e-6
ROUTER_GAPS = (0.3, 1.0)  # range of the logit distance between neighbouring experts of a ranking
ROUTER_TOP = (1.0, 3.0)  # range of a token's first-choice logit
EXPERT_TYPES = {"F32": GGMLQuantizationType.F32, "F16": GGMLQuantizationType.F16,
                "Q8_0": GGMLQuantizationType.Q8_0}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, which llama.cpp's BPE vocab expects."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


BYTE_CHARS = _bytes_to_unicode()


def next_token(token_id: int) -> int:
    """The token the closed-form output head ranks first after ``token_id``: a lowercase letter."""
    return ord("a") + (int(token_id) + 1) % 26


@dataclass
class Routing:
    """Per layer, token and rank: the selected expert (rank 0 = first choice) and its weight."""

    experts: np.ndarray  # int32 [n_layer, n_tokens, k]
    weights: np.ndarray  # float64 [n_layer, n_tokens, k]


@dataclass
class TinyMoe:
    path: Path
    arch: str
    n_layer: int
    n_expert: int
    k: int
    n_embd: int
    n_ff_exp: int
    n_head: int
    n_head_kv: int
    head_dim: int
    weights: str
    seed: int
    tensors: dict[str, np.ndarray] = field(repr=False)  # NumPy order (ggml dims reversed), float32

    @property
    def n_vocab(self) -> int:
        return N_VOCAB

    @property
    def eot_id(self) -> int:
        return N_VOCAB - 1

    @staticmethod
    def tokenize(text: str) -> list[int]:
        """Token ids of ``text``: its UTF-8 bytes (the vocabulary has no merges)."""
        return list(text.encode("utf-8"))

    @staticmethod
    def next_token(token_id: int) -> int:
        return next_token(token_id)

    def router_input(self, token_ids) -> np.ndarray:
        """[layer, token, n_embd]: what each layer's router multiplies, given that the residual
        stream stays the token embedding (closed-form models only)."""
        self._require_closed_form()
        ids = np.asarray(token_ids, dtype=np.int64)
        h = self.tensors["token_embd.weight"][ids].astype(np.float64)  # [T, n_embd]
        normed = h / np.sqrt(np.mean(h * h, axis=1, keepdims=True) + RMS_EPS)
        norm_name = "ffn_norm" if self.arch == "qwen3moe" else "post_attention_norm"
        return np.stack([normed * self.tensors[f"blk.{il}.{norm_name}.weight"].astype(np.float64)
                         for il in range(self.n_layer)])

    def router_logits(self, token_ids) -> np.ndarray:
        """[layer, token, expert] router logits (bias included where the architecture has one)."""
        x = self.router_input(token_ids)
        out = []
        for il in range(self.n_layer):
            logits = x[il] @ self.tensors[f"blk.{il}.ffn_gate_inp.weight"].astype(np.float64).T
            if self.arch == "gpt-oss":
                logits = logits + self.tensors[f"blk.{il}.ffn_gate_inp.bias"].astype(np.float64)
            out.append(logits)
        return np.stack(out)

    def expected_routing(self, token_ids) -> Routing:
        """Selected experts and applied weights of every token in every layer, computed the way
        llama.cpp's ``build_moe_ffn`` does for this architecture, in NumPy."""
        logits = self.router_logits(token_ids)
        k = self.k
        if self.arch == "qwen3moe":
            # softmax over all experts -> top-k of the probabilities -> renormalise (norm_w)
            p = _softmax(logits)
            top = np.argsort(-p, axis=-1, kind="stable")[..., :k]
            w = np.take_along_axis(p, top, axis=-1)
            w = w / w.sum(axis=-1, keepdims=True)
        else:
            # top-k of the logits -> softmax over the selected logits (SOFTMAX_WEIGHT)
            top = np.argsort(-logits, axis=-1, kind="stable")[..., :k]
            w = _softmax(np.take_along_axis(logits, top, axis=-1))
        return Routing(top.astype(np.int32), w)

    def _require_closed_form(self) -> None:
        if self.weights != "closed-form":
            raise ValueError("routing is known in closed form only for weights='closed-form' models")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _router_closed_form(rng: np.random.Generator, n_expert: int, n_embd: int, n_vocab: int,
                        scale: float) -> np.ndarray:
    """[n_expert, n_embd]: column t (token t's one-hot direction) holds a random ranking of the
    experts, neighbours at least ``ROUTER_GAPS[0]`` apart after the RMS-norm ``scale`` (random
    gaps, so that the applied weights differ from token to token)."""
    w = np.zeros((n_expert, n_embd), np.float32)
    for t in range(n_vocab):
        gaps = rng.uniform(*ROUTER_GAPS, n_expert - 1)
        ladder = rng.uniform(*ROUTER_TOP) - np.concatenate([[0.0], np.cumsum(gaps)])
        w[rng.permutation(n_expert), t] = ladder / scale
    return w


def write_tiny_moe(
    path: str | Path,
    arch: str = "qwen3moe",
    n_layer: int = 3,
    n_expert: int = 8,
    k: int = 2,
    seed: int = 0,
    weights: str = "closed-form",
    expert_type: str = "F32",
    n_embd: int = 288,
    n_ff_exp: int = 32,
    n_ctx_train: int = 512,
) -> TinyMoe:
    """Write a tiny MoE GGUF to ``path`` (see the module doc) and return what it holds."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, not {arch!r}")
    if weights not in ("closed-form", "random"):
        raise ValueError(f"weights must be 'closed-form' or 'random', not {weights!r}")
    if expert_type not in EXPERT_TYPES:
        raise ValueError(f"expert_type must be one of {', '.join(EXPERT_TYPES)}, not {expert_type!r}")
    if weights == "closed-form" and expert_type != "F32":
        raise ValueError("closed-form models keep every tensor F32, so that routing is exact")
    if weights == "closed-form" and n_embd < N_VOCAB:
        raise ValueError(f"closed-form models embed tokens one-hot: n_embd must be >= {N_VOCAB}")
    if not 1 <= k <= n_expert:
        raise ValueError(f"k must be between 1 and n_expert ({n_expert}), not {k}")
    if expert_type == "Q8_0" and (n_embd % 32 or n_ff_exp % 32):
        raise ValueError("Q8_0 experts need n_embd and n_ff_exp divisible by 32")
    path = Path(path)
    rng = np.random.default_rng(seed)
    n_head, n_head_kv, head_dim = 2, 1, 16
    closed = weights == "closed-form"
    t: dict[str, np.ndarray] = {}

    def rand(*shape, scale=0.05):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def zeros(*shape):
        return np.zeros(shape, np.float32)

    if closed:
        t["token_embd.weight"] = np.eye(N_VOCAB, n_embd, dtype=np.float32)
        # The head reads the final RMS-normed one-hot state: column t scores next_token(t) first.
        out = zeros(N_VOCAB, n_embd)
        for tok in range(N_VOCAB):
            out[next_token(tok), tok] = 1.0
        t["output.weight"] = out
    else:
        t["token_embd.weight"] = rand(N_VOCAB, n_embd, scale=1.0)
        t["output.weight"] = rand(N_VOCAB, n_embd, scale=0.2)
    t["output_norm.weight"] = np.ones(n_embd, np.float32)
    # RMS norm of a one-hot vector: 1 / sqrt(1/n + eps) at the hot position.
    one_hot_scale = float(1.0 / np.sqrt(1.0 / n_embd + RMS_EPS))
    for il in range(n_layer):
        b = f"blk.{il}."
        t[b + "attn_norm.weight"] = np.ones(n_embd, np.float32)
        t[b + "attn_q.weight"] = rand(n_head * head_dim, n_embd)
        t[b + "attn_k.weight"] = rand(n_head_kv * head_dim, n_embd)
        t[b + "attn_v.weight"] = rand(n_head_kv * head_dim, n_embd)
        t[b + "attn_output.weight"] = zeros(n_embd, n_head * head_dim) if closed else rand(n_embd, n_head * head_dim)
        if closed:
            t[b + "ffn_gate_inp.weight"] = _router_closed_form(rng, n_expert, n_embd, N_VOCAB, one_hot_scale)
        else:
            t[b + "ffn_gate_inp.weight"] = rand(n_expert, n_embd, scale=0.5)
        t[b + "ffn_gate_exps.weight"] = rand(n_expert, n_ff_exp, n_embd)
        t[b + "ffn_up_exps.weight"] = rand(n_expert, n_ff_exp, n_embd)
        t[b + "ffn_down_exps.weight"] = zeros(n_expert, n_embd, n_ff_exp) if closed else rand(n_expert, n_embd, n_ff_exp)
        if arch == "qwen3moe":
            t[b + "attn_q_norm.weight"] = np.ones(head_dim, np.float32)
            t[b + "attn_k_norm.weight"] = np.ones(head_dim, np.float32)
            t[b + "ffn_norm.weight"] = np.ones(n_embd, np.float32)
        else:
            t[b + "post_attention_norm.weight"] = np.ones(n_embd, np.float32)
            t[b + "attn_sinks.weight"] = rand(n_head)
            t[b + "attn_output.bias"] = zeros(n_embd) if closed else rand(n_embd)
            # Closed form: a zero router bias keeps the ladder's gaps; random: a real bias.
            t[b + "ffn_gate_inp.bias"] = zeros(n_expert) if closed else rand(n_expert)
            t[b + "ffn_gate_exps.bias"] = rand(n_expert, n_ff_exp)
            t[b + "ffn_up_exps.bias"] = rand(n_expert, n_ff_exp)
            t[b + "ffn_down_exps.bias"] = zeros(n_expert, n_embd) if closed else rand(n_expert, n_embd)

    w = GGUFWriter(path, arch)
    w.add_name(f"tiny-{arch}-{n_layer}l-{n_expert}e-k{k}-{weights}-s{seed}")
    w.add_context_length(n_ctx_train)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff_exp)
    w.add_expert_feed_forward_length(n_ff_exp)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_expert_count(n_expert)
    w.add_expert_used_count(k)
    if arch == "gpt-oss":
        w.add_sliding_window(128)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([BYTE_CHARS[i] for i in range(256)] + [EOT_TOKEN])
    w.add_token_types([TokenType.NORMAL] * 256 + [TokenType.CONTROL])
    # llama.cpp's BPE vocab needs a merges array and the writer cannot write an empty one: this
    # merge joins two pieces no merge ever produces, so it never applies.
    w.add_token_merges([f"{EOT_TOKEN} {EOT_TOKEN}"])
    w.add_bos_token_id(N_VOCAB - 1)
    w.add_eos_token_id(N_VOCAB - 1)
    w.add_add_bos_token(False)
    w.add_file_type(0 if expert_type == "F32" else 1 if expert_type == "F16" else 7)
    qtype = EXPERT_TYPES[expert_type]
    for name, arr in t.items():
        if name.endswith("_exps.weight") and qtype != GGMLQuantizationType.F32:
            if qtype == GGMLQuantizationType.F16:
                stored = arr.astype(np.float16)
                t[name] = stored.astype(np.float32)
                w.add_tensor(name, stored)
            else:
                packed = quantize(arr, qtype)
                t[name] = dequantize(packed, qtype).astype(np.float32)
                w.add_tensor(name, packed, raw_dtype=qtype)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return TinyMoe(path, arch, n_layer, n_expert, k, n_embd, n_ff_exp, n_head, n_head_kv, head_dim,
                   weights, seed, t)
