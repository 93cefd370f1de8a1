"""The Sampler against real endpoints on 127.0.0.1: what it reads from a server, and how each
way an endpoint can fail is told apart (unreachable ends the run; an error or garbage is a
failed instrument for that cycle, never figures of zero)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.errors import TargetError
from harness.observe.sampler import Sampler, parse_json, parse_metrics

pytestmark = pytest.mark.integration


@contextmanager
def endpoint(status: int, body: str) -> Iterator[str]:
    """An HTTP server on port 0 that answers every GET with `status` and `body`."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/metrics"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_prometheus_text_and_json_figures_are_parsed_and_garbage_refused() -> None:
    text = '# TYPE t counter\nt_total 3\n# TYPE g gauge\ng{b="2",a="1"} 4.5\n'
    assert parse_metrics(text) == {"t_total": 3.0, "g{a=1,b=2}": 4.5}
    assert parse_json('{"tasks": 3, "ok": true, "name": "x"}') == {"tasks": 3.0}
    with pytest.raises(ValueError):
        parse_json("[1, 2]")


def test_the_bundled_servers_sample_has_its_gauges_process_and_phases(server) -> None:  # type: ignore[no-untyped-def]
    observation = server.sampler.sample()
    assert observation.server["chat_clients"] == 0 and "chat_asyncio_tasks" in observation.server
    assert observation.process is not None and observation.process.rss_bytes > 0 and observation.process.open_fds > 0
    assert set(observation.seconds) == {"process", "scrape", "census"} and observation.failed == {}


@pytest.mark.parametrize(("status", "body", "why"), [
    (500, "boom", "answered HTTP 500"),
    (200, "this is { not metrics", "did not return parseable figures"),
])
def test_an_endpoint_that_answers_badly_is_a_failed_instrument_warned_of_once(status: int, body: str, why: str) -> None:
    with endpoint(status, body) as url:
        sampler = Sampler(metrics_url=url)
        failures: list[dict[str, str]] = []
        for _ in range(3):
            failed: dict[str, str] = {}
            assert sampler.scrape(failed) == {}
            failures.append(failed)
    assert all(why in f[f"metrics {url}"] for f in failures)  # every cycle counts it
    assert len(sampler.warnings) == 1 and url in sampler.warnings[0]  # said once


def test_an_unreachable_server_ends_the_run_with_its_url() -> None:
    with endpoint(200, "") as url:
        pass  # the port is closed again
    with pytest.raises(TargetError, match="server not reachable at " + url):
        Sampler(metrics_url=url, http_timeout=2).scrape()


def test_a_server_process_that_is_gone_is_said_so() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = Sampler(metrics_url=None, pid=child.pid, idle_window=0.01)
        assert sampler.process_figures() is not None
    finally:
        child.kill()
        child.wait(timeout=10)
    with pytest.raises(TargetError, match=f"server process {child.pid} is gone"):
        sampler.process_figures()
