"""The decoded form every routing importer produces: plain NumPy arrays, no database.

One ``Routes`` is one run. Its main arrays hold one row per token position, MoE layer and
rank (the router's choice order, 0 = first choice). Unknown values use sentinels so that the
arrays stay plain NumPy: ``-1`` for an unknown token id, step, pass or residency, NaN for an
unknown weight. ``warehouse.ingest.routing.ingest_routes`` writes a ``Routes`` into the
warehouse; the capture helper builds the same object from llama.cpp's eval callback.

Phases: ``PROMPT`` (0) for prompt (prefill) tokens, ``GENERATE`` (1) for generated tokens.
``step`` numbers a run's generated tokens 0, 1, 2, ... (one generated token = one decode
step); prompt tokens have step -1. Residency as the recorder reported its own cache:
``MISS`` 0, ``HIT`` 1, ``PREFETCH_HIT`` 2, -1 unknown. ``trusted`` is False for rows the
recorder itself may have got wrong (llama.cpp's moe-trace prompt rows after the first token).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PROMPT, GENERATE = 0, 1
PHASE_NAMES = ("prompt", "generate")
MISS, HIT, PREFETCH_HIT = 0, 1, 2
RESIDENCY_NAMES = ("miss", "hit", "prefetch-hit")
UNKNOWN = -1

# Column name -> dtype of the per-row arrays, in the interchange/table order.
ROW_DTYPES = {
    "position": np.int64,
    "token_id": np.int64,
    "phase": np.int8,
    "step": np.int32,
    "pass_id": np.int32,
    "layer_id": np.int32,
    "rank": np.int16,
    "expert_id": np.int32,
    "weight": np.float64,
    "recorded_residency": np.int8,
    "trusted": np.bool_,
}


@dataclass
class Tokens:
    """One row per token position of the run (prompt and generated)."""

    position: np.ndarray  # int64
    token_id: np.ndarray  # int64, -1 unknown
    phase: np.ndarray  # int8
    step: np.ndarray  # int32, -1 for prompt tokens
    pass_id: np.ndarray  # int32, -1 unknown
    piece: list[str | None] | None = None  # text of each token, None if unknown

    def __len__(self) -> int:
        return len(self.position)


@dataclass
class Counts:
    """Counts-only routing (no per-token rows): activations per layer and expert."""

    layer_id: np.ndarray  # int32
    expert_id: np.ndarray  # int32
    count: np.ndarray  # int64


@dataclass
class LayerBytes:
    """Per-layer byte sizes a recorder states (route_trace preamble): one expert's slices and the
    layer's dense weights."""

    layer_id: np.ndarray  # int32
    expert_bytes: np.ndarray  # int64
    dense_bytes: np.ndarray  # int64


@dataclass
class Routes:
    """One run's routing. Build with ``Routes.from_columns`` so dtypes and lengths are checked."""

    position: np.ndarray
    token_id: np.ndarray
    phase: np.ndarray
    step: np.ndarray
    pass_id: np.ndarray
    layer_id: np.ndarray
    rank: np.ndarray
    expert_id: np.ndarray
    weight: np.ndarray
    recorded_residency: np.ndarray
    trusted: np.ndarray
    source_format: str
    run_name: str | None = None  # suggested name (e.g. "turn 2"); the user's --name wins
    n_layers: int | None = None  # MoE layer grid the recorder states
    n_experts: int | None = None
    experts_used: int | None = None  # k
    model_name: str | None = None  # what the recorder says the model was
    architecture: str | None = None
    tokens: Tokens | None = None
    counts: Counts | None = None
    layer_bytes: LayerBytes | None = None
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.position)

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray], source_format: str, **facts) -> Routes:
        """Arrays by column name (missing optional ones become unknown), cast to ``ROW_DTYPES``."""
        n = len(columns["position"])
        defaults = {"token_id": UNKNOWN, "step": UNKNOWN, "pass_id": UNKNOWN, "weight": np.nan,
                    "recorded_residency": UNKNOWN, "trusted": True}
        arrays = {}
        for name, dtype in ROW_DTYPES.items():
            if name in columns and columns[name] is not None:
                a = np.asarray(columns[name])
                if len(a) != n:
                    raise ValueError(f"column {name} has {len(a)} rows, position has {n}")
                arrays[name] = np.ascontiguousarray(a, dtype=dtype)
            elif name in defaults:
                arrays[name] = np.full(n, defaults[name], dtype=dtype)
            else:
                raise ValueError(f"column {name} is required")
        return cls(**arrays, source_format=source_format, **facts)

    @classmethod
    def counts_only(cls, counts: Counts, source_format: str, **facts) -> Routes:
        empty = {name: np.zeros(0, dtype) for name, dtype in ROW_DTYPES.items()}
        return cls(**empty, source_format=source_format, counts=counts, **facts)

    def sorted(self) -> Routes:
        """The same routing ordered by position, layer and rank (the canonical order the run_id
        digest and the tables use)."""
        if len(self) < 2 or self._in_order():
            return self
        order = np.lexsort((self.rank, self.layer_id, self.position))
        cols = {name: getattr(self, name)[order] for name in ROW_DTYPES}
        facts = {k: getattr(self, k) for k in ("run_name", "n_layers", "n_experts", "experts_used", "model_name",
                                              "architecture", "tokens", "counts", "layer_bytes", "warnings")}
        return Routes(**cols, source_format=self.source_format, **facts)

    def _in_order(self) -> bool:
        # one composite key instead of a lexsort: most recorders already write in this order
        key = order_key(self.position, self.layer_id, self.rank)
        return key is not None and bool(np.all(key[1:] >= key[:-1]))

    def token_table(self) -> Tokens:
        """The run's tokens: the decoder's own when it has them, else one per routed position."""
        if self.tokens is not None:
            return self.tokens
        if not len(self):
            return Tokens(*(np.zeros(0, d) for d in (np.int64, np.int64, np.int8, np.int32, np.int32)))
        p = self.position
        if np.all(p[1:] >= p[:-1]):  # sorted rows: each position's first row starts a run of equal ones
            first = np.flatnonzero(np.concatenate(([True], p[1:] != p[:-1])))
        else:
            _, first = np.unique(p, return_index=True)
        return Tokens(p[first], self.token_id[first], self.phase[first], self.step[first], self.pass_id[first])


def order_key(position: np.ndarray, layer_id: np.ndarray, rank: np.ndarray) -> np.ndarray | None:
    """One int64 per row that orders rows as (position, layer, rank) does; None where that does
    not fit in 62 bits or a layer or rank is negative (then sort by the three columns)."""
    if not len(position):
        return np.zeros(0, np.int64)
    n_rank = int(rank.max()) + 1
    n_layer = int(layer_id.max()) + 1
    if int(position.max()) >= 2**62 // (n_rank * n_layer) or rank.min() < 0 or layer_id.min() < 0:
        return None
    key = np.multiply(position, n_layer, dtype=np.int64)
    key += layer_id
    key *= n_rank
    key += rank
    return key
