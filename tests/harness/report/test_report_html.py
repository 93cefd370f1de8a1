"""report.html of real runs, opened in a real headless Chromium that may fetch nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
URL = re.compile(r"""\b(?:https?|wss?)://([^/:'"\s<>]+)""")




@pytest.mark.parametrize(("leak", "code", "verdict"),
                         [("", EXIT_INCONCLUSIVE, "INCONCLUSIVE"), ("heartbeats", EXIT_FAIL, "LEAK")])
def test_report_shows_its_verdict_first_and_needs_no_network(
    browser, tmp_path: Path, leak: str, code: int, verdict: str
) -> None:
    """The verdict is in the first screen at 1280x800, every chart is drawn, the page
    fetches nothing (each request but the file itself fails the test), no console error,
    and the only hosts it names are loopback ones."""
    out = tmp_path / (leak or "fixed")
    argv = ["run", "--cycles", "8", "--users", "4", "--out", str(out)] + (["--leak", leak] if leak else [])
    assert main(argv) == code
    report = out / "report.html"
    html = report.read_text()
    assert {host for host in URL.findall(html)} <= {"127.0.0.1", "localhost"}

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    errors: list[str] = []

    def route(request_route) -> None:  # type: ignore[no-untyped-def]
        if request_route.request.url == report.as_uri():
            request_route.continue_()
        else:
            requests.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    headline = page.locator("#verdict")
    box = headline.bounding_box()
    assert headline.inner_text() == verdict and box is not None and box["y"] + box["height"] <= 800
    charts = page.locator("figure img")
    assert charts.count() >= 2
    for i in range(charts.count()):
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), f"chart {i} not drawn"
    if leak:
        assert "chat_heartbeats" in page.locator("header").inner_text()
    else:  # 8 cycles: the header says why this is no pass
        assert "too short to judge memory.rss: needs 22 cycles" in page.locator("header").inner_text()
    assert requests == [] and errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{leak or 'fixed'}.png"))
    page.close()
