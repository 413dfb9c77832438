"""The scheduler eval callback: every token's expert ids and router weights, and op records.

llama.cpp's scheduler calls ``cb_eval(tensor, ask=True)`` for every node of a graph before
computing it; a node for which the callback answers True is computed (with everything before
it) and handed over again with ``ask=False``, its data now readable. The callback answers True
only for routing tensors, so the graph runs in a few large pieces (one per MoE layer once the
first graph has shown which weight tensor comes last):

- ``ffn_moe_topk-N``: the selected expert ids of layer N, ``[k, n_tokens]`` (a strided view
  of the argsort of all experts; every token's row is read, not just the first);
- the router weights as applied, the last of the chain that ``build_moe_ffn`` names:
  ``ffn_moe_weights-N`` (probabilities of the selected experts), then, depending on the
  architecture, ``ffn_moe_weights_softmax-N`` (gpt-oss: softmax over the k selected logits),
  ``ffn_moe_weights_norm-N`` (qwen3moe and others: renormalised to sum 1) and
  ``ffn_moe_weights_scaled-N`` (times expert_weights_scale). The first graph asks for the
  ids and every name of the chain; later graphs only for the weight tensor that came last in
  each layer, and read the ids then (computed before it, and still alive: the expert matmuls
  after it read them).

With ``ops=True`` each node that does work (not a view, reshape, permute or transpose) also
becomes an op record as the 1024-byte tracer writes it: op, output name, layer (of the weight
it reads), up to four sources with name, data pointer, size, layer, DISK (a model weight: the
GGUF file offset from the layout) or BUFFER (the backend buffer), and for MUL_MAT_ID / ADD_ID
the first token's ids.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .ggml import Ggml, GgmlTensor

TOPK_PREFIX = b"ffn_moe_topk-"
WEIGHT_CHAIN = (b"ffn_moe_weights", b"ffn_moe_weights_softmax", b"ffn_moe_weights_norm",
                b"ffn_moe_weights_scaled")
EMPTY_OPS = frozenset({"NONE", "RESHAPE", "VIEW", "PERMUTE", "TRANSPOSE"})
EXPERT_ID_OPS = frozenset({"MUL_MAT_ID", "ADD_ID"})
NO_LAYER = 0xFFFF
PASS_START_DST = b"inp_embd"
MAX_SOURCES, MAX_RECORD_IDS = 4, 16
_OTHER, _TOPK, _WEIGHTS = 0, 1, 2
_WEIGHT_LAYER = re.compile(rb"^blk\.(\d+)\.")
_SUFFIX_LAYER = re.compile(rb"-(\d+)$")


@dataclass
class WeightInfo:
    """A model weight as the layout knows it (for DISK sources)."""

    offset: int  # absolute GGUF file offset
    index: int  # position in the GGUF tensor table


@dataclass
class PassRouting:
    """What one graph evaluation routed: per layer, [n_tokens_in_layer, k] ids and weights."""

    ids: dict[int, np.ndarray] = field(default_factory=dict)
    weights: dict[int, dict[bytes, np.ndarray]] = field(default_factory=dict)


class Collector:
    """Holds the callback and everything it collects; one per llama context.

    The runner calls ``begin_pass`` and sets ``label`` (token counter, phase) before each
    ``llama_decode``, which evaluates one graph (one pass), and ``end_pass`` after it.
    """

    def __init__(self, ggml: Ggml, k: int, weights: dict[str, WeightInfo], op_code_of: dict[str, int],
                 ops: bool = True):
        import llama_cpp

        self.ggml, self.k = ggml, k
        self.layout = {name.encode(): info for name, info in weights.items()}
        self.op_code_of = op_code_of  # op name -> code in the trace's op table
        self.ops = ops
        self.passes: list[PassRouting] = []
        self.records: list[tuple] = []
        self.label = (0, 0)  # (token counter, phase 0 prompt / 1 generate)
        self.error: BaseException | None = None
        self._weight_names: set[bytes] | None = None  # learnt from the first pass
        self._names_seen: set[bytes] = set()
        self._layer_of_name: dict[bytes, tuple[int | None, int]] = {}
        self._weight_src: dict[int, tuple] = {}
        self._pass_src: dict[int, tuple] = {}
        self._ids_first: dict[int, np.ndarray] = {}
        self._topk_ptr: dict[int, int] = {}
        self._kinds: dict[bytes, tuple[int, int]] = {}
        self._pass_open: bool | None = None
        self._pass_recorded = True
        self.reuse_count = None  # set by the runner: the context's count of reused graphs
        self._reuse_seen = 0
        self.reused_passes = 0  # passes whose records came from the reused graph's template
        self._pass_rows: list[tuple] = []  # this pass's records: (ts, layer, op, name, sources, id layer)
        self._template: list[tuple] | None = None  # the last built graph's records, keyed by node
        self._building: list[tuple] = []
        self._tpl_mode = False
        self._tpl_ts: list[int] = []
        self._thread = threading.get_native_id() & 0xFFFF
        self.callback = llama_cpp.ggml_backend_sched_eval_callback(self._callback)

    # -- the C callback -------------------------------------------------------------------

    def _callback(self, ptr, ask, _user):
        try:
            t = GgmlTensor.from_address(ptr)
            if ask:
                return self._ask(ptr, t)
            self._read(ptr, t)
            return True
        except BaseException as exc:  # an exception must not cross into C; re-raised after decode
            if self.error is None:
                self.error = exc
            return False if not ask else True

    def _ask(self, ptr: int, t: GgmlTensor) -> bool:
        name = t.name
        if self._pass_open is False:
            self.ggml.check_layout(ptr, t)
            self._pass_open = True
            if self.ops:
                n = self.reuse_count() if self.reuse_count is not None else 0
                # llama.cpp reused the previous graph: the same nodes, sources and buffers, so
                # the records are the last built graph's, with new times, labels and ids.
                self._tpl_mode = n > self._reuse_seen and self._template is not None
                self._reuse_seen = n
        if self.ops:
            if self._tpl_mode:
                i = len(self._tpl_ts)
                if i < len(self._template) and self._template[i][0] == ptr:
                    self._tpl_ts.append(time.monotonic_ns())
            else:
                op = self.ggml.op_name(t.op)
                if op not in EMPTY_OPS:
                    if not self._pass_recorded:
                        # The old tracer's pass marker (see records.py): newer llama.cpp names the
                        # token-embedding lookup "embd"; inp_embd is its unused vector-input twin.
                        self._pass_recorded = True
                        if op == "GET_ROWS":
                            name = PASS_START_DST
                    self._record(ptr, t, name, op)
                    name = t.name
        kind, layer = self._kind(name)
        if kind == _TOPK:
            self._topk_ptr[layer] = ptr
            return self._weight_names is None
        if kind == _WEIGHTS:
            return self._weight_names is None or name in self._weight_names
        return False

    def _kind(self, name: bytes) -> tuple[int, int]:
        got = self._kinds.get(name)
        if got is None:
            base, _, layer = name.rpartition(b"-")
            if not layer.isdigit():
                got = (_OTHER, -1)
            elif name.startswith(TOPK_PREFIX):
                got = (_TOPK, int(layer))
            elif base in WEIGHT_CHAIN:
                got = (_WEIGHTS, int(layer))
            else:
                got = (_OTHER, -1)
            self._kinds[name] = got
        return got

    def begin_pass(self) -> None:
        """Called before each llama_decode (one graph evaluation: n_ubatch = n_batch)."""
        self.passes.append(PassRouting())
        self._ids_first = {}
        self._pass_src = {}
        self._topk_ptr = {}
        self._pass_open = False
        self._pass_recorded = False
        self._pass_rows, self._building, self._tpl_ts, self._tpl_mode = [], [], [], False

    def end_pass(self) -> None:
        """Called after each llama_decode: label the pass's records and fill their expert ids."""
        self._finish_pass_names()
        if not self.ops:
            return
        if self._tpl_mode:
            self.reused_passes += 1
            if len(self._tpl_ts) != len(self._template):
                raise RuntimeError(f"a reused graph ran {len(self._tpl_ts)} of the {len(self._template)} "
                                   "recorded operations")
            rows = [(ts, *entry[1:]) for ts, entry in zip(self._tpl_ts, self._template, strict=True)]
        else:
            rows = self._pass_rows
            self._template = self._building
        token, phase = self.label
        thread, ids = self._thread, self._ids_first
        self.records.extend((ts, token, layer, thread, op, phase, name, sources,
                             None if id_layer is None else ids.get(id_layer))
                            for ts, layer, op, name, sources, id_layer in rows)

    def _read(self, ptr: int, t: GgmlTensor) -> None:
        if not self.passes:
            raise RuntimeError("routing tensor outside a graph evaluation")
        current = self.passes[-1]
        name = t.name
        kind, layer = self._kind(name)
        if kind == _TOPK:
            self._read_ids(current, layer, ptr, t)
        elif kind == _WEIGHTS:
            if layer not in current.ids:
                # Later passes ask only for the weights; the id tensor they were gathered with is
                # computed before them and still alive (the expert matmuls read it afterwards).
                topk = self._topk_ptr.get(layer)
                if topk is None:
                    raise RuntimeError(f"layer {layer}: router weights without an ffn_moe_topk tensor")
                self._read_ids(current, layer, topk, GgmlTensor.from_address(topk))
            w = self.ggml.read_2d(ptr, t, np.float32).reshape(-1, self.k)  # [1, k, T] or [k, T]
            current.weights.setdefault(layer, {})[name.rpartition(b"-")[0]] = w

    def _read_ids(self, current: PassRouting, layer: int, ptr: int, t: GgmlTensor) -> None:
        ids = self.ggml.read_2d(ptr, t, np.int32)
        current.ids[layer] = ids
        self._ids_first[layer] = ids[0, :MAX_RECORD_IDS]

    def _finish_pass_names(self) -> None:
        """After the first pass: keep asking only for the last weight name of each layer."""
        if self._weight_names is not None or not self.passes:
            return
        keep = set()
        for layer, found in self.passes[0].weights.items():
            last = max(found, key=WEIGHT_CHAIN.index)
            keep.add(last + b"-" + str(layer).encode())
        self._weight_names = keep

    # -- op records -----------------------------------------------------------------------

    def _name_layer(self, name: bytes) -> tuple[int | None, int]:
        """(layer of a model weight name or None, layer of any -N suffix or NO_LAYER)."""
        got = self._layer_of_name.get(name)
        if got is None:
            m = _WEIGHT_LAYER.match(name)
            s = _SUFFIX_LAYER.search(name)
            got = (int(m.group(1)) if m else None, int(s.group(1)) if s else NO_LAYER)
            self._layer_of_name[name] = got
        return got

    def _source(self, sp: int, s: GgmlTensor | None = None) -> tuple | None:
        """A source's fields as the record stores them. Weights are cached for the context's life
        (model tensors never move); other tensors for the pass (a graph's tensors are fixed while
        it runs, and most sources are nodes seen just before)."""
        cached = self._weight_src.get(sp) or self._pass_src.get(sp)
        if cached is not None:
            return cached
        if s is None:
            s = GgmlTensor.from_address(sp)
        if not s.data:
            return None
        name = s.name
        info = self.layout.get(name)
        if name.startswith(TOPK_PREFIX):
            size = 4 * s.ne[0] * s.ne[1] * s.ne[2]  # as the tracer states it: 4 * k * n_tokens
        else:
            size = self.ggml.nbytes(sp)
        if info is not None and self.ggml.is_weight_buffer(s.buffer):
            layer = self._name_layer(name)[0]
            src = (name, s.data, size & 0xFFFFFFFF, NO_LAYER if layer is None else layer, 0, info.offset,
                   info.index)
            self._weight_src[sp] = src
            return src
        src = (name, s.data, size & 0xFFFFFFFF, NO_LAYER, 1, s.buffer or 0, 0xFFFFFFFF)
        self._pass_src[sp] = src
        return src

    def _record(self, ptr: int, t: GgmlTensor, name: bytes, op: str) -> None:
        sources = []
        for sp in t.src:
            if not sp:
                break
            src = self._source(sp)
            if src is not None:
                sources.append(src)
                if len(sources) == MAX_SOURCES:
                    break
        layer = next((s[3] for s in sources if s[4] == 0 and s[3] != NO_LAYER), NO_LAYER)
        id_layer = self._name_layer(name)[1] if op in EXPERT_ID_OPS else None
        row = (time.monotonic_ns(), layer, self.op_code_of.get(op, 255), name, sources, id_layer)
        self._pass_rows.append(row)
        self._building.append((ptr, *row[1:]))
