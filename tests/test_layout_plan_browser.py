"""The Layout plan page served by `moewh dashboard` to headless Chromium (screenshot saved).

Skips like tests/test_dashboard_browser.py without Chromium, unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dashboard_warehouse as dw
import pytest
from test_dashboard_browser import ARGS, CHART, CHROMIUM, SHOTS, _browser_or_skip, _free_port, _wait_drawn

from warehouse.db.store import open_store
from warehouse.layout.plan import ORDERS, Params
from warehouse.layout.plan_store import plan_model, store_plan

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _browser_or_skip()
    db = str(tmp_path_factory.mktemp("plan-browser") / "warehouse.duckdb")
    dw.build(db)
    with open_store(db) as store:
        plan = plan_model(store.con, dw.MODEL_ID, None, None, list(ORDERS), Params(), ["code-1"])
        with store.transaction() as con:
            store_plan(con, plan)
    port = _free_port()
    log_path = Path(db).with_suffix(".log")
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse", "--db", db, "dashboard", "--port", str(port), "--address", "127.0.0.1"],
        env=dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false"), stdout=log, stderr=subprocess.STDOUT)
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
            pytest.fail(f"the dashboard server did not come up on {url}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_layout_plan_page_draws_its_charts(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1500, "height": 1400}).new_page()
        page.goto(f"{server}/layout_plan", wait_until="domcontentloaded")
        _wait_drawn(page, "Layout plan", True)
        page.wait_for_function(f"() => document.querySelectorAll('{CHART}').length >= 2", timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0, page.inner_text("body")[:2000]
        body = page.inner_text("body")
        assert "Per decode step" in body and "The file in one order" in body
        for order in ORDERS:
            assert order in body
        page.wait_for_timeout(400)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "layout_plan.png"), full_page=True)
        browser.close()
