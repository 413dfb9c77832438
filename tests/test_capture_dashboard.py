"""Every dashboard page on a warehouse that holds only captured runs (real llama.cpp, tiny MoE)."""

from __future__ import annotations

import pytest
from test_dashboard_pages import PAGES, charts, open_page

from tests.capture_support import PROMPT_20, needs_llama_cpp
from warehouse.db.store import open_store
from warehouse.synth.tiny_moe import write_tiny_moe

pytestmark = needs_llama_cpp


@pytest.fixture(scope="module")
def captured(tmp_path_factory, monkeypatch_module):
    from warehouse.cli import run

    tmp = tmp_path_factory.mktemp("capdash")
    model = write_tiny_moe(tmp / "tiny-gpt-oss.gguf", arch="gpt-oss", n_layer=3, n_expert=8, k=2, seed=2)
    db = str(tmp / "warehouse.duckdb")
    for prompt, domain in ((PROMPT_20, "code"), ("Another one.", "chat")):
        assert run(["--db", db, "capture", str(model.path), "--prompt", prompt, "-n", "8", "--domain", domain,
                    "--threads", "2"]) == 0
    monkeypatch_module.setenv("MOEWH_DB", db)
    return db, model


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_page_draws_a_captured_warehouse(captured):
    for page in PAGES:
        at = open_page(page)
        assert not at.error, (page, [e.value for e in at.error])


def test_heatmap_of_all_runs_sums_every_decode_step(captured):
    db, _ = captured
    with open_store(db, read_only=True) as store:
        steps = store.con.execute("select count(*) from v1.decode_steps").fetchone()[0]
    assert steps == 2 * (1 + 8)  # per run: the prompt pass and 8 generated tokens
    at = open_page("2_expert_heatmap", hm_mode="All runs of the model")
    frames = [f for c in charts(at) for f in c["data"] if {"layer_id", "expert_id", "activations"} <= set(f.columns)]
    assert frames, "no heatmap chart with activations"
    grid = frames[0]
    assert len(grid) == 3 * 8  # the whole layer x expert grid
    assert int(grid["activations"].sum()) == steps * 3 * 2  # k = 2 experts per step in each of 3 layers
