"""Small real GGUF files for the layout tests, written with the gguf package's own writer."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, GGUFWriter


def write_gguf(path: Path, tensors: list[tuple[str, GGMLQuantizationType, tuple[int, ...]]],
               alignment: int | None = None, arch: str = "testarch", metadata: dict | None = None,
               fill: int = 0) -> Path:
    """Write a GGUF with real (zero or ``fill``) data for ``tensors``: (name, type, ne0-first dims)."""
    w = GGUFWriter(path, arch)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for key, (value, vtype) in (metadata or {}).items():
        if vtype == GGUFValueType.ARRAY:
            w.add_array(key, value)
        else:
            w.add_key_value(key, value, vtype)
    for name, qtype, dims in tensors:
        block, type_size = GGML_QUANT_SIZES[qtype]
        byte_row = dims[0] // block * type_size
        # numpy order is reversed ggml order; a uint8 array plus raw_dtype is the writer's
        # route for every type, quantized or not.
        shape = (*reversed(dims[1:]), byte_row)
        w.add_tensor(name, np.full(shape, fill, dtype=np.uint8), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def every_type_tensors(seed: int = 7) -> list[tuple[str, GGMLQuantizationType, tuple[int, ...]]]:
    """One tensor of odd shape per ggml type the gguf package describes (1-D to 4-D), shuffled."""
    rng = random.Random(seed)
    out = []
    for i, qtype in enumerate(sorted(GGML_QUANT_SIZES, key=lambda t: t.value)):
        block = GGML_QUANT_SIZES[qtype][0]
        ne0 = block * rng.choice([1, 3, 5, 7])
        n_dims = 1 + i % 4
        dims = (ne0, *[rng.choice([1, 3, 5]) for _ in range(n_dims - 1)])
        out.append((f"blk.{i % 5}.t_{qtype.name.lower()}.weight", qtype, dims))
    rng.shuffle(out)
    return out


def moe_tensors(n_layers: int = 2, n_experts: int = 4, qtype=GGMLQuantizationType.Q4_0,
                n_embd: int = 64, n_ff: int = 96) -> list[tuple[str, GGMLQuantizationType, tuple[int, ...]]]:
    """A tiny MoE model: attention, router, 3-D expert weights and 2-D expert biases per layer."""
    F32, F16 = GGMLQuantizationType.F32, GGMLQuantizationType.F16
    out = [("token_embd.weight", F16, (n_embd, 50))]
    for b in range(n_layers):
        out += [
            (f"blk.{b}.attn_norm.weight", F32, (n_embd,)),
            (f"blk.{b}.attn_q.weight", F16, (n_embd, n_embd)),
            (f"blk.{b}.attn_q.bias", F32, (n_embd,)),
            (f"blk.{b}.ffn_gate_inp.weight", F32, (n_embd, n_experts)),
            (f"blk.{b}.ffn_gate_exps.weight", qtype, (n_embd, n_ff, n_experts)),
            (f"blk.{b}.ffn_down_exps.weight", qtype, (n_ff, n_embd, n_experts)),
            (f"blk.{b}.ffn_up_exps.weight", qtype, (n_embd, n_ff, n_experts)),
            (f"blk.{b}.ffn_gate_exps.bias", F32, (n_ff, n_experts)),
        ]
    out += [("output_norm.weight", F32, (n_embd,)), ("output.weight", F16, (n_embd, 50))]
    return out


def moe_metadata(arch: str, n_layers: int = 2, n_experts: int = 4) -> dict:
    U32 = GGUFValueType.UINT32
    return {
        f"{arch}.block_count": (n_layers, U32),
        f"{arch}.expert_count": (n_experts, U32),
        f"{arch}.expert_used_count": (2, U32),
        f"{arch}.embedding_length": (64, U32),
        "tokenizer.ggml.tokens": ([f"tok{i}" for i in range(50)], GGUFValueType.ARRAY),
    }


def write_moe_gguf(path: Path, **kwargs) -> Path:
    arch = "testmoe"
    return write_gguf(path, moe_tensors(), arch=arch, metadata=moe_metadata(arch), **kwargs)


def tensor_info_fields(data: bytes, name: str) -> dict[str, int]:
    """Byte offsets of a tensor-info entry's fields, found by searching for its name."""
    key = struct.pack("<Q", len(name)) + name.encode()
    at = data.find(key)
    assert at >= 0, name
    n_dims_at = at + len(key)
    (n_dims,) = struct.unpack_from("<I", data, n_dims_at)
    type_at = n_dims_at + 4 + 8 * n_dims
    return {"name": at, "n_dims": n_dims_at, "ne0": n_dims_at + 4, "type": type_at, "offset": type_at + 4}


def kv_fields(data: bytes, key: str) -> dict[str, int]:
    """Byte offsets of a metadata entry's key, value type and value, found by searching for its key."""
    raw = struct.pack("<Q", len(key)) + key.encode()
    at = data.find(raw)
    assert at >= 0, key
    vtype_at = at + len(raw)
    return {"key": at, "type": vtype_at, "value": vtype_at + 4}


_REPLICA: dict[str, Path] = {}


def shared_replica(tmp_path_factory) -> Path:
    """The GPT-OSS-20B replica, built once per test session in its own cache folder."""
    if "path" not in _REPLICA:
        from warehouse.demo.layout import REPLICA_NAME, build_replica

        folder = tmp_path_factory.mktemp("moewh-cache")
        path = folder / REPLICA_NAME
        build_replica(path)
        _REPLICA["path"] = path
    return _REPLICA["path"]
