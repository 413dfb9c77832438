"""vLLM ``--enable-return-routed-experts`` output.

Follows vLLM v0.21 as its ``vllm/entrypoints/openai/chat_completion/protocol.py`` declares the
fields (the response's ``prompt_routed_experts: list[list[list[int]]] | None``, the choice's
``routed_experts``, filled by the fused-MoE ``routed_experts_capturer``); read from public
summaries of that protocol change and saved v0.21 responses, since the vLLM tree exceeds what
could be fetched here. Shapes are ``[tokens, layers, k]`` of
expert ids; -1 marks positions whose routing was not computed (prefix-cached). The prompt's P
tokens sit at positions 0..P-1; row g of a choice's ``routed_experts`` is the forward pass that
fed generated token g (position P + g, decode step g). The last generated token is never fed
back, so a choice may hold one row fewer than its tokens. Also read: an ``.npz`` holding those
arrays under the same names, and the first release's single array ``[P + G - 1, L, K]``
(prompt and generation in one, ``--layout single``; P from ``usage.prompt_tokens``, from
``prompt_token_ids``, or ``--prompt-tokens``). Each choice becomes one run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .problems import RoutingInputError
from .routes import GENERATE, PROMPT, Routes

FORMAT_JSON = "vllm-routed-experts"
FORMAT_NPZ = "vllm-routed-experts-npz"


def sniff_json(head: bytes) -> float:
    return 0.95 if b'"choices"' in head and b"routed_experts" in head else 0.0


def _ids(path, value, key) -> np.ndarray | None:
    if value is None:
        return None
    try:
        a = np.asarray(value)
    except ValueError:
        raise RoutingInputError(path, f"key {key}", "ragged nesting: expected [tokens][layers][k]") from None
    if a.size == 0:
        return np.zeros((0, 0, 0), np.int64)
    if a.ndim != 3 or a.dtype.kind not in "iu":
        raise RoutingInputError(path, f"key {key}", f"expected [tokens][layers][k] integers, found shape {a.shape} "
                                f"of {a.dtype}")
    if (a < -1).any():
        raise RoutingInputError(path, f"key {key}", "expert id below -1")
    return a.astype(np.int64)


def _rows(ids: np.ndarray, first_pos: int, phase: int, token_ids) -> dict[str, np.ndarray]:
    tok, layer, rank = np.nonzero(ids >= 0)
    out = {"position": first_pos + tok, "layer_id": layer, "rank": rank, "expert_id": ids[tok, layer, rank],
           "phase": np.full(len(tok), phase, np.int8),
           "step": tok.astype(np.int32) if phase == GENERATE else np.full(len(tok), -1, np.int32)}
    if token_ids is not None:
        t = np.asarray(token_ids, np.int64).reshape(-1)
        known = tok < len(t)
        out["token_id"] = np.full(len(tok), -1, np.int64)
        out["token_id"][known] = t[tok[known]]
    return out


def _run(path, prompt, gen, prompt_ids, gen_ids, name, warnings) -> Routes:
    parts = []
    n_prompt = 0
    if prompt is not None:
        n_prompt = len(prompt)
        parts.append(_rows(prompt, 0, PROMPT, prompt_ids))
    elif prompt_ids is not None:
        n_prompt = len(prompt_ids)
        warnings.append("no prompt_routed_experts: only generated tokens are routed")
    if gen is not None:
        parts.append(_rows(gen, n_prompt, GENERATE, gen_ids))
    if not parts or not sum(len(p["position"]) for p in parts):
        raise RoutingInputError(path, None, "no routed experts in the response (was the server started with "
                                "--enable-return-routed-experts and the request made with return_routed_experts?)")
    keys = set.intersection(*(set(p) for p in parts))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    shapes = [a.shape[1:] for a in (prompt, gen) if a is not None and a.size]
    if len(set(shapes)) > 1:
        raise RoutingInputError(path, None, f"prompt and generated routes differ in [layers, k]: {shapes}")
    n_layers, k = shapes[0]
    cached = int(((prompt if prompt is not None else np.zeros((0, 1, 1))) < 0).all(axis=(1, 2)).sum())
    if cached:
        warnings.append(f"{cached} prompt positions have no routing (-1: prefix-cached)")
    return Routes.from_columns(cols, FORMAT_JSON, run_name=name, n_layers=n_layers, experts_used=k,
                               warnings=warnings)


def decode_json(path: Path, layout: str = "split", prompt_tokens: int | None = None) -> list[Routes]:
    path = Path(path)
    try:
        obj = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise RoutingInputError(path, f"line {exc.lineno}", f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list):
        raise RoutingInputError(path, "key choices", "not a completion response (no choices list)")
    prompt_ids = obj.get("prompt_token_ids")
    runs = []
    choices = obj["choices"]
    for i, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise RoutingInputError(path, f"key choices[{i}]", "not an object")
        gen = _ids(path, choice.get("routed_experts"), f"choices[{i}].routed_experts")
        gen_ids = choice.get("token_ids")
        name = f"choice {choice.get('index', i)}" if len(choices) > 1 else None
        if layout == "single":
            p = prompt_tokens or (obj.get("usage") or {}).get("prompt_tokens") or (
                len(prompt_ids) if prompt_ids else None)
            if p is None:
                raise RoutingInputError(path, f"key choices[{i}].routed_experts", "--layout single needs the prompt "
                                        "length: usage.prompt_tokens, prompt_token_ids or --prompt-tokens")
            if gen is None or len(gen) < p:
                raise RoutingInputError(path, f"key choices[{i}].routed_experts", f"fewer rows than the {p} prompt "
                                        "tokens")
            runs.append(_run(path, gen[:p], gen[p:], prompt_ids, gen_ids, name, []))
        else:
            prompt = _ids(path, obj.get("prompt_routed_experts"), "prompt_routed_experts")
            runs.append(_run(path, prompt, gen, prompt_ids, gen_ids, name, []))
    if not runs:
        raise RoutingInputError(path, "key choices", "empty")
    return runs


def decode_arrays(path: Path, arrays: dict[str, np.ndarray], layout: str = "split",
                  prompt_tokens: int | None = None) -> list[Routes]:
    """An .npz (or .npy as {'routed_experts': a}) of vLLM's arrays."""
    if layout == "single":
        if prompt_tokens is None:
            raise RoutingInputError(path, None, "--layout single needs --prompt-tokens P (the array holds "
                                    "P + G - 1 rows)")
        a = _ids(path, arrays.get("routed_experts"), "routed_experts")
        if a is None or len(a) < prompt_tokens:
            raise RoutingInputError(path, "key routed_experts", f"fewer rows than the {prompt_tokens} prompt tokens")
        return [_run(path, a[:prompt_tokens], a[prompt_tokens:], None, None, None, [])]
    prompt = _ids(path, arrays.get("prompt_routed_experts"), "prompt_routed_experts")
    gen = _ids(path, arrays.get("routed_experts"), "routed_experts")
    r = _run(path, prompt, gen, arrays.get("prompt_token_ids"), arrays.get("token_ids"), None, [])
    r.source_format = FORMAT_NPZ
    return [r]
