"""Dashboard page draw times on the demo warehouse (`moewh ingest demo`), target < 2 s per page.

The demo is ingested once into bench/out/. Then, in this run:

- script: each page under Streamlit's AppTest, first with every cache cleared (cold: the page's
  queries run on fresh read-only connections) and then again (warm: cached until the file changes);
- browser: when Debian's chromium and Playwright are installed, the real server (`moewh dashboard`)
  and headless Chromium: from clicking the page's sidebar link to its chart being drawn, first
  visit (cold cache) and second visit.

Printed side by side per page, with the slowest against the 2 s target.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

OUT = Path(__file__).parent / "out"
ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 2.0
PAGES = [  # file, url path, title, has a chart
    ("1_overview", "", "Overview", True),
    ("2_expert_heatmap", "expert_heatmap", "Expert heatmap", True),
    ("3_file_map", "file_map", "File map", True),
    ("4_token_timeline", "token_timeline", "Token timeline", True),
    ("5_compare", "compare", "Compare", True),
    ("6_layout_check", "layout_check", "Layout check", True),
    ("7_sql_console", "sql_console", "SQL console", False),
]
CHART = ".vega-embed svg.marks, .vega-embed canvas.marks"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _demo_db() -> str:
    OUT.mkdir(exist_ok=True)
    db = OUT / "dashboard-demo.duckdb"
    if not db.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "warehouse", "--db", str(db), "ingest", "demo"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"demo warehouse ingested in {time.perf_counter() - t0:.1f} s: {db}")
    return str(db)


def _script_times(db: str) -> dict[str, tuple[float, float]]:
    os.environ["MOEWH_DB"] = db
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "dashboards" / "app.py")
    AppTest.from_file(app, default_timeout=120).run()  # imports and view definitions, once
    out = {}
    for file, *_ in PAGES:
        st.cache_data.clear()
        at = AppTest.from_file(app, default_timeout=120)
        if file != "1_overview":
            at.run()
            at.switch_page(f"pages/{file}.py")
            st.cache_data.clear()
        t0 = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        at.run()
        warm = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{file}: {at.exception}")
        out[file] = (cold, warm)
    return out


def _browser_times(db: str) -> dict[str, tuple[float, float]] | None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not os.path.exists(chromium):
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "warehouse", "--db", db, "dashboard", "--port", str(port),
                               "--address", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        out: dict[str, list[float]] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
            page.goto(url)
            page.get_by_role("heading", name="Overview").first.wait_for(timeout=120_000)
            page.wait_for_selector(CHART, timeout=120_000)
            for _visit in range(2):
                for file, _path, title, chart in PAGES[1:] + PAGES[:1]:
                    t0 = time.perf_counter()
                    page.locator("[data-testid='stSidebarNavLink']", has_text=title).first.click()
                    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
                    page.wait_for_function(
                        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
                    if chart:
                        page.wait_for_selector(CHART, timeout=60_000)
                    out.setdefault(file, []).append(time.perf_counter() - t0)
            browser.close()
        return {k: (v[0], v[1]) for k, v in out.items()}
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    db = _demo_db()
    script = _script_times(db)
    browser = _browser_times(db)
    print(f"{'page':18s} {'script cold':>11s} {'script warm':>11s} {'browser 1st':>11s} {'browser 2nd':>11s}")
    for file, *_ in PAGES:
        b = browser.get(file) if browser else None
        print(f"{file:18s} {script[file][0]:10.2f}s {script[file][1]:10.2f}s "
              + (f"{b[0]:10.2f}s {b[1]:10.2f}s" if b else f"{'-':>11s} {'-':>11s}"))
    worst = max(max(script[f][0] for f in script), max((v[0] for v in browser.values()), default=0) if browser else 0)
    print(f"slowest first draw {worst:.2f} s; target < {TARGET_S:g} s: {'met' if worst < TARGET_S else 'MISSED'}")
    if browser is None:
        print("(browser timings skipped: chromium or playwright missing)")


if __name__ == "__main__":
    main()
