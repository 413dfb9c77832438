"""The example queries in sql/queries/ run through `moewh query --file` with their documented params."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import numpy as np
import pytest

from tests.test_views_analysis import dense_reads, layer_counts, slices
from tests.views_warehouse import build_truth, insert
from warehouse.db.store import open_store
from warehouse.paths import sql_dir

QUERIES = sorted((sql_dir() / "queries").glob("*.sql"))
_PARAM = re.compile(r"^-- @param\s+(\w+)\s+(\S+)\s+\S")


@pytest.fixture(scope="module")
def truth():
    return build_truth()


@pytest.fixture(scope="module")
def built(tmp_path_factory, truth):
    path = tmp_path_factory.mktemp("queries") / "w.duckdb"
    with open_store(path) as store:
        insert(store.con, truth)
    return path


@pytest.fixture
def filled(db_path, built):
    shutil.copyfile(built, db_path)  # each test its own copy of one build
    return db_path


def params_of(path) -> list[str]:
    return [f"{m.group(1)}={m.group(2)}" for line in path.read_text().splitlines() if (m := _PARAM.match(line))]


def run(cli, path, *extra):
    args = ["query", "--file", str(path), "--format", "json"]
    for p in extra or params_of(path):
        args += ["--param", p]
    code, out, err = cli(*args)
    assert code == 0, err
    return json.loads(out)


def test_there_are_documented_examples():
    names = {p.stem for p in QUERIES}
    assert {"hottest_experts_of_domain", "selection_stability", "file_regions_per_token",
            "layer_sequential_savings"} <= names
    for path in QUERIES:
        text = path.read_text()
        assert text.startswith("-- ") and "Usage: moewh query --file sql/queries/" + path.name in text
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        body_params = set(re.findall(r"\$(\w+)", body))
        assert body_params == {p.split("=")[0] for p in params_of(path)}, path.name


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_every_example_runs_and_returns_rows(cli, filled, path):
    assert run(cli, path)


def test_hottest_experts_of_domain_matches_a_recount(cli, filled, truth):
    got = run(cli, sql_dir() / "queries" / "hottest_experts_of_domain.sql", "domain=math", "top=2")
    for m in truth.models.values():
        runs = [r for r in truth.runs.values() if r.model is m and r.domain == "math"]
        for la in range(m.n_layers):
            summed = Counter()
            for r in runs:
                summed.update(layer_counts(r, la))
            want = sorted(summed, key=lambda e: (-summed[e], e))[:2]
            have = [g["expert_id"] for g in got if g["model_name"] == m.model_id and g["layer_id"] == la]
            assert have == want


def test_layer_sequential_savings_matches_a_recount(cli, filled, truth):
    chunk = 65536  # the smallest the query accepts
    got = {g["run_name"]: g for g in run(cli, sql_dir() / "queries" / "layer_sequential_savings.sql",
                                             f"chunk_bytes={chunk}")}
    assert set(got) == {r.run_id for r in truth.runs.values() if r.model}
    for run_ in truth.runs.values():
        m = run_.model
        if not m:
            continue
        order = sorted(m.tensors, key=lambda t: (t.layer_id is not None, t.layer_id or 0, t.offset_start))
        seq, pos = {}, min(t.offset_start for t in m.tensors)
        for t in order:
            seq[t.tensor_name] = pos
            pos += t.size_bytes
        actual, sequential, exact = [], [], []
        for p in run_.steps:
            names = dense_reads(run_, p) | slices(run_, p)
            ts = [m.by_name(n) for n in names]
            actual.append(len({c for t in ts for c in range(t.offset_start // chunk, (t.offset_end - 1) // chunk + 1)}))
            sequential.append(len({c for t in ts
                                   for c in range(seq[t.tensor_name] // chunk,
                                                  (seq[t.tensor_name] + t.size_bytes - 1) // chunk + 1)}))
            exact.append(sum(t.size_bytes for t in ts))
        g = got[run_.run_id]
        assert g["n_steps"] == len(run_.steps)
        assert g["touched_bytes_per_step"] == round(np.mean(exact))
        assert g["actual_chunk_bytes_per_step"] == round(np.mean(actual) * chunk)
        assert g["sequential_chunk_bytes_per_step"] == round(np.mean(sequential) * chunk)
        assert g["saved_bytes_per_step"] == round(np.mean(np.subtract(actual, sequential)) * chunk)


def test_query_file_with_a_missing_param_fails_cleanly(cli, filled):
    code, _, err = cli("query", "--file", str(sql_dir() / "queries" / "hottest_experts_of_domain.sql"),
                       "--param", "domain=code")
    assert code == 2 and err.startswith("moewh: error:") and "Traceback" not in err
