"""A run without decode steps (the warm-up-only reference trace) has no hotness rows, and an
expert that never fired has no rank: no ranked zeros in the README's query or the console's."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from trace_samples import REAL_TRACE, ingest, rows, store_with_layout

from warehouse.synth import generate_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hot")
    store, model_id = store_with_layout(str(tmp / "w.duckdb"))
    real = ingest(store, REAL_TRACE, model_id=model_id, experts_used=4, experiment="reference")
    truth = generate_run(tmp / "s.bin", domain="code", n_steps=3, seed=2, warmup=True)
    synth = ingest(store, truth.path, model_id=model_id, experiment="synthetic", domain="code")
    yield store.con, real.run_id, synth.run_id, truth
    store.close()


def test_warmup_only_run_has_no_hotness_rows(wh):
    con, real, synth, _ = wh
    for view in ("v1.expert_hotness", "v1.layer_routing_stats", "v1.expert_coactivation", "v1.run_similarity"):
        col = "run_id" if view != "v1.run_similarity" else "run_a"
        assert rows(con, f"select count(*) from {view} where {col} = ?", [real]) == [(0,)], view
    assert rows(con, "select count(*) from v1.expert_hotness_by_group where group_kind = 'experiment' "
                     "and group_name = 'reference'") == [(0,)]
    assert rows(con, "select count(*) from v1.expert_hotness where run_id = ?", [synth])[0][0] == 24 * 32


def test_ranks_only_for_experts_that_fired(wh):
    con, _, synth, truth = wh
    counts = Counter((la, e) for p in truth.passes if not p.is_warmup for la, ids in p.selections.items()
                     for e in set(ids))
    for layer in range(truth.n_layers):
        fired = sorted((e for e in range(truth.n_experts) if counts[(layer, e)]),
                       key=lambda e: (-counts[(layer, e)], e))
        want = {e: fired.index(e) + 1 if e in fired else None for e in range(truth.n_experts)}
        got = dict(rows(con, "select expert_id, rank_in_layer from v1.expert_hotness where run_id = ? "
                             "and layer_id = ?", [synth, layer]))
        assert got == want
        assert len(fired) < truth.n_experts  # 3 steps x 4 experts: some never fire, so the case is covered


def test_readme_and_console_queries_show_no_zero_activations(wh):
    con, _, _, _ = wh
    readme = (ROOT / "README.md").read_text()
    query = re.search(r'moewh query "(select \* from v1\.expert_hotness where rank_in_layer <= 3)"', readme).group(1)
    got = rows(con, query)
    assert got and all(r[3] > 0 for r in got)
    console = (ROOT / "dashboards" / "pages" / "7_sql_console.py").read_text()
    example = re.search(r'EXAMPLE = """(.*?)"""', console, re.S).group(1)
    got = con.execute(example).fetchall()
    assert got and all(r[4] > 0 for r in got)


def test_overview_says_the_run_holds_only_warmups(wh):
    from warehouse.dashboard.ui import quality_messages

    con, real, synth, _ = wh
    quality = con.execute("select * from v1.trace_quality").df()
    said = {r.run_id: [t for s, t in quality_messages(r) if s == "warning"] for r in quality.itertuples()}
    assert any("only warm-up passes" in t for t in said[real])
    assert not any("only warm-up passes" in t for t in said[synth])
