"""llama.cpp ``examples/moe-trace`` CSV files and the two variants of its forks.

The upstream example (llama.cpp PR #28544, as described in that PR; its source was not
reachable from here, so the decoder follows the PR's description of the output) writes a
headerless ``layer,expert`` CSV: one row per token and rank, in graph order, from the
``ffn_moe_topk-<il>`` id tensor of every MoE layer of every graph evaluation. No token column:
positions are rebuilt by counting. A run of rows with one layer id is one layer of one
evaluation; its length over k is the batch's token count; the layer ids falling back start
the next evaluation. The recorder's own limits, kept visible rather than hidden:

- In a prompt batch the last layer routes only the batch's last token (llama.cpp gathers
  ``inp_out_ids`` before the last layer's FFN); those k rows are placed at the last position.
- The example read the strided top-k view as contiguous, so a prompt batch's rows after its
  first token may be wrong: they are kept with ``trusted`` False.

Fork variants: a header ``phase,token,layer,rank,expert`` (``prefill``/``decode``, absolute
token position), and headerless ``pos,layer,id0,id1,...`` rows whose prompt positions are
negative (the prompt's P tokens at -P .. -1, generated token g at g).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from .csvtext import null_line, read_table
from .problems import RoutingInputError, first_bad
from .routes import GENERATE, PROMPT, Routes

FORMAT = "llama-moe-trace"
FORMAT_PHASED = "llama-moe-trace-phased"
FORMAT_POS = "llama-moe-trace-pos"
PHASED_HEADER = "phase,token,layer,rank,expert"


def _first_lines(head: bytes, n: int = 8) -> list[str]:
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) >= 4096 and lines:
        lines = lines[:-1]  # the last line of a cut head may be partial
    return [ln.strip() for ln in lines[:n] if ln.strip()]


def _int_fields(line: str) -> list[int] | None:
    try:
        return [int(f) for f in line.split(",")]
    except ValueError:
        return None


def sniff(head: bytes) -> dict[str, float]:
    lines = _first_lines(head)
    if not lines:
        return {}
    if lines[0].replace(" ", "") == PHASED_HEADER:
        return {FORMAT_PHASED: 1.0}
    parsed = [_int_fields(ln) for ln in lines]
    if parsed[0] is None:
        return {}
    # a bad line further down still names the format, so that the decoder can say where it is
    parsed = [p for p in parsed if p is not None and len(p) == len(parsed[0])]
    width = len(parsed[0])
    if width == 2 and all(p[0] >= 0 and p[1] >= 0 for p in parsed):
        return {FORMAT: 0.6}
    if width >= 3 and all(min(p[2:]) >= 0 and p[1] >= 0 for p in parsed):
        return {FORMAT_POS: 0.6}
    return {}


def decode(path: Path, fmt: str, *, experts_used: int | None = None, n_layers: int | None = None,
           data: bytes | None = None) -> list[Routes]:
    path = Path(path)
    data = path.read_bytes() if data is None else data
    if fmt == FORMAT:
        return [_decode_plain(path, data, experts_used, n_layers)]
    if fmt == FORMAT_PHASED:
        return [_decode_phased(path, data)]
    return [_decode_pos(path, data)]


def _decode_plain(path: Path, data: bytes, k: int | None, n_layers: int | None) -> Routes:
    if k is None:
        raise RoutingInputError(path, None, "a layer,expert moe-trace file has no token column: give k with "
                                "--experts-used K or --model (positions are rebuilt by counting k rows per token)")
    table = read_table(path, data, 0, ["layer", "expert"], {"layer": pa.int64(), "expert": pa.int64()}, None)
    for c in ("layer", "expert"):
        if (line := null_line(table, c, 1)) is not None:
            raise RoutingInputError(path, f"line {line}", f"empty {c}")
    layer = table.column("layer").to_numpy()
    expert = table.column("expert").to_numpy()
    if not len(layer):
        raise RoutingInputError(path, None, "no rows")
    if (i := first_bad((layer < 0) | (expert < 0))) is not None:
        raise RoutingInputError(path, f"line {i + 1}", "negative layer or expert id")
    # Blocks: maximal runs of one layer id. A block whose layer does not exceed the previous
    # block's starts a new graph evaluation (pass).
    starts = np.flatnonzero(np.r_[True, layer[1:] != layer[:-1]])
    sizes = np.diff(np.r_[starts, len(layer)])
    block_layer = layer[starts]
    new_pass = np.r_[True, block_layer[1:] <= block_layer[:-1]]
    if (b := first_bad(sizes % k != 0)) is not None:
        raise RoutingInputError(path, f"line {int(starts[b]) + 1}", f"layer {int(block_layer[b])} has {int(sizes[b])} "
                                f"rows in this evaluation, not a multiple of k = {k}")
    tokens = sizes // k
    pass_of_block = np.cumsum(new_pass) - 1
    n_pass = int(pass_of_block[-1]) + 1
    pass_first_block = np.flatnonzero(new_pass)
    pass_last_block = np.r_[pass_first_block[1:] - 1, len(starts) - 1]
    layer_set = tuple(block_layer[pass_first_block[0]:pass_last_block[0] + 1].tolist())
    if n_layers is not None and len(layer_set) != n_layers:
        raise RoutingInputError(path, "line 1", f"the first evaluation routes {len(layer_set)} MoE layers, the model "
                                f"has {n_layers}")
    position = np.empty(len(layer), np.int64)
    rank = np.empty(len(layer), np.int16)
    phase = np.empty(len(layer), np.int8)
    step = np.full(len(layer), -1, np.int32)
    pass_id = np.empty(len(layer), np.int32)
    trusted = np.ones(len(layer), bool)
    pos0, n_generated, generating = 0, 0, False
    for p in range(n_pass):
        fb, lb = int(pass_first_block[p]), int(pass_last_block[p])
        here = tuple(block_layer[fb:lb + 1].tolist())
        line = int(starts[fb]) + 1
        if here != layer_set:
            raise RoutingInputError(path, f"line {line}", f"evaluation {p} routes layers {_span(here)}, the first "
                                    f"routes {_span(layer_set)}: the counts do not fit one model")
        t = int(tokens[fb])
        bad = [b for b in range(fb, lb) if tokens[b] != t]
        last_t = int(tokens[lb])
        if bad or (last_t != t and last_t != 1):
            b = bad[0] if bad else lb
            raise RoutingInputError(path, f"line {int(starts[b]) + 1}", f"layer {int(block_layer[b])} routes "
                                    f"{int(tokens[b])} tokens in evaluation {p}, its first layer {t}")
        is_prompt = p == 0 or t > 1
        if is_prompt and generating:
            raise RoutingInputError(path, f"line {line}", f"a {t}-token batch after generation started: one file "
                                    "per prompt (a new prompt cannot be told from generation)")
        generating = generating or not is_prompt
        for b in range(fb, lb + 1):
            s, n = int(starts[b]), int(sizes[b])
            idx = np.arange(n)
            tok = idx // k
            if tokens[b] != t:  # the last layer of a prompt batch: only the last token
                tok = tok + (t - 1)
            position[s:s + n] = pos0 + tok
            rank[s:s + n] = idx % k
            pass_id[s:s + n] = p
            phase[s:s + n] = PROMPT if is_prompt else GENERATE
            if is_prompt:
                trusted[s:s + n] = (tok == 0) | (t == 1)
                if tokens[b] != t:
                    trusted[s:s + n] = True  # one token's ids: read from the view's start, so right
            else:
                step[s:s + n] = n_generated
        pos0 += t
        if not is_prompt:
            n_generated += 1
    warnings = []
    if (~trusted).any():
        warnings.append(f"{int((~trusted).sum()):,} prompt rows after each batch's first token are marked untrusted: "
                        "the moe-trace example read the strided top-k view as contiguous")
    return Routes.from_columns(
        {"position": position, "phase": phase, "step": step, "pass_id": pass_id, "layer_id": layer, "rank": rank,
         "expert_id": expert, "trusted": trusted}, FORMAT, experts_used=k, n_layers=n_layers,
        warnings=warnings)


def _span(layers: tuple) -> str:
    if not layers:
        return "none"
    return f"{layers[0]}..{layers[-1]} ({len(layers)})"


def _decode_phased(path: Path, data: bytes) -> Routes:
    types = {"token": pa.int64(), "layer": pa.int64(), "rank": pa.int64(), "expert": pa.int64(),
             "phase": pa.string()}
    table = read_table(path, data, 0, None, types, 1)
    for c in ("token", "layer", "rank", "expert"):
        if (line := null_line(table, c, 2)) is not None:
            raise RoutingInputError(path, f"line {line}", f"empty {c}")
    phase_text = table.column("phase").to_numpy(zero_copy_only=False)
    is_prefill = phase_text == "prefill"
    is_decode = phase_text == "decode"
    if (i := first_bad(~(is_prefill | is_decode))) is not None:
        raise RoutingInputError(path, f"line {i + 2}", f"phase {phase_text[i]!r} is neither prefill nor decode")
    pos = table.column("token").to_numpy()
    layer, rank, expert = (table.column(c).to_numpy() for c in ("layer", "rank", "expert"))
    for name, v in (("token", pos), ("layer", layer), ("rank", rank), ("expert", expert)):
        if (i := first_bad(v < 0)) is not None:
            raise RoutingInputError(path, f"line {i + 2}", f"negative {name} {int(v[i])}")
    _unique(path, pos, layer, rank, 2)
    dec = np.unique(pos[is_decode])
    if len(both := np.intersect1d(pos[is_prefill], dec)):
        raise RoutingInputError(path, None, f"token {int(both[0])} appears in prefill and in decode")
    step = np.full(len(pos), -1, np.int32)
    step[is_decode] = np.searchsorted(dec, pos[is_decode])
    return Routes.from_columns({"position": pos, "phase": np.where(is_decode, GENERATE, PROMPT), "step": step,
                                "layer_id": layer, "rank": rank, "expert_id": expert}, FORMAT_PHASED,
                               experts_used=int(rank.max()) + 1 if len(rank) else None)


def _decode_pos(path: Path, data: bytes) -> Routes:
    width = len(data.split(b"\n", 1)[0].split(b","))
    k = width - 2
    names = ["pos", "layer"] + [f"id{r}" for r in range(k)]
    table = read_table(path, data, 0, names, {n: pa.int64() for n in names}, None)
    for c in names:
        if (line := null_line(table, c, 1)) is not None:
            raise RoutingInputError(path, f"line {line}", f"empty {c}")
    pos = table.column("pos").to_numpy()
    layer = table.column("layer").to_numpy()
    ids = np.stack([table.column(f"id{r}").to_numpy() for r in range(k)], axis=1)
    if (i := first_bad(layer < 0)) is not None:
        raise RoutingInputError(path, f"line {i + 1}", f"negative layer {int(layer[i])}")
    if (i := first_bad((ids < 0).any(axis=1))) is not None:
        raise RoutingInputError(path, f"line {i + 1}", "negative expert id")
    prompt_pos = np.unique(pos[pos < 0])
    n_prompt = len(prompt_pos)
    if n_prompt and (prompt_pos[0] != -n_prompt or prompt_pos[-1] != -1):
        raise RoutingInputError(path, f"line {first_bad(pos == prompt_pos[0]) + 1}", f"prompt positions run "
                                f"{int(prompt_pos[0])}..{int(prompt_pos[-1])}, not -{n_prompt}..-1")
    position = np.where(pos < 0, pos + n_prompt, pos + n_prompt)
    _unique(path, position, layer, np.zeros(len(layer), np.int64), 1)
    n = len(pos)
    rows = np.repeat(np.arange(n), k)
    is_gen = pos >= 0
    return Routes.from_columns(
        {"position": position[rows], "phase": np.where(is_gen, GENERATE, PROMPT)[rows],
         "step": np.where(is_gen, pos, -1)[rows], "layer_id": layer[rows], "rank": np.tile(np.arange(k), n),
         "expert_id": ids.reshape(-1)}, FORMAT_POS, experts_used=k)


def _unique(path, pos, layer, rank, first_line):
    order = np.lexsort((rank, layer, pos))
    same = (np.diff(pos[order]) == 0) & (np.diff(layer[order]) == 0) & (np.diff(rank[order]) == 0)
    if (i := first_bad(same)) is not None:
        raise RoutingInputError(path, f"line {int(order[i + 1]) + first_line}", "duplicate (token, layer, rank)")
