"""The Locust web UI with the Leaks tab, driven in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harness.cli import main
from harness.rundir.store import load_run
from harness.target.process import free_port, port_open

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = shutil.which("chromium")
# Locust's UI polls its stats every 2 s; 15 cycles take several polls, so rows can be
# seen arriving while the run goes on, not only at its end.
CYCLES = 15
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def ui(tmp_path: Path):
    """`harness ui` in a child process; Ctrl-C at the end, as a user would."""
    port = free_port()
    out = tmp_path / "ui"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "ui", "--web-port", str(port), "--cycles", str(CYCLES),
         "--users", "4", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", out, proc
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_leaks_tab_fills_one_row_per_cycle(browser, ui) -> None:
    """Start a test from the UI: the Leaks tab shows a row per finished cycle with the
    verdict so far; the CSV and plot routes answer; Ctrl-C leaves a run `harness gate`
    can judge. A screenshot of the tab is kept in test-artifacts/."""
    url, out, proc = ui
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(url)
    page.get_by_role("button", name="START").click()
    page.get_by_role("tab", name="Leaks").click()
    rows = page.locator("table tbody tr")
    seen = [0]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and seen[-1] < CYCLES:
        page.wait_for_timeout(300)
        count = rows.count()
        if count > seen[-1]:
            seen.append(count)
    assert seen[-1] == CYCLES, seen
    assert len(seen) > 2, f"rows should appear while the run goes on, saw counts {seen}"
    first = rows.nth(0).inner_text().split("\t")
    last = rows.nth(CYCLES - 1).inner_text().split("\t")
    assert first[0] == "1" and first[1] == "warming up"
    assert last[0] == str(CYCLES) and last[1] == "pass" and last[2] == "4 ok / 0 failed"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaks-tab.png"), full_page=True)
    csv_text = urllib.request.urlopen(f"{url}/leaks/samples.csv").read().decode()
    assert csv_text.splitlines()[0].startswith("cycle,") and len(csv_text.splitlines()) == CYCLES + 1
    png = urllib.request.urlopen(f"{url}/leaks/latency.png").read()
    assert png[:4] == b"\x89PNG"
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0
    assert len(load_run(out).samples) == CYCLES
    assert main(["gate", str(out)]) == 0
