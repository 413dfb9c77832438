"""Hugging Face ``output_router_logits``: one ``(tokens, n_experts)`` array per MoE layer.

Transformers' MoE models (Mixtral, Qwen2-MoE/Qwen3-MoE, GPT-OSS; ``modeling_*.py``, v4.5x)
return ``router_logits``, a tuple with one ``(batch * sequence_length, num_experts)`` tensor
per MoE layer, when called with ``output_router_logits=True``. Users save them as
``.safetensors`` or ``.npz``, one array per layer; the layer is the integer in the array's
name (``router_logits.3``, ``layer_3``, ``model.layers.3.mlp.gate``), and names without one
are refused. Selections are recomputed as the model does:

- ``softmax-topk`` (Mixtral, Qwen-MoE): softmax over all experts, then the top k; with
  ``norm_topk`` the k weights are renormalised to sum to 1 (Qwen's ``norm_topk_prob``).
- ``topk-softmax`` (GPT-OSS): the top k logits, then softmax over those k.

Rows that are already probabilities (non-negative, each summing to 1) are not soft-maxed
again. Ties go to the lower expert id. Every token is a prompt token unless
``prompt_tokens`` P is given: tokens from P on are then generated (decode step = index - P).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .problems import RoutingInputError
from .routes import GENERATE, PROMPT, Routes

FORMAT = "hf-router-logits"
ROUTINGS = ("softmax-topk", "topk-softmax")
_LAYER_RE = re.compile(r"(\d+)")


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _is_probability(x: np.ndarray) -> bool:
    return bool(x.size) and bool((x >= 0).all()) and bool(np.allclose(x.sum(axis=-1), 1.0, atol=1e-4))


def select(logits: np.ndarray, k: int, routing: str, norm_topk: bool) -> tuple[np.ndarray, np.ndarray]:
    """(ids, weights), each ``(tokens, k)``, ranked by the router's choice."""
    x = logits.astype(np.float64)
    probs_given = _is_probability(x)
    # stable sort on the negated scores: equal scores keep the lower expert id first
    order = np.argsort(-x, axis=-1, kind="stable")[:, :k]
    top = np.take_along_axis(x, order, axis=-1)
    if routing == "softmax-topk":
        p = x if probs_given else _softmax(x)
        w = np.take_along_axis(p, order, axis=-1)
        if norm_topk:
            w = w / w.sum(axis=-1, keepdims=True)
    else:
        w = top / top.sum(axis=-1, keepdims=True) if probs_given else _softmax(top)
    return order, w


def decode(path: Path, arrays: dict[str, np.ndarray], *, experts_used: int | None, routing: str | None,
           norm_topk: bool = False, prompt_tokens: int | None = None) -> list[Routes]:
    path = Path(path)
    if experts_used is None:
        raise RoutingInputError(path, None, "router logits need k to select experts: give --experts-used K or --model")
    if routing is None:
        raise RoutingInputError(path, None, f"router logits need --routing ({' or '.join(ROUTINGS)}): "
                                "softmax-topk for Mixtral/Qwen-MoE, topk-softmax for GPT-OSS")
    if routing not in ROUTINGS:
        raise RoutingInputError(path, None, f"--routing {routing!r}: expected {' or '.join(ROUTINGS)}")
    layers = {}
    for name, a in arrays.items():
        m = _LAYER_RE.findall(name)
        if not m:
            raise RoutingInputError(path, f"key {name}", "no layer number in the array's name")
        layer = int(m[-1])
        if layer in layers:
            raise RoutingInputError(path, f"key {name}", f"a second array for layer {layer}")
        if a.ndim == 3 and a.shape[0] == 1:
            a = a[0]  # (1, tokens, experts): a batch of one
        if a.ndim != 2 or a.dtype.kind != "f":
            raise RoutingInputError(path, f"key {name}", f"expected (tokens, n_experts) floats, found {a.shape} {a.dtype}")
        if not np.isfinite(a).all():
            raise RoutingInputError(path, f"key {name}", "non-finite logits")
        layers[layer] = (name, a)
    if not layers:
        raise RoutingInputError(path, None, "no arrays")
    shapes = {a.shape for _, a in layers.values()}
    if len(shapes) != 1:
        raise RoutingInputError(path, None, f"layers differ in (tokens, n_experts): {sorted(shapes)}")
    n_tokens, n_experts = shapes.pop()
    if not 1 <= experts_used <= n_experts:
        raise RoutingInputError(path, None, f"k = {experts_used} does not fit {n_experts} experts")
    p = n_tokens if prompt_tokens is None else prompt_tokens
    if not 0 <= p <= n_tokens:
        raise RoutingInputError(path, None, f"--prompt-tokens {p}: the arrays hold {n_tokens} tokens")
    cols = {c: [] for c in ("position", "layer_id", "rank", "expert_id", "weight")}
    for layer, (_, a) in sorted(layers.items()):
        ids, w = select(a, experts_used, routing, norm_topk)
        cols["position"].append(np.repeat(np.arange(n_tokens), experts_used))
        cols["layer_id"].append(np.full(ids.size, layer))
        cols["rank"].append(np.tile(np.arange(experts_used), n_tokens))
        cols["expert_id"].append(ids.reshape(-1))
        cols["weight"].append(w.reshape(-1))
    merged = {c: np.concatenate(v) for c, v in cols.items()}
    gen = merged["position"] >= p
    merged["phase"] = np.where(gen, GENERATE, PROMPT)
    merged["step"] = np.where(gen, merged["position"] - p, -1)
    warnings = [] if prompt_tokens is not None else [
        "every token is a prompt token (no --prompt-tokens): decode-step views stay empty for this run"]
    return [Routes.from_columns(merged, FORMAT, n_layers=None, n_experts=n_experts, experts_used=experts_used,
                                warnings=warnings)]
