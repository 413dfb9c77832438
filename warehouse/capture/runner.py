"""Run a GGUF model in-process with stock llama.cpp (llama-cpp-python) and capture its routing.

``capture(model_path, prompt, settings)`` (or ``CaptureSession(...).run(prompt)`` for several
prompts on one loaded model) loads the model through llama-cpp-python's low-level
API with the scheduler eval callback of ``callback.Collector``, decodes the prompt in batches
of ``settings.n_batch`` tokens (one graph evaluation each: n_ubatch = n_batch) with every
prompt token's output requested (llama.cpp otherwise drops all but the last token before the
last layer's feed-forward, so that layer would route one token of the batch), then generates
up to ``n_predict`` tokens one at a time. Every generated token is also evaluated once (the
last one too), so each token of the run has its routing in every MoE layer. Generation stops
early at an end-of-generation token, which is not recorded.

Sampling is reproducible: ``temp <= 0`` is greedy; otherwise temperature then a seeded draw
(``llama_sampler_init_dist(seed)``).

The result, ``Capture``, is plain data: tokens (position, id, piece, phase, step, pass), one
routing row per token, MoE layer and rank (expert id and applied weight), the passes, the op
records in ``RECORD_DTYPE`` (``records.to_records``), and the facts to tag the run with.
"""

from __future__ import annotations

import collections
import ctypes
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError
from ..formats.gguf.layout import read_gguf_layout
from . import records as op_records
from .callback import WEIGHT_CHAIN, Collector, WeightInfo

INSTALL_HINT = ("moewh capture needs llama-cpp-python: pip install 'moe-trace-warehouse[capture]' "
                "(builds llama.cpp from source, a few minutes)")
PROMPT, GENERATE = 0, 1


class CaptureUnavailable(UsageError):
    """llama-cpp-python is not installed (exit 2 with the install hint)."""


@dataclass
class CaptureSettings:
    n_predict: int = 32
    seed: int = 0
    temp: float = 0.0
    n_ctx: int = 2048
    n_batch: int = 512
    n_threads: int | None = None  # None: every core
    ops: bool = True  # also collect op-level records

    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1

    def sampler_tag(self) -> str:
        return "greedy" if self.temp <= 0 else f"temp={self.temp:g},dist(seed={self.seed})"


@dataclass
class Capture:
    model_path: Path
    architecture: str
    n_layers: int
    n_experts: int
    k: int
    prompt: str
    moe_layers: list[int]
    weight_tensor: dict[int, str]  # layer -> name of the tensor the weights were read from
    # tokens, one row per position
    position: np.ndarray
    token_id: np.ndarray
    piece: list[str]
    phase: np.ndarray  # int8, PROMPT / GENERATE
    # int32: a generated token's decode step as v1.decode_steps numbers the run's passes (every
    # pass is one, the prompt batches first, so it equals pass_id); -1 for prompt tokens
    step: np.ndarray
    pass_id: np.ndarray  # int32: graph evaluation that routed the token
    # routing, one row per token, MoE layer and rank, ordered by position, layer, rank
    route_position: np.ndarray
    route_layer: np.ndarray
    route_rank: np.ndarray
    route_expert: np.ndarray
    route_weight: np.ndarray
    pass_tokens: list[int]  # tokens evaluated per pass
    records: np.ndarray | None  # RECORD_DTYPE op records, None without ops
    stop_reason: str  # "length" or "end-of-generation"
    reused_passes: int  # passes on a graph llama.cpp reused (op records from the previous build)
    seconds: float  # wall time of prompt processing plus generation
    facts: dict[str, str] = field(default_factory=dict)  # llama.cpp version, settings, threads

    @property
    def n_prompt(self) -> int:
        return int((self.phase == PROMPT).sum())

    @property
    def n_generated(self) -> int:
        return int((self.phase == GENERATE).sum())

    @property
    def generated_text(self) -> str:
        return "".join(p for p, ph in zip(self.piece, self.phase.tolist(), strict=True) if ph == GENERATE)

    def routing(self) -> tuple[np.ndarray, np.ndarray]:
        """(experts, weights), each [n_moe_layers, n_tokens, k] in ``moe_layers`` order."""
        n_tok, n_l = len(self.position), len(self.moe_layers)
        shape = (n_tok, n_l, self.k)
        return (self.route_expert.reshape(shape).transpose(1, 0, 2),
                self.route_weight.reshape(shape).transpose(1, 0, 2))


def require_llama_cpp() -> None:
    """Raise ``CaptureUnavailable`` (exit 2, with the install hint) unless llama-cpp-python imports."""
    _llama_cpp()


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise CaptureUnavailable(INSTALL_HINT) from exc
    return llama_cpp


_LOG_LINES: collections.deque[str] = collections.deque(maxlen=200)
_LOG_CALLBACK = None


def _quiet_logs(llama_cpp) -> None:
    """Keep llama.cpp's log in memory (the last lines explain a load failure) instead of stderr."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        def log(level, text, _user):
            _LOG_LINES.append(text.decode("utf-8", "replace") if text else "")

        _LOG_CALLBACK = llama_cpp.llama_log_callback(log)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def _last_error() -> str:
    """The most telling line of llama.cpp's log since the last ``_clear_log``: its first error
    (``error loading model: unknown model architecture: ...``), not the generic last one."""
    lines = [line.strip() for line in _LOG_LINES if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or \
             [line for line in lines if "failed" in line.lower()]
    return (errors or lines or ["no message"])[0]


def _clear_log() -> None:
    _LOG_LINES.clear()


def check_moe(path: Path):
    """The model's layout, refused unless it is a mixture-of-experts model llama.cpp can route."""
    layout = read_gguf_layout(path)
    arch = layout.architecture
    if arch is None:
        raise InputError(path, "key general.architecture: missing, so llama.cpp cannot run it")
    n_expert = layout.arch_int("expert_count")
    k = layout.arch_int("expert_used_count")
    exps = [t.name for t in layout.tensors if t.name.endswith("_exps.weight")]
    if not n_expert or not k or not exps:
        missing = [what for what, ok in ((f"{arch}.expert_count", n_expert), (f"{arch}.expert_used_count", k),
                                         ("ffn_*_exps.weight tensors", exps)) if not ok]
        raise InputError(path, f"not a mixture-of-experts model (architecture {arch}): no "
                               + ", no ".join(missing))
    return layout, arch, n_expert, k


def _tokenize(llama_cpp, vocab, text: str) -> list[int]:
    data = text.encode("utf-8")
    n_max = len(data) + 16
    buf = (llama_cpp.llama_token * n_max)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n_max, True, False)
    if n < 0:
        n_max = -n
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, n_max, True, False)
    return list(buf[:n])


def _piece(llama_cpp, vocab, token: int) -> bytes:
    buf = ctypes.create_string_buffer(64)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
    if n < 0:
        buf = ctypes.create_string_buffer(-n)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
    return buf.raw[:n]


def _fill(batch, tokens: list[int], first_pos: int) -> None:
    for i, tok in enumerate(tokens):
        batch.token[i] = tok
        batch.pos[i] = first_pos + i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = True
    batch.n_tokens = len(tokens)


class CaptureSession:
    """A model loaded once for several captures (``--prompts``); each ``run`` gets a fresh context."""

    def __init__(self, model_path: str | os.PathLike, settings: CaptureSettings | None = None):
        self.settings = settings or CaptureSettings()
        if self.settings.n_batch < 1 or self.settings.n_ctx < 8:
            raise UsageError("--batch must be at least 1 and --ctx at least 8")
        self.path = path = Path(model_path)
        if not path.is_file():
            raise InputError(path, "no such file")
        self.llama_cpp = llama_cpp = _llama_cpp()
        from .ggml import Ggml

        self.layout, self.arch, self.n_expert, self.k = check_moe(path)
        self.n_layers = self.layout.arch_int("block_count") or 0
        self.weights = {t.name: WeightInfo(t.data_start, t.index) for t in self.layout.tensors}
        _quiet_logs(llama_cpp)
        llama_cpp.llama_backend_init()
        self.ggml = Ggml()
        mparams = llama_cpp.llama_model_default_params()
        _clear_log()
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
        if not self.model:
            raise InputError(path, f"llama.cpp could not load the model: {_last_error()}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)

    def close(self) -> None:
        if self.model:
            self.llama_cpp.llama_model_free(self.model)
            self.model = None

    def __enter__(self) -> CaptureSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tokenize(self, text: str) -> list[int]:
        return _tokenize(self.llama_cpp, self.vocab, text)

    def run(self, prompt: str, n_predict: int | None = None) -> Capture:
        """Capture one prompt (``n_predict`` overrides the settings' -n)."""
        llama_cpp, settings, path = self.llama_cpp, self.settings, self.path
        n_predict = settings.n_predict if n_predict is None else n_predict
        if n_predict < 0:
            raise UsageError(f"-n must be 0 or more, not {n_predict}")
        if not prompt:
            raise UsageError("the prompt is empty")
        prompt_tokens = self.tokenize(prompt)
        if not prompt_tokens:
            raise UsageError("the prompt gives no tokens")
        if len(prompt_tokens) + n_predict > settings.n_ctx:
            raise UsageError(f"{len(prompt_tokens)} prompt tokens + -n {n_predict} do not fit in "
                             f"--ctx {settings.n_ctx}")
        collector = Collector(self.ggml, self.k, self.weights, op_records.op_codes(), ops=settings.ops)
        ctx = smpl = batch = None
        try:
            cparams = llama_cpp.llama_context_default_params()
            cparams.n_ctx = settings.n_ctx
            cparams.n_batch = cparams.n_ubatch = settings.n_batch
            cparams.n_seq_max = 1
            cparams.n_threads = cparams.n_threads_batch = settings.threads()
            cparams.cb_eval = collector.callback
            cparams.cb_eval_user_data = None
            _clear_log()
            ctx = llama_cpp.llama_init_from_model(self.model, cparams)
            if not ctx:
                raise InputError(path, f"llama.cpp could not create a context: {_last_error()}")
            collector.reuse_count = lambda: llama_cpp.llama_perf_context(ctx).n_reused
            smpl = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
            if settings.temp <= 0:
                llama_cpp.llama_sampler_chain_add(smpl, llama_cpp.llama_sampler_init_greedy())
            else:
                llama_cpp.llama_sampler_chain_add(smpl, llama_cpp.llama_sampler_init_temp(settings.temp))
                llama_cpp.llama_sampler_chain_add(smpl, llama_cpp.llama_sampler_init_dist(settings.seed))
            batch = llama_cpp.llama_batch_init(settings.n_batch, 0, 1)

            tokens: list[int] = []
            pass_of_token: list[int] = []
            pass_tokens: list[int] = []

            def evaluate(chunk: list[int], label: tuple[int, int]) -> None:
                first = len(tokens)
                _fill(batch, chunk, first)
                collector.label = label
                collector.begin_pass()
                _clear_log()
                rc = llama_cpp.llama_decode(ctx, batch)
                if collector.error is not None:
                    raise collector.error
                if rc != 0:
                    raise InputError(path, f"llama_decode failed (code {rc}) at position {first}: {_last_error()}")
                collector.end_pass()
                pass_tokens.append(len(chunk))
                pass_of_token.extend([len(pass_tokens) - 1] * len(chunk))
                tokens.extend(chunk)

            started = time.perf_counter()
            for start in range(0, len(prompt_tokens), settings.n_batch):
                evaluate(prompt_tokens[start:start + settings.n_batch], (0, PROMPT))
            phases = [PROMPT] * len(prompt_tokens)
            stop = "length"
            for step in range(n_predict):
                token = llama_cpp.llama_sampler_sample(smpl, ctx, -1)
                if llama_cpp.llama_vocab_is_eog(self.vocab, token):
                    stop = "end-of-generation"
                    break
                evaluate([token], (step + 1, GENERATE))
                phases.append(GENERATE)
            seconds = time.perf_counter() - started
            pieces = [_piece(llama_cpp, self.vocab, t) for t in tokens]
        finally:
            if batch is not None:
                llama_cpp.llama_batch_free(batch)
            if smpl is not None:
                llama_cpp.llama_sampler_free(smpl)
            if ctx is not None:
                llama_cpp.llama_free(ctx)

        k = self.k
        moe_layers, weight_tensor, experts, route_w = _routing(path, collector, pass_tokens, k)
        phase = np.array(phases, np.int8)
        pass_arr = np.array(pass_of_token, np.int32)
        step_arr = np.where(phase == GENERATE, pass_arr, -1).astype(np.int32)
        n_tok, n_l = len(tokens), len(moe_layers)
        facts = {
            "capture": "llama-cpp-python",
            "llama_cpp_python": getattr(llama_cpp, "__version__", "unknown"),
            "ggml_version": self.ggml.version() or "unknown",
            "llama_cpp_commit": self.ggml.commit() or "unknown",
            "sampler": settings.sampler_tag(),
            "seed": str(settings.seed),
            "temp": f"{settings.temp:g}",
            "threads": str(settings.threads()),
            "n_ctx": str(settings.n_ctx),
            "n_batch": str(settings.n_batch),
            "stop": stop,
        }
        return Capture(
            model_path=path, architecture=self.arch, n_layers=self.n_layers, n_experts=self.n_expert, k=k,
            prompt=prompt, moe_layers=moe_layers, weight_tensor=weight_tensor,
            position=np.arange(n_tok, dtype=np.int64), token_id=np.array(tokens, np.int64),
            piece=[p.decode("utf-8", "replace") for p in pieces], phase=phase, step=step_arr,
            pass_id=pass_arr,
            route_position=np.repeat(np.arange(n_tok, dtype=np.int64), n_l * k),
            route_layer=np.tile(np.repeat(np.array(moe_layers, np.int32), k), n_tok),
            route_rank=np.tile(np.arange(k, dtype=np.int16), n_tok * n_l),
            route_expert=experts.reshape(-1), route_weight=route_w.reshape(-1),
            pass_tokens=pass_tokens,
            records=collector.record_array() if settings.ops else None,
            stop_reason=stop, reused_passes=collector.reused_passes, seconds=seconds, facts=facts,
        )


def capture(model_path: str | os.PathLike, prompt: str, settings: CaptureSettings | None = None) -> Capture:
    """Run ``prompt`` through the model and return everything captured (see the module doc)."""
    with CaptureSession(model_path, settings) as session:
        return session.run(prompt)


def _routing(path: Path, collector: Collector, pass_tokens: list[int], k: int):
    """Per token (in position order), MoE layer and rank: ids [T, L, k] and weights [T, L, k]."""
    first = collector.passes[0]
    moe_layers = sorted(first.ids)
    if not moe_layers:
        raise InputError(path, "llama.cpp's graph has no ffn_moe_topk-N tensor (looked for the selected-expert "
                               "ids ffn_moe_topk-N of every layer): this architecture's routing is not supported")
    no_weights = [layer for layer in moe_layers if layer not in first.weights]
    if no_weights:
        names = ", ".join(n.decode() + "-N" for n in WEIGHT_CHAIN)
        raise InputError(path, f"layer {no_weights[0]} has ffn_moe_topk but no router weights "
                               f"(looked for {names})")
    weight_tensor = {layer: max(first.weights[layer], key=WEIGHT_CHAIN.index).decode() + f"-{layer}"
                     for layer in moe_layers}
    ids_out, w_out = [], []
    for p, (routed, n) in enumerate(zip(collector.passes, pass_tokens, strict=True)):
        ids_l, w_l = [], []
        for layer in moe_layers:
            ids = routed.ids.get(layer)
            found = routed.weights.get(layer, {})
            name = weight_tensor[layer].rsplit("-", 1)[0].encode()
            w = found.get(name)
            if ids is None or w is None:
                raise RuntimeError(f"pass {p}: layer {layer} routing missing")
            if ids.shape != (n, k) or w.shape != (n, k):
                raise RuntimeError(f"pass {p}: layer {layer} routed {ids.shape[0]} of {n} tokens "
                                   "(every token's output must be requested)")
            ids_l.append(ids)
            w_l.append(w)
        ids_out.append(np.stack(ids_l, axis=1))
        w_out.append(np.stack(w_l, axis=1))
    return moe_layers, weight_tensor, np.concatenate(ids_out).astype(np.int32), \
        np.concatenate(w_out).astype(np.float64)
