"""--scenario page: the chat page in a real headless Chromium, fixed and with each leak."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_USAGE
from harness.load.page import PageSessions
from harness.rundir.store import load_run
from harness.target.process import ServerProcess
from tests.conftest import assert_clean_but_too_short

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(autouse=True)
def needs_chromium() -> None:
    if shutil.which("chromium") is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="pip install playwright")


def test_fixed_page_fails_nothing(tmp_path: Path) -> None:
    """12 cycles of 4 tabs: subscriptions stay 1, one socket per tab, each message handled
    once; nothing fails, the page figures are in every line, and the run says it was too
    short to judge the server's memory (exit 3) rather than pass."""
    out = tmp_path / "page"
    argv = ["run", "--scenario", "page", "--cycles", "12", "--users", "4", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    samples = load_run(out).samples
    assert len(samples) == 12
    for sample in samples:
        assert sample.page["subscriptions_message"] == 1 == sample.page["subscriptions_state"]
        assert sample.page["sockets_open_per_tab"] == 1
        assert sample.page["sockets_opened_per_tab"] == 4  # first connect + 3 switches
        assert sample.page["handled_per_received"] == 1
        assert sample.sessions.completed == 4 and sample.probe.ok
    summary = json.loads((out / "summary.json").read_text())
    assert_clean_but_too_short(summary)
    assert "page figures" in summary["signals"]
    assert summary["metrics"]["page.subscriptions_message"]["verdict"] == "pass"


@pytest.mark.parametrize(
    ("leak", "named"),
    [
        ("subscriptions", {"page.subscriptions_message", "page.subscriptions_state", "page.handled_per_received"}),
        ("connections", {"page.sockets_open_per_tab"}),
    ],
)
def test_each_page_leak_is_caught_and_named(tmp_path: Path, leak: str, named: set[str]) -> None:
    """?leak=subscriptions and ?leak=connections fail the run, naming the page figure. Sockets a
    tab leaves open are open on the server too, so its census may also see what each holds
    (a CI run named asyncio's TimerHandles growing with them): nothing else may be caught."""
    out = tmp_path / leak
    argv = ["run", "--scenario", "page", "--page-leak", leak, "--cycles", "10", "--users", "3",
            "--stop-early", "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    summary = json.loads((out / "summary.json").read_text())
    caught = set(summary["caught_by"])
    assert named <= caught, caught
    others = caught - named
    assert not others or (leak == "connections" and all(c.startswith("census.") for c in others)), caught
    assert summary["status"]["state"] == "decided"


def test_screenshot_of_the_page_mid_chat() -> None:
    """A tab after one chat turn, kept in test-artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "page-mid-chat.png"
    with ServerProcess.bundled() as server, PageSessions(server.http_url) as pages:
        pages.screenshot(str(target))
    assert target.read_bytes()[:4] == b"\x89PNG" and target.stat().st_size > 5_000


def test_page_that_never_connects_fails_with_that_reason() -> None:
    """A page whose socket cannot connect: every session fails as 'page never connected'."""
    with ServerProcess.bundled() as server, PageSessions(server.http_url, timeout=1.5) as pages:
        pages.url = f"{server.http_url}/?ws=ws://127.0.0.1:9/client-ws"
        wave = pages.run_wave(1, ["page", "page"])
        assert wave.sessions.failed == 2 and wave.sessions.failures == {"page never connected": 2}
        probe = pages.probe()
        assert not probe.ok and "page never connected" in probe.error


def test_no_chromium_is_a_clear_usage_error(monkeypatch, tmp_path: Path, capsys) -> None:
    """Without Chromium: exit 2, how to install it, and that other scenarios still work."""
    monkeypatch.setattr("harness.load.page.shutil.which", lambda name: None)
    assert main(["run", "--scenario", "page", "--out", str(tmp_path / "x")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "apt-get install chromium" in err and "other scenarios still work" in err
    assert "Traceback" not in err
