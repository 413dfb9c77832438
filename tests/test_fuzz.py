"""Property-based fuzzing of every input decoder (Hypothesis), in the spirit of SQLite's and
Perfetto's parser fuzzers: valid samples of each format are mutated (bytes overwritten with
boundary integers, cut, spliced; JSON nodes replaced by hostile values) and the decoder must
return a result or raise the project's input error, never anything else, within an
address-space bound (a runaway allocation becomes MemoryError) and a hang guard.

`make test` runs a fixed, fast budget ($FUZZ_EXAMPLES, default 40 per target, derandomised);
`make fuzz` runs a long campaign with fresh randomness. Each crash a campaign found is a
regression test at the end of this file.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import signal
import struct
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import fuzz_targets as ft
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.errors import WarehouseError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CAMPAIGN = os.environ.get("FUZZ_CAMPAIGN") == "1"
HEADROOM = 1536 << 20  # address space a decoder may add while decoding one input
HANG_GUARD_S = 60

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not CAMPAIGN, database=None if not CAMPAIGN else
                settings.default.database, suppress_health_check=list(HealthCheck), print_blob=True)
TRIED: Counter[str] = Counter()
OUTCOMES: Counter[tuple[str, str]] = Counter()

BOUNDARY = [0, 1, 2, 3, 4, 16, 17, 31, 32, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
            2**53, 2**63 - 1, 2**63, 2**64 - 1]


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if TRIED:  # past pytest's capture: the campaign's figures belong in its log
        lines = [f"fuzz {target}: {TRIED[target]} inputs ("
                 + ", ".join(f"{n} {kind}" for (t, kind), n in sorted(OUTCOMES.items()) if t == target) + ")"
                 for target in sorted(TRIED)]
        sys.__stderr__.write("\n" + "\n".join(lines) + f"\nfuzz total: {sum(TRIED.values())} inputs\n")


@contextmanager
def bounded():
    """Lower the soft address-space limit to what the process uses now plus HEADROOM (restored
    after; a soft limit may be raised again), and interrupt a decode that hangs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    cap = vm + HEADROOM if hard == resource.RLIM_INFINITY else min(vm + HEADROOM, hard)

    def hang(*_):
        raise TimeoutError(f"decoder ran longer than {HANG_GUARD_S} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_GUARD_S)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(target: str, decode, path: Path) -> None:
    TRIED[target] += 1
    with bounded():
        try:
            decode(path)
        except WarehouseError as exc:
            assert str(exc).startswith(str(path)) or "moewh" in str(exc) or str(path.parent) in str(exc), exc
            OUTCOMES[target, "refused"] += 1
            return
    OUTCOMES[target, "decoded"] += 1


# --- mutations ------------------------------------------------------------------------------

_edit = st.one_of(
    st.tuples(st.just("byte"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    st.tuples(st.just("u16"), st.floats(0, 1, exclude_max=True), st.sampled_from(BOUNDARY)),
    st.tuples(st.just("u32"), st.floats(0, 1, exclude_max=True), st.sampled_from(BOUNDARY)),
    st.tuples(st.just("u64"), st.floats(0, 1, exclude_max=True), st.sampled_from(BOUNDARY)),
    st.tuples(st.just("cut"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 256)),
    st.tuples(st.just("repeat"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
)
EDITS = st.lists(_edit, min_size=1, max_size=8)
_FORMATS = {"u16": "<H", "u32": "<I", "u64": "<Q"}


def mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for op, where, value in edits:
        pos = int(where * max(len(out), 1))
        if op == "byte" and out:
            out[min(pos, len(out) - 1)] = value
        elif op in _FORMATS:
            fmt = _FORMATS[op]
            size = struct.calcsize(fmt)
            if len(out) >= size:
                pos = min(pos, len(out) - size)
                out[pos:pos + size] = struct.pack(fmt, value & ((1 << (8 * size)) - 1))
        elif op == "cut":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = value
        elif op == "delete":
            del out[pos:pos + value]
        elif op == "repeat":
            out[pos:pos] = bytes(out[pos:pos + value]) * 3
    return bytes(out)


_scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(BOUNDARY), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True), st.text(max_size=40), st.just("9" * 5000))
# The values that break a reader expecting one shape: each type in place of each other.
SWAPS = [0, 5, -1, 2**31, 2**63, 2**70, True, None, "", "x", [], [1], {}, {"a": 1}, 1.5, "9" * 5000]
HOSTILE_JSON = st.sampled_from(SWAPS) | st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                            max_leaves=12)


def _nodes(doc, path=()):
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, (*path, i))


def mutate_doc(doc, picks, values):
    doc = copy.deepcopy(doc)
    for pick, value in zip(picks, values, strict=False):
        value = copy.deepcopy(value)  # a shared SWAPS object inserted twice would make a cycle
        nodes = list(_nodes(doc))
        path = nodes[int(pick * len(nodes))]
        if not path:
            doc = value
            continue
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    return doc


PICKS = st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=4)
VALUES = st.lists(HOSTILE_JSON, min_size=1, max_size=4)


def _dump(doc) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


# --- the targets ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-seeds")
    return {"gguf": ft.seed_gguf(tmp), "trace-1024": ft.seed_trace_1024(tmp), "trace-256": ft.seed_trace_256(tmp),
            "csv": ft.seed_csv(tmp), "memory-map": ft.seed_memory_map_doc(), "token-json": ft.seed_token_doc(),
            "metadata": ft.seed_metadata_docs()}


def test_seeds_decode(seeds, tmp_path):
    assert ft.decode_gguf_bytes(ft.write(tmp_path / "m.gguf", seeds["gguf"])) > 8
    assert ft.decode_trace(ft.write(tmp_path / "t.bin", seeds["trace-1024"])) == ft.N_RECORDS
    assert ft.decode_trace(ft.write(tmp_path / "l.bin", seeds["trace-256"])) > 0
    assert ft.decode_layout_bytes(ft.write(tmp_path / "x.csv", seeds["csv"])) >= 40
    assert ft.decode_layout_bytes(ft.write(tmp_path / "m.json", _dump(seeds["memory-map"]))) >= 40
    assert ft.decode_trace(ft.write(tmp_path / "token-00000.json", _dump(seeds["token-json"]))) == 24


@FUZZ
@given(edits=EDITS)
def test_fuzz_gguf_header(seeds, tmp_path_factory, edits):
    path = ft.write(tmp_path_factory.mktemp("g") / "m.gguf", mutate(seeds["gguf"], edits))
    check("gguf", ft.decode_gguf_bytes, path)


@FUZZ
@given(edits=EDITS)
def test_fuzz_trace_1024(seeds, tmp_path_factory, edits):
    path = ft.write(tmp_path_factory.mktemp("t") / "t.bin", mutate(seeds["trace-1024"], edits))
    check("trace-1024", ft.decode_trace, path)


@FUZZ
@given(edits=EDITS)
def test_fuzz_trace_256(seeds, tmp_path_factory, edits):
    path = ft.write(tmp_path_factory.mktemp("l") / "t.bin", mutate(seeds["trace-256"], edits))
    check("trace-256", ft.decode_trace, path)


@FUZZ
@given(edits=EDITS)
def test_fuzz_gguf_dump_csv(seeds, tmp_path_factory, edits):
    path = ft.write(tmp_path_factory.mktemp("c") / "x.csv", mutate(seeds["csv"], edits))
    check("csv", ft.decode_layout_bytes, path)


@FUZZ
@given(picks=PICKS, values=VALUES, edits=st.one_of(st.none(), EDITS))
def test_fuzz_memory_map_json(seeds, tmp_path_factory, picks, values, edits):
    data = _dump(mutate_doc(seeds["memory-map"], picks, values))
    path = ft.write(tmp_path_factory.mktemp("m") / "m.json", mutate(data, edits) if edits else data)
    check("memory-map", ft.decode_layout_bytes, path)


@FUZZ
@given(picks=PICKS, values=VALUES, edits=st.one_of(st.none(), EDITS))
def test_fuzz_token_json(seeds, tmp_path_factory, picks, values, edits):
    data = _dump(mutate_doc(seeds["token-json"], picks, values))
    path = ft.write(tmp_path_factory.mktemp("j") / "token-00000.json", mutate(data, edits) if edits else data)
    check("token-json", ft.decode_trace, path)


@FUZZ
@given(which=st.sampled_from(["prompts.json", "settings.json", "summary.json"]), picks=PICKS, values=VALUES,
       edits=st.one_of(st.none(), EDITS))
def test_fuzz_experiment_folder_metadata(seeds, tmp_path_factory, which, picks, values, edits):
    root = tmp_path_factory.mktemp("e")
    ft.write(root / "r1" / "tensor_trace.bin", seeds["trace-1024"])
    for name, doc in seeds["metadata"].items():
        data = _dump(mutate_doc(doc, picks, values) if name == which else doc)
        ft.write(root / name, mutate(data, edits) if edits and name == which else data)
    check("experiment-folder", ft.describe_runs, root)


# --- regression tests: crashes found by the campaigns ---------------------------------------


@pytest.mark.parametrize("name, doc", [
    # found on the code before the metadata checks: TypeError: 'int' object is not iterable
    ("prompts.json", {"experiment_name": "e", "prompts": 5}),
    ("summary.json", {"experiment": "e", "domains": 7}),
    ("settings.json", {"experiment": 5}),
])
def test_regression_metadata_of_another_type(seeds, tmp_path, name, doc):
    ft.write(tmp_path / "r1" / "tensor_trace.bin", seeds["trace-1024"])
    ft.write(tmp_path / name, _dump(doc))
    check("experiment-folder", ft.describe_runs, tmp_path)
