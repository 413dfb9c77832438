"""Every dashboard page under Streamlit's AppTest against a small warehouse.

Expected numbers are recounted here with pandas/NumPy straight from the base tables the test
wrote (selections, passes, tensors), never from the views the pages read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dashboard_warehouse as dw
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from warehouse.db.store import open_store

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
PAGES = ["1_overview", "2_expert_heatmap", "3_file_map", "4_token_timeline", "5_compare", "6_layout_check",
         "7_sql_console"]

# A second, deliberately broken layout: a and b share 50 bytes, nothing covers [150, 300).
BROKEN_ID = "broken00layout00"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dash") / "warehouse.duckdb")
    dw.build(path)
    with open_store(path) as store, store.transaction() as con:
        con.execute("insert into models (model_id, model_name, source_kind, file_size_bytes, data_offset, "
                    "alignment, n_layers, n_tensors, ingested_at) "
                    "values (?, 'zz-broken-layout', 'gguf-dump-csv', 400, 0, 32, 1, 3, now())", [BROKEN_ID])
        for name, start, end in (("a.weight", 0, 100), ("b.weight", 50, 150), ("c.weight", 300, 400)):
            con.execute("insert into tensors (model_id, tensor_name, base_name, category, offset_start, offset_end, "
                        "size_bytes, file_index) values (?, ?, ?, 'other', ?, ?, ?, 0)",
                        [BROKEN_ID, name, name, start, end, end - start])
    con = duckdb.connect(path, read_only=True)
    truth = {t: con.sql(f"select * from main.{t}").df() for t in ("runs", "passes", "selections", "tensors")}
    con.close()
    old = os.environ.get("MOEWH_DB")
    os.environ["MOEWH_DB"] = path
    yield path, truth
    if old is None:
        os.environ.pop("MOEWH_DB", None)
    else:
        os.environ["MOEWH_DB"] = old


def open_page(page: str, **widgets) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page != "1_overview":
        at.switch_page(f"pages/{page}.py").run()
    for key, value in widgets.items():
        widget = next(w for w in _widgets(at) if getattr(w, "key", None) == key)
        widget.set_value(value).run()
    assert not at.exception, at.exception
    return at


def _widgets(at: AppTest):
    for kind in ("selectbox", "multiselect", "radio", "slider", "text_area"):
        yield from getattr(at, kind)
        yield from getattr(at.sidebar, kind)


def charts(at: AppTest) -> list[dict]:
    """Every Vega-Lite chart on the page: its spec and its data as pandas frames."""
    out = []
    for node in _walk(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and proto.DESCRIPTOR.name in ("VegaLiteChart", "ArrowVegaLiteChart"):
            frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in proto.datasets]
            out.append({"spec": json.loads(proto.spec), "data": frames})
    return out


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has all these columns (st.dataframe carries no key)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


# ---- independent recounts ------------------------------------------------------------------

def decode_selections(truth) -> pd.DataFrame:
    p = truth["passes"]
    sel = truth["selections"].merge(p[["run_id", "pass_id", "is_warmup"]], on=["run_id", "pass_id"])
    return sel[~sel["is_warmup"]]


def recount_hotness(truth, run_ids) -> pd.DataFrame:
    sel = decode_selections(truth)
    sel = sel[sel["run_id"].isin(run_ids)]
    grid = pd.MultiIndex.from_product([range(dw.N_LAYERS), range(dw.N_EXPERTS)], names=["layer_id", "expert_id"])
    counts = sel.groupby(["layer_id", "expert_id"]).size().reindex(grid, fill_value=0)
    df = counts.rename("activations").reset_index()
    df["share"] = df["activations"] / df.groupby("layer_id")["activations"].transform("sum")
    return df


def run_id_of(truth, name) -> str:
    runs = truth["runs"]
    return runs.loc[runs["run_name"] == name, "run_id"].iloc[0]


# ---- pages -----------------------------------------------------------------------------------

def test_every_page_draws_without_exception(warehouse):
    for page in PAGES:
        at = open_page(page)
        assert not at.error, (page, [e.value for e in at.error])
        assert at.title and at.title[0].value


def test_overview_counts_equal_the_tables(warehouse):
    _, truth = warehouse
    at = open_page("1_overview")
    runs = truth["runs"]
    assert metric(at, "Models") == "2"
    assert metric(at, "Runs") == str(len(runs))
    assert metric(at, "Passes") == f"{len(truth['passes']):,}"
    assert metric(at, "Trace records") == f"{int(runs['n_records'].sum()):,}"
    assert set(frame(at, "run_id", "run_name", "n_records")["run_id"]) == set(runs["run_id"])
    assert set(frame(at, "model_name", "n_layout_rows")["model_name"]) == {"gpt-oss-20b-test", "zz-broken-layout"}

    # trace quality in plain words: the last run has one duplicated expert id and one DISK source
    # whose offset starts no tensor (both planted by the fixture); every run has one warm-up pass
    labels = [e.label for e in at.expander]
    names = list(runs.sort_values("run_name")["run_name"])
    assert labels == [f"{n} — 2 warning(s)" if n == "chat-1" else f"{n} — no warnings" for n in names]
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("1 record(s) list the same expert twice") for w in warnings)
    assert any(w.startswith("1 DISK source(s) point at file offsets where no tensor") for w in warnings)
    assert sum(i.value.startswith("1 warm-up pass(es)") for i in at.info) == len(runs)

    # the domain filter narrows every figure
    at = open_page("1_overview", overview_domain=["code"])
    code = runs[runs["domain"] == "code"]
    assert metric(at, "Runs") == str(len(code))
    assert set(frame(at, "run_id", "run_name", "n_records")["run_id"]) == set(code["run_id"])
    assert metric(at, "Passes") == f"{int(code['n_passes'].sum()):,}"


def test_heatmap_one_run_equals_recount(warehouse):
    _, truth = warehouse
    run = run_id_of(truth, "math-1")
    at = open_page("2_expert_heatmap", hm_run=run)
    expected = recount_hotness(truth, [run])
    (heat,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
    got = heat["data"][0].sort_values(["layer_id", "expert_id"]).reset_index(drop=True)
    assert len(got) == dw.N_LAYERS * dw.N_EXPERTS  # never-selected experts are drawn too
    assert got["activations"].tolist() == expected["activations"].tolist()
    assert np.allclose(got["share"], expected["share"])
    # hottest list beside the map: the top 20 cells by activations
    top = frame(at, "layer_id", "expert_id", "activations", "share")
    exp_top = expected.sort_values(["activations", "layer_id", "expert_id"], ascending=[False, True, True]).head(20)
    assert top[["layer_id", "expert_id", "activations"]].values.tolist() == \
        exp_top[["layer_id", "expert_id", "activations"]].values.tolist()
    # and rank 1 of each layer really is that layer's most selected expert
    rank1 = got[got["rank_in_layer"] == 1].set_index("layer_id")["activations"]
    assert rank1.tolist() == expected.groupby("layer_id")["activations"].max().tolist()


def test_heatmap_domain_and_selected_runs_sum_the_runs(warehouse):
    _, truth = warehouse
    code_runs = list(truth["runs"].loc[truth["runs"]["domain"] == "code", "run_id"])
    expected = recount_hotness(truth, code_runs)
    for widgets in ({"hm_mode": "Domain", "hm_group_domain": "code"},
                    {"hm_mode": "Selected runs", "hm_runs": code_runs}):
        at = open_page("2_expert_heatmap", **widgets)
        (heat,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
        got = heat["data"][0].sort_values(["layer_id", "expert_id"])
        assert got["activations"].tolist() == expected["activations"].tolist(), widgets
        assert np.allclose(got["share"], expected["share"])


def test_file_map_whole_file_and_layer_zoom(warehouse):
    _, truth = warehouse
    sel = decode_selections(truth)
    n_steps = sel.groupby("run_id")["pass_id"].nunique().sum()
    layout = truth["tensors"][truth["tensors"]["model_id"] == dw.MODEL_ID]

    at = open_page("3_file_map")
    (fmap,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
    bars = fmap["data"][0].set_index("name")
    # 4,923 rows are too many bars: expert slices are merged in runs of 4 consecutive experts
    plain = layout[layout["expert_id"].isna()]
    assert len(bars) == len(plain) + (len(layout) - len(plain)) // 4 <= 1500
    assert metric(at, "Bars drawn") == f"{len(bars):,}"
    # every merged bar carries the touches of its four slices: one per step selecting the expert
    per_expert = sel.groupby(["layer_id", "expert_id"]).size()
    for layer, first in ((5, 0), (5, 28), (17, 12)):
        expected = sum(per_expert.get((layer, e), 0) for e in range(first, first + 4))
        for name in (f"blk.{layer}.ffn_up_exps.weight", f"blk.{layer}.ffn_down_exps.bias"):
            bar = bars.loc[f"{name}[{first}-{first + 3}]"]
            assert bar["touches_total"] == expected
            assert bar["touches"] == pytest.approx(expected / 4)
            assert bar["rows_touched"] == sum(per_expert.get((layer, e), 0) > 0 for e in range(first, first + 4))
    # attn_q is read from DISK once per step; attn_k never appears in the trace
    assert bars.loc["blk.5.attn_q.weight", "touches"] == n_steps
    assert bars.loc["blk.5.attn_k.weight", "touches"] == 0
    assert metric(at, "Touches") == f"{n_steps * dw.N_LAYERS * (dw.K * 6 + 1):,}"

    at = open_page("3_file_map", fm_layer=3)
    (fmap,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
    bars = fmap["data"][0].set_index("name")
    assert len(bars) == (layout["layer_id"] == 3).sum()  # every slice of the layer, unmerged
    per_expert = sel[sel["layer_id"] == 3].groupby("expert_id").size()
    for e in range(dw.N_EXPERTS):
        assert bars.loc[f"blk.3.ffn_gate_exps.weight[{e}]", "touches"] == per_expert.get(e, 0)
        assert bars.loc[f"blk.3.ffn_down_exps.bias[{e}]", "touches"] == per_expert.get(e, 0)
        row = layout[layout["tensor_name"] == f"blk.3.ffn_gate_exps.weight[{e}]"].iloc[0]
        assert bars.loc[f"blk.3.ffn_gate_exps.weight[{e}]", "offset_start"] == row["offset_start"]

    # a zoomed layer is packed, in file order and in layer order: positions are a gapless prefix sum
    bars = fmap["data"][0].sort_values("x0")
    assert list(bars["offset_start"]) == sorted(bars["offset_start"])
    assert np.allclose(np.diff(bars["x0"].values), bars["size_bytes"].iloc[:-1].values / 2**20)
    at = open_page("3_file_map", fm_order="layer", fm_layer=2)
    (fmap,) = [c for c in charts(at) if c["spec"]["mark"]["type"] == "rect"]
    bars = fmap["data"][0].sort_values("x0")
    assert np.allclose(np.diff(bars["x0"].values), bars["size_bytes"].iloc[:-1].values / 2**20)


def test_token_timeline_shows_each_steps_selection(warehouse):
    _, truth = warehouse
    run = run_id_of(truth, "code-2")
    at = open_page("4_token_timeline", tl_run=run, tl_layer=7)
    sel = decode_selections(truth)
    expected = sel[(sel["run_id"] == run) & (sel["layer_id"] == 7)].sort_values(["pass_id", "rank"])
    got = frame(at, "step", "rank", "expert_id")
    assert got[["pass_id", "expert_id", "rank"]].values.tolist() == \
        expected[["pass_id", "expert_id", "rank"]].values.tolist()
    passes = truth["passes"][truth["passes"]["run_id"] == run]
    assert metric(at, "Passes") == str(len(passes))
    assert metric(at, "Warm-up passes") == str(int(passes["is_warmup"].sum())) == "1"
    assert metric(at, "Distinct experts in this layer") == str(expected["expert_id"].nunique())
    # the warm-up pass is drawn as a marked column, and carries no selection
    (chart,) = charts(at)
    warm_frames = [f for f in chart["data"] if "is_warmup" in f and len(f) and f["is_warmup"].all()]
    assert [f["pass_id"].tolist() for f in warm_frames] == [passes.loc[passes["is_warmup"], "pass_id"].tolist()]
    cells = next(f for f in chart["data"] if "rank" in f)
    assert sorted(zip(cells["pass_id"], cells["row"], strict=True)) == \
        sorted(zip(expected["pass_id"], expected["expert_id"].astype(str), strict=True))
    assert not set(got["pass_id"]) & set(passes.loc[passes["is_warmup"], "pass_id"])


def _js_bits(p, q):
    m = (p + q) / 2
    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))
    return kl(p, m) / 2 + kl(q, m) / 2


def test_compare_two_runs_difference_and_similarity(warehouse):
    _, truth = warehouse
    a, b = run_id_of(truth, "code-1"), run_id_of(truth, "math-1")
    at = open_page("5_compare", cmp_a=a, cmp_b=b)
    ha, hb = recount_hotness(truth, [a]), recount_hotness(truth, [b])
    diff_chart = next(c for c in charts(at) if c["spec"]["encoding"]["color"].get("field") == "diff")
    got = diff_chart["data"][0].sort_values(["layer_id", "expert_id"])
    assert np.allclose(got["diff"], hb["share"] - ha["share"])
    js = [_js_bits(ha[ha.layer_id == layer]["share"].values, hb[hb.layer_id == layer]["share"].values)
          for layer in range(dw.N_LAYERS)]
    assert metric(at, "Mean Jensen-Shannon divergence (bits)") == f"{np.mean(js):.4f}"
    assert np.allclose(frame(at, "js_divergence", "layer_id")["js_divergence"], js)


def test_compare_two_domains(warehouse):
    _, truth = warehouse
    runs = truth["runs"]
    at = open_page("5_compare", cmp_mode="Two domains", cmp_da="code", cmp_db="math")
    ha = recount_hotness(truth, list(runs.loc[runs.domain == "code", "run_id"]))
    hb = recount_hotness(truth, list(runs.loc[runs.domain == "math", "run_id"]))
    diff_chart = next(c for c in charts(at) if c["spec"]["encoding"]["color"].get("field") == "diff")
    got = diff_chart["data"][0].sort_values(["layer_id", "expert_id"])
    assert np.allclose(got["diff"], hb["share"] - ha["share"])
    sim = frame(at, "js_divergence", "layer_id")
    assert (sim["n_pairs"] == 2).all()  # two code runs × one math run


def test_layout_check_clean_and_broken(warehouse):
    _, truth = warehouse
    layout = truth["tensors"][truth["tensors"]["model_id"] == dw.MODEL_ID]
    at = open_page("6_layout_check")
    assert metric(at, "Layout rows") == f"{len(layout):,}"
    assert metric(at, "Overlapping pairs") == "0"
    assert metric(at, "Gaps") == "0"
    by_type = frame(at, "n_tensors", "size_bytes").set_index(["ggml_type", "category"])["size_bytes"]
    expected = layout.groupby(["ggml_type", "category"])["size_bytes"].sum()
    assert by_type.sort_index().to_dict() == expected.sort_index().to_dict()
    assert by_type.loc[("MXFP4", "expert")] == 10_152_345_600  # the reference model's expert bytes

    at = open_page("6_layout_check", lc_model=BROKEN_ID)
    assert metric(at, "Overlapping pairs") == "1"
    assert frame(at, "tensor_a", "tensor_b")[["tensor_a", "tensor_b", "overlap_start", "overlap_bytes"]].values.tolist() == \
        [["a.weight", "b.weight", 50, 50]]
    assert frame(at, "gap_start", "gap_bytes").values.tolist() == [[150, 300, 150]]
    assert at.error  # the page says something is wrong


def test_sql_console_page(warehouse):
    _, truth = warehouse
    at = open_page("7_sql_console", console_sql="select run_name, n_passes from v1.runs order by run_name")
    assert not at.dataframe  # nothing runs before the button is pressed
    at.button(key="console_run").click().run()
    got = frame(at, "run_name", "n_passes")
    expected = truth["runs"].sort_values("run_name")[["run_name", "n_passes"]]
    assert got.values.tolist() == expected.values.tolist()
    at.text_area(key="console_sql").set_value("select * from read_csv('/etc/passwd')").run()
    assert not at.exception
    assert any("external access" in e.value for e in at.error)
    at.text_area(key="console_sql").set_value("select count(*) as n from v1.passes").run()
    assert frame(at, "n")["n"].tolist() == [len(truth["passes"])]


def test_dashboard_holds_no_connection_open(warehouse):
    """After drawing pages, another process can take the write lock at once (ingest is never blocked)."""
    path, _ = warehouse
    for page in ("2_expert_heatmap", "3_file_map"):
        open_page(page)
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# ---- a warehouse the dashboard cannot show ---------------------------------------------------

def _friendly(path: str) -> AppTest:
    os.environ["MOEWH_DB"] = path
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_missing_database_gets_a_friendly_page(warehouse, tmp_path):
    path = str(tmp_path / "nothing-here.duckdb")
    try:
        at = _friendly(path)
    finally:
        os.environ["MOEWH_DB"] = warehouse[0]
    assert at.title[0].value.endswith("No warehouse yet")
    assert "ingest demo" in at.info[0].value
    assert not os.path.exists(path)  # looking must not create it


def test_empty_and_foreign_files_get_a_friendly_page(warehouse, tmp_path):
    schema_only = str(tmp_path / "schema-only.duckdb")
    open_store(schema_only).close()
    bare = str(tmp_path / "bare.duckdb")
    duckdb.connect(bare).close()
    junk = tmp_path / "junk.duckdb"
    junk.write_text("this is not a database\n" * 100)
    try:
        for path in (schema_only, bare):
            at = _friendly(path)
            assert at.title[0].value.endswith("Empty warehouse"), path
            assert "ingest demo" in at.info[0].value
        at = _friendly(str(junk))
        assert at.error and "junk.duckdb" in at.error[0].value
    finally:
        os.environ["MOEWH_DB"] = warehouse[0]


def test_locked_database_gets_a_friendly_page(warehouse, tmp_path):
    path = str(tmp_path / "busy.duckdb")
    dw.build(path, runs=dw.DEFAULT_RUNS[:1])
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(60)", path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = _friendly(path)
        assert at.title[0].value.endswith("The warehouse is busy")
        assert "moewh ingest" in at.info[0].value
    finally:
        holder.kill()
        holder.wait()
        os.environ["MOEWH_DB"] = warehouse[0]
    at = _friendly(path)  # once the writer is gone the same page shows data
    os.environ["MOEWH_DB"] = warehouse[0]
    assert metric(at, "Runs") == "1"


def test_runs_without_a_model_still_draw(warehouse, tmp_path):
    """A trace ingested without a layout: pages that need the model say so; the rest still work."""
    path = str(tmp_path / "no-model.duckdb")
    dw.build(path, runs=dw.DEFAULT_RUNS[:1], with_anomaly=False)
    with open_store(path) as store, store.transaction() as con:
        con.execute("update runs set model_id = null")
        con.execute("delete from tensors")
        con.execute("delete from models")
    os.environ["MOEWH_DB"] = path
    try:
        for page in PAGES:
            at = open_page(page)
            assert not at.error, (page, [e.value for e in at.error])
        at = open_page("4_token_timeline", tl_layer=2)
        sel = frame(at, "step", "rank", "expert_id")
        assert len(sel) == dw.DEFAULT_RUNS[0].n_generate * dw.K + dw.K  # prompt step + generate steps
        assert any("layout" in i.value for i in open_page("2_expert_heatmap").info)
    finally:
        os.environ["MOEWH_DB"] = warehouse[0]


def test_overview_bytes_per_step_recounted(warehouse):
    """Mean bytes per decode step: the attn_q tensors of every layer plus 6 slices per selected expert."""
    _, truth = warehouse
    at = open_page("1_overview")
    got = frame(at, "mean_step_bytes", "distinct_fraction").set_index("run_name")
    layout = truth["tensors"][truth["tensors"]["model_id"] == dw.MODEL_ID]
    size = layout.set_index("tensor_name")["size_bytes"]
    dense = sum(size[f"blk.{i}.attn_q.weight"] for i in range(dw.N_LAYERS))
    sel = decode_selections(truth)
    for run in truth["runs"].itertuples():
        mine = sel[sel["run_id"] == run.run_id]
        steps = mine.groupby("pass_id")
        per_step = []
        for _pass, rows in steps:
            expert = sum(size[f"blk.{r.layer_id}.ffn_{p}_exps.{w}[{r.expert_id}]"]
                         for r in rows.itertuples() for p in ("gate", "up", "down") for w in ("weight", "bias"))
            # the planted unmatched offset replaced one attn_q read, but only in the warm-up pass
            per_step.append(dense + expert)
        assert got.loc[run.run_name, "mean_step_bytes"] == pytest.approx(np.mean(per_step) / 2**20)
