"""One real-browser test: `streamlit run app.py` on 127.0.0.1, driven by headless Chromium.

Needs the Debian `chromium` package and the Python package `playwright` (never
`playwright install`: the system browser is used). Where either is missing the test is
skipped with the reason. Streamlit draws the page after load over a websocket, so the test
waits for `.js-plotly-plot`; a screenshot only covers the viewport, so the viewport is tall.
The screenshot is saved under `artifacts/` (git-ignored). The page opens on the small test
model through the URL (`?model=...`), so the test does not wait for the default's trace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STARTUP_S = 60
LOAD_S = 180           # first load: imports torch and traces the small model


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "no system chromium (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not answer within {STARTUP_S} s: {log.read_text()[-2000:]}")


@pytest.fixture
def server(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    log = tmp_path / "streamlit.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


_CHARTS_SHOW = """(name) => {
  const charts = [...document.querySelectorAll('.js-plotly-plot')];
  return charts.length >= 3 && charts.every(c => c.textContent.includes(name));
}"""


def test_compare_in_a_real_browser(server, small_model):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 3200})
            query = urllib.parse.urlencode({"model": small_model, "seq": 128,
                                            "devices": "h100-sxm,mi300x"})
            page.goto(f"{server}/?{query}")
            page.wait_for_selector(".js-plotly-plot", timeout=LOAD_S * 1000)
            page.wait_for_function(_CHARTS_SHOW, arg="mi300x", timeout=LOAD_S * 1000)
            assert page.get_by_text("small-llama").count() >= 1
            assert page.get_by_text("Traceback").count() == 0
            page.screenshot(path=str(ARTIFACTS / "browser-compare-default.png"))

            devices = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Devices")
            devices.locator("input").click()
            devices.locator("input").fill("l40s")
            page.keyboard.press("Enter")
            page.keyboard.press("Escape")
            page.wait_for_function(_CHARTS_SHOW, arg="l40s", timeout=LOAD_S * 1000)
            page.wait_for_timeout(1000)          # let plotly finish drawing
            assert page.get_by_text("Traceback").count() == 0
            shot = ARTIFACTS / "browser-compare-l40s.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 50_000
            table = page.locator('[data-testid="stDataFrame"]').first
            assert table.is_visible()
        finally:
            browser.close()
