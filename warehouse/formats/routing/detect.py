"""Which routing format a file is, from its content; and reading it with the right decoder.

Every decoder's sniffer scores the file's first bytes (1.0 = a magic line or exact header,
lower = a shape that fits but could be something else). The best score wins; two formats
with the same best score are refused as ambiguous, naming both, and ``fmt`` (``--format``)
forces one. Binary containers are opened to confirm what they hold (safetensors and .npz
arrays: vLLM's routed-experts names, else per-layer router logits).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from . import hf_logits, interchange, moe_trace, route_trace, safetensors, sglang, vllm
from .problems import RoutingInputError
from .routes import Routes

FORMATS = {
    route_trace.FORMAT: "BigMoeOnEdge --route-trace CSV (# route_trace v1)",
    moe_trace.FORMAT: "llama.cpp examples/moe-trace headerless layer,expert CSV (needs k)",
    moe_trace.FORMAT_PHASED: "moe-trace fork: phase,token,layer,rank,expert CSV",
    moe_trace.FORMAT_POS: "moe-trace fork: headerless pos,layer,id0,id1,... CSV",
    sglang.FORMAT_PT: "SGLang expert-distribution recorder dump (.pt: per_token, per_pass, stat)",
    sglang.FORMAT_CSV: "SGLang layer_id,expert_id,count CSV (counts only)",
    vllm.FORMAT_JSON: "vLLM completion response with routed experts (JSON)",
    vllm.FORMAT_NPZ: "vLLM routed-experts arrays (.npz / .npy)",
    hf_logits.FORMAT: "Hugging Face router logits per layer (.safetensors / .npz)",
    interchange.FORMAT_CSV: "routing interchange CSV (moewh export routes)",
    interchange.FORMAT_PARQUET: "routing interchange Parquet (moewh export routes)",
}
_HEAD = 65536
_NPY = "<npy>"  # the one array of a .npy file


def _npz_keys(path: Path) -> list[str] | None:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if not names or not all(n.endswith(".npy") for n in names):
        return None
    return [n[:-4] for n in names]


def scores(path: Path) -> dict[str, float]:
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    found: dict[str, float] = {}
    found[route_trace.FORMAT] = route_trace.sniff(head)
    found.update(moe_trace.sniff(head))
    found.update(sglang.sniff(head))
    found.update(interchange.sniff(head))
    found[vllm.FORMAT_JSON] = vllm.sniff_json(head)
    keys = _npz_keys(path) if head.startswith(b"PK\x03\x04") else None
    if keys is not None:
        found.pop(sglang.FORMAT_PT, None)
        if {"prompt_routed_experts", "routed_experts"} & set(keys):
            found[vllm.FORMAT_NPZ] = 0.95
        else:
            found[hf_logits.FORMAT] = 0.8
    if head.startswith(b"\x93NUMPY"):
        found[vllm.FORMAT_NPZ] = 0.6
    if safetensors.sniff(head):
        found[hf_logits.FORMAT] = 0.9
    return {k: v for k, v in found.items() if v > 0}


def detect(path: Path, fmt: str | None = None) -> str:
    path = Path(path)
    if fmt is not None:
        if fmt not in FORMATS:
            raise RoutingInputError(path, None, f"unknown --format {fmt!r}; known: {', '.join(FORMATS)}")
        return fmt
    if not path.is_file():
        raise RoutingInputError(path, None, "no such file")
    return choose(path, scores(path))


def choose(path: Path, found: dict[str, float]) -> str:
    """The best-scoring format; none, or a tie at the top, is refused."""
    if not found:
        raise RoutingInputError(path, "byte offset 0", "not a routing format this build reads (see --format: "
                                f"{', '.join(FORMATS)})")
    best = max(found.values())
    top = sorted(k for k, v in found.items() if v == best)
    if len(top) > 1:
        raise RoutingInputError(path, None, f"ambiguous: fits {' and '.join(top)} equally; choose with --format")
    return top[0]


def read(path: Path, fmt: str | None = None, *, experts_used: int | None = None, n_layers: int | None = None,
         routing: str | None = None, norm_topk: bool = False, prompt_tokens: int | None = None,
         layout: str = "split", force_restricted: bool = False) -> list[Routes]:
    """Decode ``path`` into one ``Routes`` per run (``fmt`` forces the format)."""
    path = Path(path)
    fmt = detect(path, fmt)
    if not path.is_file():
        raise RoutingInputError(path, None, "no such file")
    if fmt == route_trace.FORMAT:
        return route_trace.decode(path)
    if fmt in (moe_trace.FORMAT, moe_trace.FORMAT_PHASED, moe_trace.FORMAT_POS):
        return moe_trace.decode(path, fmt, experts_used=experts_used, n_layers=n_layers)
    if fmt in (sglang.FORMAT_PT, sglang.FORMAT_CSV):
        return sglang.decode(path, fmt, force_restricted=force_restricted)
    if fmt == vllm.FORMAT_JSON:
        return vllm.decode_json(path, layout=layout, prompt_tokens=prompt_tokens)
    if fmt in (interchange.FORMAT_CSV, interchange.FORMAT_PARQUET):
        return interchange.read(path, fmt)
    arrays = _arrays(path)
    if fmt == vllm.FORMAT_NPZ and set(arrays) == {_NPY}:
        # a lone .npy is the first release's single [P + G - 1, L, K] array
        return vllm.decode_arrays(path, {"routed_experts": arrays[_NPY]}, layout="single", prompt_tokens=prompt_tokens)
    if fmt == vllm.FORMAT_NPZ:
        return vllm.decode_arrays(path, arrays, layout=layout, prompt_tokens=prompt_tokens)
    return hf_logits.decode(path, arrays, experts_used=experts_used, routing=routing, norm_topk=norm_topk,
                            prompt_tokens=prompt_tokens)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        head = f.read(16)
    if safetensors.sniff(head) and not head.startswith((b"PK", b"\x93NUMPY")):
        return safetensors.load(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise RoutingInputError(path, "byte offset 0", f"not a readable .npz/.npy: {exc}") from None
    if isinstance(loaded, np.ndarray):
        return {_NPY: loaded}
    with loaded:
        return {k: loaded[k] for k in loaded.files}
