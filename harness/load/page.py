"""`--scenario page`: the web page half of the incident, in a real headless Chromium.

Each wave opens U tabs of the bundled chat page, chats once in each, switches the page's
wsUrl a few times (the in-page reconnect the seed describes) and closes the tabs. Before
closing, it reads what the seed's console showed (window.chatLeakProbe) from every tab.
Locust-free: the CycleDriver runs it in the harness process.
"""

from __future__ import annotations

import shutil
import time
from types import TracebackType
from typing import Any

from harness.errors import UsageError
from harness.load.client import SessionError
from harness.load.driver import WaveResult
from harness.options import REPLY_TIMEOUT_S
from harness.rundir.records import Probe, Sessions

PAGE_LEAKS = ("subscriptions", "connections")
SWITCHES = 3
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # U tabs run at once; a background tab's timers must not be throttled to 1/s.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
POLL_MS = 20  # not requestAnimationFrame, which hardly runs in background tabs
CONNECTED = "window.chatLeakProbe && window.chatLeakProbe.sockets_open >= 1"
OPEN = "document.querySelector('[data-testid=state]')?.textContent === 'OPEN'"
READ_PROBE = "JSON.parse(JSON.stringify(window.chatLeakProbe))"


def press(page: Any, test_id: str) -> None:
    """Click a control through the DOM: a real click event, without Playwright's
    actionability wait, which needs animation frames that background tabs hardly get."""
    page.evaluate(f"document.querySelector('[data-testid={test_id}]').click()")


def find_chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise UsageError(
            "--scenario page needs Chromium, and none is installed: on Debian or Ubuntu, "
            "apt-get install chromium (Playwright cannot download browsers here). "
            "The other scenarios still work without it."
        )
    return path


class PageSessions:
    """A headless Chromium that runs page waves and probes against one server."""

    def __init__(self, http_url: str, leak: str = "", timeout: float = REPLY_TIMEOUT_S) -> None:
        if leak and leak not in PAGE_LEAKS:
            raise UsageError(f"unknown page leak {leak!r}; choose one of: {', '.join(PAGE_LEAKS)}")
        self.url = f"{http_url}/?leak={leak}" if leak else f"{http_url}/"
        self.timeout_ms = timeout * 1000
        chromium = find_chromium()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise UsageError("--scenario page needs Playwright: pip install playwright") from None
        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        except Exception:
            self._playwright.stop()
            raise

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()

    def __enter__(self) -> PageSessions:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def wait(self, page: Any, condition: str, reason: str) -> None:
        try:
            page.wait_for_function(condition, polling=POLL_MS, timeout=self.timeout_ms)
        except Exception as exc:  # noqa: BLE001 - Playwright's timeout and target errors
            raise SessionError(reason, str(exc).splitlines()[0]) from None

    def run_wave(self, cycle: int, behaviours: list[str]) -> WaveResult:
        """U tabs at once: open, chat, switch wsUrl, read the probe, close."""
        users = len(behaviours)
        result = WaveResult(Sessions(attempted=users))
        context = self.browser.new_context()
        tabs: list[dict[str, Any]] = []
        try:
            for _ in range(users):
                page = context.new_page()
                page.goto(self.url, wait_until="commit")
                tabs.append({"page": page, "started": time.perf_counter(), "error": None})
            self.each(tabs, self.connect, result)
            self.each(tabs, lambda tab: press(tab["page"], "send"), result)
            self.each(tabs, lambda tab: self.reply(tab, result), result)
            for _ in range(SWITCHES):
                self.each(tabs, lambda tab: press(tab["page"], "switch"), result)
                self.each(tabs, lambda tab: self.wait(tab["page"], OPEN, "page never reconnected"), result)
            time.sleep(0.5)  # let late frames and reconnect timers show themselves
            probes = []
            for tab in tabs:
                if tab["error"] is None:
                    probes.append(tab["page"].evaluate(READ_PROBE))
        finally:
            context.close()
        for tab in tabs:
            if tab["error"] is not None:
                result.sessions.fail(tab["error"])
        result.sessions.completed = users - result.sessions.failed
        result.figures = page_figures(probes)
        return result

    def each(self, tabs: list[dict[str, Any]], step: Any, result: WaveResult) -> None:
        for tab in tabs:
            if tab["error"] is not None:
                continue
            try:
                step(tab)
            except SessionError as exc:
                tab["error"] = exc.reason
            except Exception as exc:  # noqa: BLE001 - a tab that crashed is a failed session
                tab["error"] = f"page error: {type(exc).__name__}"

    def connect(self, tab: dict[str, Any]) -> None:
        self.wait(tab["page"], CONNECTED, "page never connected")
        self.wait(tab["page"], OPEN, "page never connected")

    def reply(self, tab: dict[str, Any], result: WaveResult) -> None:
        page = tab["page"]
        self.wait(page, "window.chatLeakProbe.replies >= 1", "reply timeout")
        figures = page.evaluate(READ_PROBE)
        for name, key in (("first-token", "last_first_token_ms"), ("reply", "last_reply_ms")):
            if figures.get(key) is not None:
                result.steps.setdefault(name, []).append(round(float(figures[key]), 3))

    def probe(self) -> Probe:
        """One fresh tab, one chat, alone on the quiet server."""
        context = self.browser.new_context()
        try:
            page = context.new_page()
            started = time.perf_counter()
            page.goto(self.url, wait_until="commit")
            self.connect({"page": page})
            connect_ms = (time.perf_counter() - started) * 1000
            press(page, "send")
            self.wait(page, "window.chatLeakProbe.replies >= 1", "reply timeout")
            figures = page.evaluate(READ_PROBE)
            return Probe(ok=True, connect_ms=round(connect_ms, 3),
                         first_token_ms=figures.get("last_first_token_ms"),
                         reply_ms=figures.get("last_reply_ms"))
        except SessionError as exc:
            return Probe(ok=False, error=str(exc))
        finally:
            context.close()

    def screenshot(self, path: str) -> None:
        """A tab mid-chat, for people and test artifacts."""
        context = self.browser.new_context()
        try:
            page = context.new_page()
            page.goto(self.url)
            self.connect({"page": page})
            press(page, "send")
            self.wait(page, "window.chatLeakProbe.replies >= 1", "reply timeout")
            page.screenshot(path=path)
        finally:
            context.close()


def page_figures(probes: list[dict[str, Any]]) -> dict[str, float]:
    """The worst tab's subscriptions and open sockets, and handled per received overall."""
    if not probes:
        return {}
    received = sum(p["messages_received"] for p in probes)
    return {
        "subscriptions_message": float(max(p["subscriptions"]["message"] for p in probes)),
        "subscriptions_state": float(max(p["subscriptions"]["state"] for p in probes)),
        "sockets_open_per_tab": float(max(p["sockets_open"] for p in probes)),
        "sockets_opened_per_tab": float(max(p["sockets_opened"] for p in probes)),
        "handled_per_received": round(sum(p["messages_handled"] for p in probes) / received, 4)
        if received else 0.0,
    }
