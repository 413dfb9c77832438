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
the first token's ids. Nodes are read one by one only when llama.cpp builds a graph; when it
reuses the previous one (``n_reused`` of its perf counters grows: same nodes, sources and
buffers, as for nearly every one-token decode step), the pass replays the built graph's nodes
by pointer, checking each, and its records are the built ones with new times, labels and ids.
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
        self.reused_passes = 0  # passes run on a graph llama.cpp reused
        # A built graph's nodes [ptr, name, recorded] and op records (layer, op, name, sources,
        # id layer); a reused graph is the same nodes, so its pass replays them.
        self._nodes: list[list] = []
        self._rows: list[tuple] = []
        self._row_ts: list[int] = []
        self._tpl_nodes: list[list] | None = None
        self._tpl_key = -1
        self._templates: dict[int, list[tuple]] = {}
        self._tpl_mode = False
        self._tpl_i = 0
        self._tpl_broken = False
        # op records per pass: (template key, timestamps, token, phase, first-token ids by layer)
        self._blocks: list[tuple] = []
        self._thread = threading.get_native_id() & 0xFFFF
        self.callback = llama_cpp.ggml_backend_sched_eval_callback(self._callback)

    # -- the C callback -------------------------------------------------------------------

    def _callback(self, ptr, ask, _user):
        try:
            if not ask:
                self._read(ptr, GgmlTensor.from_address(ptr))
                return True
            if self._pass_open is False:
                self._open_pass(ptr)
            if self._tpl_mode:
                return self._ask_reused(ptr)
            return self._ask(ptr, GgmlTensor.from_address(ptr))
        except BaseException as exc:  # an exception must not cross into C; re-raised after decode
            if self.error is None:
                self.error = exc
            return False if not ask else True

    def _open_pass(self, ptr: int) -> None:
        self.ggml.check_layout(ptr, GgmlTensor.from_address(ptr))
        self._pass_open = True
        n = self.reuse_count() if self.reuse_count is not None else 0
        # llama.cpp reused the previous graph: the same nodes, sources and buffers.
        self._tpl_mode = n > self._reuse_seen and self._tpl_nodes is not None
        self._reuse_seen = n

    def _ask(self, ptr: int, t: GgmlTensor) -> bool:
        name = t.name
        node = [ptr, name, False]
        self._nodes.append(node)
        if self.ops:
            op = self.ggml.op_name(t.op)
            if op not in EMPTY_OPS:
                dst = name
                if not self._pass_recorded:
                    # The old tracer's pass marker (see records.py): newer llama.cpp names the
                    # token-embedding lookup "embd"; inp_embd is its unused vector-input twin.
                    self._pass_recorded = True
                    if op == "GET_ROWS":
                        dst = PASS_START_DST
                self._record(t, dst, op)
                node[2] = True
        return self._need(ptr, name)

    def _ask_reused(self, ptr: int) -> bool:
        i = self._tpl_i
        nodes = self._tpl_nodes
        if i >= len(nodes) or nodes[i][0] != ptr:
            self._tpl_broken = True
            return self._need(ptr, GgmlTensor.from_address(ptr).name)
        self._tpl_i = i + 1
        node = nodes[i]
        if node[2]:
            self._row_ts.append(time.monotonic_ns())
        return self._need(ptr, node[1])

    def _need(self, ptr: int, name: bytes) -> bool:
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
        self._nodes, self._rows, self._row_ts = [], [], []
        self._tpl_mode, self._tpl_i, self._tpl_broken = False, 0, False

    def end_pass(self) -> None:
        """Called after each llama_decode: keep the pass's op records with its labels and ids."""
        self._finish_pass_names()
        if self._tpl_mode:
            self.reused_passes += 1
            if self._tpl_broken or self._tpl_i != len(self._tpl_nodes):
                raise RuntimeError(f"llama.cpp reused a graph, but {self._tpl_i} of its {len(self._tpl_nodes)} "
                                   "nodes ran as recorded")
        else:
            self._tpl_nodes = self._nodes
            if self.ops:
                self._tpl_key += 1
                self._templates[self._tpl_key] = self._rows
        if self.ops:
            token, phase = self.label
            self._blocks.append((self._tpl_key, self._row_ts, token, phase, dict(self._ids_first)))

    def record_array(self) -> np.ndarray:
        """Every pass's op records as one ``RECORD_DTYPE`` array, in execution order."""
        from .records import to_records

        built: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        parts = []
        for key, ts, token, phase, ids in self._blocks:
            if key not in built:
                rows = self._templates[key]
                base = to_records([(1, 0, layer, self._thread, op, 0, name, sources, None)
                                   for layer, op, name, sources, _ in rows])
                id_layers = np.array([-1 if r[4] is None else r[4] for r in rows], np.int64)
                built[key] = base, id_layers
            base, id_layers = built[key]
            a = base.copy()
            if len(ts) != len(a):
                raise RuntimeError(f"a pass has {len(ts)} timestamps for {len(a)} records")
            a["timestamp_ns"] = np.maximum(np.array(ts, np.uint64), 1)
            a["token_id"] = token
            a["phase"] = phase
            for layer in np.unique(id_layers[id_layers >= 0]).tolist():
                got = ids.get(layer)
                if got is not None:
                    sel = id_layers == layer
                    a["expert_ids"][sel, :len(got)] = got
                    a["num_experts"][sel] = len(got)
            parts.append(a)
        from ..formats.trace.records import RECORD_DTYPE

        return np.concatenate(parts) if parts else np.zeros(0, RECORD_DTYPE)

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

    def _record(self, t: GgmlTensor, name: bytes, op: str) -> None:
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
        self._row_ts.append(time.monotonic_ns())
        self._rows.append((layer, self.op_code_of.get(op, 255), name, sources, id_layer))
