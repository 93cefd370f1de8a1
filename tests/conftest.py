"""Shared fixtures: a real bundled server on 127.0.0.1 port 0, stopped after the test."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.load.client import ChatClient
from harness.observe.sampler import Sampler
from harness.target.process import ServerProcess

CHROMIUM = shutil.which("chromium")

# One time unit for waits in tests, scaled on slow machines (websockets' habit).
MS = 0.001 * float(os.environ.get("HARNESS_TEST_TIMEOUT_FACTOR", "1"))


class RunningServer:
    """A started ServerProcess plus helpers to talk to it and read its gauges."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        self.url = process.ws_url
        self.sampler = Sampler(
            metrics_url=f"{process.http_url}/metrics",
            resources_url=f"{process.http_url}/debug/resources",
            pid=process.pid,
            idle_window=0.05,
        )

    def client(self, **kwargs: object) -> ChatClient:
        return ChatClient(self.url, **kwargs)  # type: ignore[arg-type]

    def gauges(self) -> dict[str, float]:
        return self.sampler.scrape()

    def quiet_gauges(self) -> dict[str, float]:
        """Gauges once no client is connected and every leftover task has settled."""
        reached, _ = self.sampler.wait_quiet()
        assert reached, "server still reports connected clients"
        time.sleep(50 * MS)
        return self.gauges()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    started: list[ServerProcess] = []

    def start(*leaks: str, extra: tuple[str, ...] = ()) -> RunningServer:
        process = ServerProcess.bundled(
            leaks, log_path=tmp_path / f"server-{len(started)}.log", extra=extra
        )
        started.append(process)
        process.start()
        return RunningServer(process)

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium through Playwright, with the harness's own flags (which
    also keep it from dialling out); the test is skipped where none is installed."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    from harness.load.page import CHROMIUM_ARGS

    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def assert_clean_but_too_short(summary: dict) -> None:
    """A short run of a clean server: nothing failed and nothing else went wrong, but memory
    cannot be judged in so few cycles, so the verdict is inconclusive (exit 3), never a pass."""
    assert summary["verdict"] == "inconclusive", (summary["verdict"], summary["caught_by"])
    assert summary["caught_by"] == [] and summary["reasons"] == [], summary["reasons"]
    assert [line.partition(":")[0] for line in summary["too_short"]] == ["too short to judge memory.rss"]
