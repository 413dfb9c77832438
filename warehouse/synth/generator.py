"""Deterministic synthetic GPT-OSS-20B traces with known expert selections (see package doc)."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from ..formats.trace import op_tables
from ..formats.trace.records import RECORD_DTYPE, RECORD_SIZE
from ..paths import DATA_DIR
from . import encode

REFERENCE_TRACE = DATA_DIR / "gpt-oss-20b" / "tensor_trace.bin"
N_EXPERTS = 32
EXPERTS_USED = 4
N_LAYERS = 24
TOPK_PREFIX = b"ffn_moe_topk-"
PASS_START = b"inp_embd"
# Bumped whenever the generator writes different bytes for the same arguments, so that cached
# traces (the demo's) are regenerated.
GENERATOR_VERSION = 2
PROBS_PREFIX = b"ffn_moe_probs-"
_MOE_OPS = (op_tables.code_of(op_tables.DEFAULT_TABLE, "MUL_MAT_ID"), op_tables.code_of(op_tables.DEFAULT_TABLE, "ADD_ID"))


@cache
def template() -> np.ndarray:
    """The first graph evaluation of the real GPT-OSS-20B trace: 848 records (read-only)."""
    rec = np.fromfile(REFERENCE_TRACE, dtype=RECORD_DTYPE)
    starts = np.flatnonzero(rec["dst_name"] == b"inp_embd")
    first = rec[starts[0] : starts[1]].copy()
    first.flags.writeable = False
    return first


@dataclass
class PassTruth:
    pass_id: int
    token_id: int
    phase: str  # PROMPT | GENERATE
    n_tokens: int
    is_warmup: bool
    first_record_id: int  # record index in the file (holes included)
    n_records: int
    selections: dict[int, list[int]] = field(default_factory=dict)  # layer -> k experts in rank order
    recorded_ids: dict[int, list[int]] = field(default_factory=dict)  # layer -> ids in the records


@dataclass
class Truth:
    """What the generator wrote, for tests to compare the warehouse against."""

    path: Path
    source_format: str  # trace-1024 | trace-256 | token-json
    domain: str
    seed: int
    k: int
    n_experts: int
    n_layers: int
    passes: list[PassTruth]
    n_records: int  # used records
    record_size: int
    file_size: int
    hole_records: int
    zero_tail_bytes: int
    partial_bytes: int
    partial_offset: int | None
    op_counts: dict[str, int]

    def selection_rows(self) -> list[tuple[int, int, int, int]]:
        """(pass_id, layer_id, rank, expert_id) for every selected expert, sorted."""
        rows = [
            (p.pass_id, layer, rank, e)
            for p in self.passes
            if not p.is_warmup
            for layer, ids in p.selections.items()
            for rank, e in enumerate(ids)
        ]
        return sorted(rows)

    @property
    def n_passes(self) -> int:
        return len(self.passes)

    @property
    def warmup_passes(self) -> int:
        return sum(p.is_warmup for p in self.passes)


def popularity(domain: str, layer: int, n_experts: int = N_EXPERTS, skew: float = 1.1) -> np.ndarray:
    """Fixed per-(domain, layer) expert popularity: Zipf weights over a seeded permutation."""
    rng = np.random.default_rng([zlib.crc32(domain.encode()), layer])
    w = np.empty(n_experts)
    w[rng.permutation(n_experts)] = 1.0 / np.arange(1, n_experts + 1) ** skew
    return w / w.sum()


class _Router:
    """Per-layer selections with token-to-token stickiness."""

    def __init__(self, domain: str, rng: np.random.Generator, k: int, n_experts: int, n_layers: int,
                 stickiness: float):
        self.rng, self.k, self.n_experts, self.stickiness = rng, k, n_experts, stickiness
        self.weights = [popularity(domain, layer, n_experts) for layer in range(n_layers)]
        self.prev: dict[int, list[int]] = {}

    def select(self, layer: int) -> list[int]:
        rng, w = self.rng, self.weights[layer]
        prev = self.prev.get(layer)
        keep = []
        if prev:
            n_keep = rng.binomial(self.k, self.stickiness)
            keep = list(rng.choice(prev, size=n_keep, replace=False))
        p = w.copy()
        p[keep] = 0
        fresh = rng.choice(self.n_experts, size=self.k - len(keep), replace=False, p=p / p.sum())
        chosen = np.array(keep + list(fresh), dtype=np.int64)
        # Rank order: the router's score, popular experts usually first.
        score = np.log(w[chosen]) + rng.gumbel(size=len(chosen))
        ranked = [int(e) for e in chosen[np.argsort(-score, kind="stable")]]
        self.prev[layer] = ranked
        return ranked

    def full_ranking(self) -> list[int]:
        return [int(e) for e in self.rng.permutation(self.n_experts)]


def _pass_records(tpl: np.ndarray, t0: int, token: int, phase: int, n_tokens: int, ne0: int,
                  ids: dict[int, list[int]], n_recorded: int) -> np.ndarray:
    rec = tpl.copy()
    rel = tpl["timestamp_ns"].astype(np.int64) - int(tpl["timestamp_ns"][0])
    rec["timestamp_ns"] = t0 + rel
    rec["token_id"] = token
    rec["phase"] = phase
    moe = np.isin(rec["operation_type"], _MOE_OPS) & (rec["num_experts"] > 0)
    layers = rec["layer_id"].astype(np.int64)
    last_layer = int(layers[moe].max())
    expert_ids = np.zeros((len(rec), 16), dtype=np.int32)
    for i in np.flatnonzero(moe):
        row = ids[int(layers[i])][:n_recorded]
        expert_ids[i, : len(row)] = row
    rec["expert_ids"] = expert_ids
    rec["num_experts"] = np.where(moe, n_recorded, 0)
    # The id tensor ffn_moe_topk-N is [ne0, n_tokens] int32; the probabilities [n_experts, n_tokens]
    # f32. llama.cpp evaluates the last layer for the output token only.
    names = rec["sources"]["name"]
    src_layer = np.char.rpartition(names, b"-")[..., 2]
    is_last = src_layer == str(last_layer).encode()
    tokens = np.where(is_last, 1, n_tokens)
    sizes = rec["sources"]["size_bytes"]
    topk = np.char.startswith(names, TOPK_PREFIX)
    probs = np.char.startswith(names, PROBS_PREFIX)
    sizes[topk] = (4 * ne0 * tokens)[topk]
    sizes[probs] = (4 * N_EXPERTS * tokens)[probs]
    # The pass's first record, GET_ROWS(token_embd.weight, inp_tokens) -> inp_embd, gathers one
    # embedding row per token: its index source (slot 1) is n_tokens int32 ids.
    sizes[rec["dst_name"] == PASS_START, 1] = 4 * n_tokens
    rec["sources"]["size_bytes"] = sizes
    return rec


def generate_records(*, domain: str, n_steps: int, seed: int, warmup: bool = True, prompt_tokens: int = 8,
                     k: int = EXPERTS_USED, stickiness: float = 0.4, warmup_tokens: int = 2,
                     start_ns: int = 600_000_000_000_000):
    """Yield ``(records, PassTruth)`` per graph evaluation (record ids not yet assigned)."""
    tpl = template()
    rng = np.random.default_rng([seed, zlib.crc32(domain.encode())])
    router = _Router(domain, rng, k, N_EXPERTS, N_LAYERS, stickiness)
    duration = int(tpl["timestamp_ns"][-1]) - int(tpl["timestamp_ns"][0])
    t = start_ns
    plan = []
    if warmup:
        plan.append(("warmup", 0, 0, warmup_tokens))
    if prompt_tokens:
        plan.append(("prompt", 0, 0, prompt_tokens))
    plan += [("decode", step, 1, 1) for step in range(1, n_steps + 1)]
    for pass_id, (kind, token, phase, n_tokens) in enumerate(plan):
        if kind == "warmup":
            ranking = {layer: router.full_ranking() for layer in range(N_LAYERS)}
            rec = _pass_records(tpl, t, token, phase, n_tokens, N_EXPERTS, ranking, 16)
            truth = PassTruth(pass_id, token, "PROMPT", n_tokens, True, -1, len(rec), {},
                              {layer: r[:16] for layer, r in ranking.items()})
        else:
            sel = {layer: router.select(layer) for layer in range(N_LAYERS)}
            rec = _pass_records(tpl, t, token, phase, n_tokens, k, sel, min(k, 16))
            truth = PassTruth(pass_id, token, "PROMPT" if phase == 0 else "GENERATE", n_tokens, False, -1,
                              len(rec), sel, {layer: s[:16] for layer, s in sel.items()})
        t += duration + int(rng.integers(2_000_000, 9_000_000))
        yield rec, truth


def generate_run(path: str | os.PathLike, *, domain: str, n_steps: int, seed: int, warmup: bool = True,
                 prompt_tokens: int = 8, k: int = EXPERTS_USED, stickiness: float = 0.4,
                 source_format: str = "trace-1024", zero_tail_records: int = 0, holes: int = 0,
                 hole_records: int = 3, partial_bytes: int = 0, corrupt: dict | None = None) -> Truth:
    """Write a synthetic trace to ``path`` and return its ``Truth`` (see the package docstring)."""
    path = Path(path)
    rng = np.random.default_rng([seed, 7])
    chunks: list[np.ndarray] = []
    truths: list[PassTruth] = []
    for rec, truth in generate_records(domain=domain, n_steps=n_steps, seed=seed, warmup=warmup,
                                       prompt_tokens=prompt_tokens, k=k, stickiness=stickiness):
        chunks.append(rec)
        truths.append(truth)
    allrec = np.concatenate(chunks) if chunks else np.zeros(0, RECORD_DTYPE)
    if corrupt:
        for index, fields in corrupt.items():
            for name, value in fields.items():
                allrec[name][index] = value
    n_used = len(allrec)

    # Holes: runs of unused records between used ones, at random places (never first).
    slot_of = np.arange(n_used, dtype=np.int64)
    if holes and n_used > 1:
        at = np.sort(rng.choice(np.arange(1, n_used), size=min(holes, n_used - 1), replace=False))
        for a in at:
            slot_of[a:] += hole_records
    n_slots = int(slot_of[-1]) + 1 if n_used else 0
    first = 0
    for tr in truths:
        tr.first_record_id = int(slot_of[first])
        first += tr.n_records

    counts: dict[str, int] = {}
    names = op_tables.names(op_tables.DEFAULT_TABLE)
    for code, c in zip(*np.unique(allrec["operation_type"], return_counts=True), strict=True):
        counts[names[code]] = int(c)

    partial_offset = None
    if source_format == "trace-1024":
        with open(path, "wb") as f:
            if not holes:
                encode.write_records(f, allrec)
            else:
                out = np.zeros(n_slots, RECORD_DTYPE)
                out[slot_of] = allrec
                encode.write_records(f, out)
            size = n_slots * RECORD_SIZE
            if zero_tail_records:
                size += zero_tail_records * RECORD_SIZE
                f.truncate(size)  # sparse: no bytes written for the tail
            if partial_bytes:
                f.seek(size)
                partial_offset = size
                # The start of the next evaluation, cut short.
                f.write(template()[:1].tobytes()[:partial_bytes])
                size += partial_bytes
        record_size = RECORD_SIZE
        file_size = os.path.getsize(path)
    elif source_format == "trace-256":
        legacy = encode.legacy_records(allrec)
        path.write_bytes(legacy.tobytes())
        record_size, file_size = 256, len(legacy) * 256
        names_legacy = op_tables.names(op_tables.LEGACY_TABLE)
        counts = {names_legacy[c]: int(n) for c, n in zip(*np.unique(legacy["operation_type"], return_counts=True), strict=True)}
        kept = encode.legacy_op_codes(allrec["operation_type"]) != 255
        n_used = int(kept.sum())
        # Record ids shift when records are left out; recompute pass starts.
        new_index = np.cumsum(kept) - 1
        first = 0
        for tr in truths:
            tr.first_record_id = int(new_index[first])
            tr.n_records = int(kept[first:first + tr.n_records].sum())
            first += len(template())
            tr.selections, tr.recorded_ids = {}, {}
        n_slots = n_used
    elif source_format == "token-json":
        encode.write_token_json(path, allrec)
        record_size, file_size = RECORD_SIZE, 0
    else:
        raise ValueError(f"unknown source_format {source_format!r}")

    return Truth(
        path=path, source_format=source_format, domain=domain, seed=seed, k=k, n_experts=N_EXPERTS,
        n_layers=N_LAYERS, passes=truths, n_records=n_used, record_size=record_size, file_size=file_size,
        hole_records=int(n_slots - n_used) if source_format == "trace-1024" else 0,
        zero_tail_bytes=zero_tail_records * RECORD_SIZE if source_format == "trace-1024" else 0,
        partial_bytes=partial_bytes if source_format == "trace-1024" else 0, partial_offset=partial_offset,
        op_counts=counts,
    )


def write_large(path: str | os.PathLike, n_records: int, *, seed: int = 0, domain: str = "code",
                zero_tail_records: int = 0) -> int:
    """Stream a GPT-OSS-shaped trace of about ``n_records`` records (whole passes) to ``path``
    without holding it in memory; returns the records written. For benchmarks and kill tests."""
    written = 0
    n_steps = -(-n_records // len(template()))
    with open(path, "wb") as f:
        for rec, _ in generate_records(domain=domain, n_steps=n_steps, seed=seed, warmup=True, prompt_tokens=8):
            if written >= n_records:
                break
            encode.write_records(f, rec)
            written += len(rec)
        if zero_tail_records:
            f.truncate((written + zero_tail_records) * RECORD_SIZE)
    return written
