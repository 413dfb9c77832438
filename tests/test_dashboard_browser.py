"""End to end: `moewh dashboard` serves every page to headless Chromium; screenshots are saved.

Needs Debian's `chromium` (/usr/bin/chromium) and the Playwright Python package (its bundled
driver only; no browser download). Skips with a message when Chromium is missing, unless
REQUIRE_BROWSER=1, as in CI, where it fails instead. Screenshots: tests/screenshots/*.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO
from pathlib import Path

import dashboard_warehouse as dw
import pytest

from warehouse.db.store import open_store
from warehouse.simulate.runner import simulate_cache, simulate_predictors

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MOEWH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# A drawn Vega chart: Streamlit renders Altair as SVG (class "marks"); canvas if that changes.
CHART = ".vega-embed svg.marks, .vega-embed canvas.marks"
# url path -> what must be on the page once it has drawn
PAGES = {
    "": ("Overview", "chart"),
    "expert_heatmap": ("Expert heatmap", "chart"),
    "file_map": ("File map", "chart"),
    "token_timeline": ("Token timeline", "chart"),
    "compare": ("Compare", "chart"),
    "layout_check": ("Layout check", "chart"),
    "sql_console": ("SQL console", None),
    "cache": ("Cache", "chart"),
}


SERVED: dict[str, str] = {}  # the served warehouse's path, for the lock test


def _browser_or_skip():
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed"
    if problem:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(f"browser test skipped: {problem}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _browser_or_skip()
    db = str(tmp_path_factory.mktemp("browser") / "warehouse.duckdb")
    dw.build(db, runs=dw.DEFAULT_RUNS + (
        dw.RunSpec("math-2", "exp-b", "math", "synthetic", 30, 5),
        dw.RunSpec("chat-2", "exp-b", "chat", "synthetic", 40, 6),
    ))
    with open_store(db) as store:  # the Cache page shows simulations
        simulate_cache(store, None, budgets=[256 << 20, 1 << 30, 2 << 30, 4 << 30, 8 << 30])
        simulate_predictors(store, None)
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    log_path = Path(db).with_suffix(".log")
    log = open(log_path, "w")  # a file, not a pipe nobody reads: a full pipe would stall the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse", "--db", db, "dashboard", "--port", str(port), "--address", "127.0.0.1"],
        env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = log_path.read_text()
            pytest.fail(f"the dashboard server did not come up on {url}:\n{out[-3000:]}")
        time.sleep(0.3)
    SERVED["db"] = db
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def page():
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        yield context.new_page()
        browser.close()


def _wait_drawn(page, title: str, want_chart: bool) -> None:
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)
    # Streamlit shows a running indicator until the script finishes
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    if want_chart:
        page.wait_for_selector(CHART, timeout=30_000)


@pytest.mark.parametrize("path", list(PAGES))
def test_page_draws_in_chromium(server, page, path):
    """Open the app once, then reach every page through the sidebar, as a reader would."""
    title, want = PAGES[path]
    SHOTS.mkdir(exist_ok=True)
    if not path or not page.url.startswith(server):
        page.goto(server, wait_until="domcontentloaded")
        _wait_drawn(page, "Overview", True)
    if path:
        page.locator("[data-testid='stSidebarNavLink']", has_text=title).first.click()
        page.wait_for_url(f"{server}/{path}", timeout=30_000)
    _wait_drawn(page, title, want == "chart")
    assert page.locator("[data-testid='stException']").count() == 0, page.inner_text("body")[:2000]
    page.wait_for_timeout(400)  # let vega-embed finish its first paint
    page.screenshot(path=str(SHOTS / f"{path or 'overview'}.png"), full_page=True)


def test_deep_link_opens_its_page(server, page):
    page.goto(f"{server}/compare", wait_until="domcontentloaded")
    _wait_drawn(page, "Compare", True)
    assert page.locator("[data-testid='stException']").count() == 0


def test_heatmap_is_drawn_with_every_cell(server, page):
    """The heatmap's canvas is painted, not blank: many distinct colours are on it."""
    page.goto(f"{server}/expert_heatmap", wait_until="domcontentloaded")
    _wait_drawn(page, "Expert heatmap", True)
    canvas = page.locator(CHART).first
    canvas.wait_for(timeout=30_000)
    box = canvas.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 300
    png = canvas.screenshot()
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "heatmap-canvas.png").write_bytes(png)
    colours = _distinct_colours(BytesIO(png))
    assert colours > 30, f"heatmap canvas shows only {colours} colours"
    # every layer x expert cell is a mark: 24 x 32 rectangles at least (SVG renderer)
    if page.locator(".vega-embed svg.marks").count():
        cells = page.locator(".vega-embed svg.marks g.mark-rect path").count()
        assert cells >= dw.N_LAYERS * dw.N_EXPERTS, cells


def _distinct_colours(fh) -> int:
    from PIL import Image

    return len(Image.open(fh).convert("RGB").getcolors(maxcolors=1 << 24))


def test_sql_console_runs_and_refuses_in_the_browser(server, page):
    page.goto(f"{server}/sql_console", wait_until="domcontentloaded")
    _wait_drawn(page, "SQL console", False)
    page.get_by_role("button", name="Run").click()
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
    assert page.get_by_text("row(s) in").count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "sql-result.png"), full_page=True)

    box = page.locator("textarea").first
    box.fill("select * from read_csv('/etc/passwd')")
    box.press("Control+Enter")  # commits the text; the console runs it (it ran once already)
    page.get_by_text("external access is disabled").first.wait_for(timeout=30_000)
    # the earlier result table goes once the run finishes (a timeout here means it stayed)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stDataFrame\"]')", timeout=15_000)
    assert "root:" not in page.inner_text("body")


def test_live_server_holds_no_lock(server, page):
    """With the dashboard up and pages drawn, a writer (what `moewh ingest` opens) gets the file at once."""
    page.goto(f"{server}/file_map", wait_until="domcontentloaded")
    _wait_drawn(page, "File map", True)
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close(); print('ok')"
    done = subprocess.run([sys.executable, "-c", code, SERVED["db"]], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def _readme_addresses() -> list[str]:
    """The page addresses the README's Dashboard section lists (`/overview`, `/heatmap`, ...)."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Dashboard", 1)[1].split("\n## ", 1)[0]
    line = next(x for x in section.split(".") if "own address" in x or "address to bookmark" in x)
    return re.findall(r"`/(\w+)`", section[section.index(line):])


def test_every_readme_page_address_opens_its_page(server, page):
    titles = {"overview": "Overview", **{p: t for p, (t, _) in PAGES.items() if p}}
    addresses = _readme_addresses()
    assert set(addresses) == set(titles), addresses  # the README lists every page, and only pages
    for path in addresses:
        page.goto(f"{server}/{path}", wait_until="domcontentloaded")
        _wait_drawn(page, titles[path], False)
        assert page.url.split("?")[0] == f"{server}/{path}"
        body = page.inner_text("body")
        assert "Page not found" not in body and page.locator("[data-testid='stException']").count() == 0, path


def test_root_forwards_to_the_overview(server, page):
    page.goto(server, wait_until="domcontentloaded")
    _wait_drawn(page, "Overview", True)
    page.wait_for_url(f"{server}/overview", timeout=30_000)


def test_file_map_one_decode_step_lights_k_slices_per_expert_tensor(server, page):
    """One step of one synthetic run, zoomed to a layer: in every lane of expert slices (gate,
    up, down and their biases, n_experts bars each) exactly k are coloured, the selected experts
    in file order, and the other n_experts - k are grey."""
    import duckdb

    con = duckdb.connect(SERVED["db"], read_only=True)
    run_id, step, layer = con.execute(
        "select run_id, 2, 3 from v1.runs where run_name = 'code-1'").fetchone()
    chosen = sorted(r[0] for r in con.execute(
        "select expert_id from v1.step_experts where run_id = ? and step = ? and layer_id = ?",
        [run_id, step, layer]).fetchall())
    con.close()
    assert len(chosen) == dw.K
    page.goto(f"{server}/file_map?run={run_id}&step={step}&layer={layer}", wait_until="domcontentloaded")
    _wait_drawn(page, "File map", True)
    page.get_by_text(f"decode step {step}").first.wait_for(timeout=30_000)
    page.wait_for_timeout(400)
    bars = page.evaluate("""() => Array.from(document.querySelectorAll('.vega-embed svg.marks g.mark-rect path'))
        .map(p => { const b = p.getBBox(); return [Math.round(b.y), b.x, p.getAttribute('fill')]; })""")
    lanes: dict[int, list] = {}
    for y, x, fill in bars:
        lanes.setdefault(y, []).append((x, fill))
    expert_lanes = [sorted(v) for v in lanes.values() if len(v) == dw.N_EXPERTS]
    assert len(expert_lanes) >= 3, {y: len(v) for y, v in lanes.items()}  # gate, up, down at least
    grey = "#d9d9d9"
    for lane in expert_lanes:
        lit = [i for i, (_, fill) in enumerate(lane) if fill and fill.lower() != grey]
        assert lit == chosen
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "file_map-one-step.png"), full_page=True)
