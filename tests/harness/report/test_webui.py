"""The Locust web UI with the Leaks tab, driven in a real headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_INCONCLUSIVE
from harness.rundir.store import load_run
from harness.target.process import free_port, port_open

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# The Leaks tab polls /leaks/data every second. A cycle of the bundled server takes about
# 0.16 s, so the default 50 cycles span several polls: rows can be seen arriving while the run goes on,
# not only at its end. 15 cycles are too few to judge memory (it needs 22).
CYCLES = 50
SHORT = 15
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SNAPSHOT = """() => {
    const headline = document.querySelector("[data-testid=leaks-headline]");
    const row = document.querySelector("[data-testid=leaks-table] tbody tr");
    const paths = document.querySelectorAll("[data-testid=chart-probe] svg path");
    return [headline ? headline.innerText : "", row ? row.cells[0].innerText : null, paths.length];
}"""


@pytest.fixture
def ui_of(tmp_path: Path):
    """`harness ui` of `cycles` cycles of `users` sessions in a child process; Ctrl-C at the
    end, as a user would."""
    started: list[subprocess.Popen[bytes]] = []

    def start(cycles: int, users: int) -> tuple[str, Path, subprocess.Popen[bytes], Path]:
        port = free_port()
        out = tmp_path / "ui"
        log = tmp_path / "ui.log"  # a file, not a pipe nobody reads: a chatty child never blocks
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "ui", "--web-port", str(port), "--cycles", str(cycles),
                 "--users", str(users), "--out", str(out)],
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                # Ctrl-C must reach it even where this suite runs as a background job (SIGINT ignored).
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        started.append(proc)
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        return f"http://127.0.0.1:{port}", out, proc, log

    yield start
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_test(browser, url: str, log: Path):  # type: ignore[no-untyped-def]
    """A page at 1280x800 that pressed START and opened the Leaks tab; its console errors."""
    from playwright.sync_api import Error as PlaywrightError  # installed: `browser` skips without it

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(url)
    page.wait_for_load_state("networkidle")  # the form is live, not only drawn
    with page.expect_response(lambda response: response.url.endswith("/swarm")) as swarm:
        page.get_by_role("button", name="START").click()
    assert swarm.value.ok, (swarm.value.status, swarm.value.text())
    try:
        page.get_by_role("tab", name="Leaks").click()
    except PlaywrightError:
        page.screenshot(path=str(log.with_name("no-leaks-tab.png")))
        pytest.fail(f"no Leaks tab after START; the UI's output:\n{log.read_text()[-3000:]}")
    return page, errors


def cycle_of(headline: str) -> int:
    return int(headline.split("cycle ")[1].split()[0].rstrip(","))


def test_leaks_tab_is_live_newest_first_and_fits(browser, ui_of) -> None:
    """Start a test from the UI and watch the Leaks tab at 1280x800: the headline changes
    as cycles arrive, the probe chart gains points, the newest cycle is the first row,
    nothing overflows horizontally; at the end the tab links report.html, the CSV and
    plot routes answer, and Ctrl-C leaves a run `harness gate` can judge. A screenshot
    of the tab is kept in test-artifacts/."""
    url, out, proc, log = ui_of(CYCLES, 10)  # the default run, which the fixed server passes
    page, errors = start_test(browser, url, log)
    headlines: list[str] = []
    points: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and "finished" not in (headlines or [""])[-1]:
        page.wait_for_timeout(300)
        # One read of the page, so that a poll landing between two reads cannot pair the
        # headline of one cycle with the table of the next.
        text, first_cell, drawn = page.evaluate(SNAPSHOT)
        if not headlines or text != headlines[-1]:
            headlines.append(text)
        if first_cell is not None:
            assert first_cell == str(cycle_of(text)), (first_cell, text)
            if not points or drawn != points[-1]:
                points.append(drawn)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert f"cycle {CYCLES} of {CYCLES}, finished" in headlines[-1], headlines
    assert len(headlines) > 3, f"the headline should change as cycles arrive: {headlines}"
    assert len(points) > 2 and points == sorted(points), f"the chart should gain points: {points}"
    assert headlines[-1].startswith("PASS"), headlines  # the fixed server
    rows = page.locator("[data-testid=leaks-table] tbody tr")
    cells = [text.split("\t") for text in rows.all_inner_texts()][::-1]  # oldest first
    assert [c[0] for c in cells] == [str(n) for n in range(1, CYCLES + 1)], cells
    # The first cycles are too few to judge; they pass faster than the page polls, so the
    # headline may never be seen in them, but each row keeps the verdict the tab gave when
    # its cycle arrived, and a headline seen then agrees with it.
    verdicts = [c[2] for c in cells]
    warming = next((i for i, v in enumerate(verdicts) if v != "warming up"), CYCLES)
    assert 0 < warming < CYCLES and "warming up" not in verdicts[warming:], verdicts
    judged = [h for h in headlines if not h.startswith("Waiting")]
    assert all(h.startswith("WARMING UP") == (cycle_of(h) <= warming) for h in judged), (warming, judged)
    link = page.get_by_role("link", name="Open report.html")
    report = urllib.request.urlopen(url + "/leaks/report.html").read().decode()
    assert link.count() == 1, headlines
    assert '<h1 id="verdict">PASS</h1>' in report
    assert errors == [], errors
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaks-tab.png"))
    csv_text = urllib.request.urlopen(f"{url}/leaks/samples.csv").read().decode()
    assert csv_text.splitlines()[0].startswith("cycle,") and len(csv_text.splitlines()) == CYCLES + 1
    png = urllib.request.urlopen(f"{url}/leaks/latency.png").read()
    assert png[:4] == b"\x89PNG"
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0
    assert len(load_run(out).samples) == CYCLES
    assert main(["gate", str(out)]) == 0


def test_a_run_too_short_to_judge_memory_says_so(browser, ui_of) -> None:
    """15 cycles cannot judge memory: the tab's headline says so and what it needs, the run is
    inconclusive, not a pass, and so is the gate on what Ctrl-C left."""
    url, out, proc, log = ui_of(SHORT, 4)
    page, errors = start_test(browser, url, log)
    headline = page.get_by_test_id("leaks-headline")
    deadline = time.monotonic() + 90
    while f"cycle {SHORT} of {SHORT}, finished" not in headline.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
    text = headline.inner_text()
    assert text.startswith("INCONCLUSIVE") and f"cycle {SHORT} of {SHORT}, finished" in text, text
    assert "too short to judge: needs 22 cycles" in text, text
    report = urllib.request.urlopen(url + "/leaks/report.html").read().decode()
    assert '<h1 id="verdict">INCONCLUSIVE</h1>' in report
    assert errors == [], errors
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0
    assert main(["gate", str(out)]) == EXIT_INCONCLUSIVE
