"""The census client's count of cycle censuses: tracemalloc's baseline is taken at the census
of cycle `alloc_from`, and a census outside the cycles (the drain's samples, the one before
the first client) neither counts nor asks for allocations. Against a real HTTP endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from harness.observe.census import CensusClient


def test_censuses_outside_the_cycles_are_not_counted() -> None:
    asked: list[str] = []

    class Agent(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            asked.append(self.path)
            body = json.dumps({"groups": {"objects:Session": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = CensusClient(f"http://127.0.0.1:{server.server_address[1]}/census", "token", alloc_from=2)
        client.take(counted=False)  # before the first client
        assert client.take().groups == {"objects:Session": 1.0}  # cycle 1
        client.take()  # cycle 2: the baseline
        client.take(counted=False)  # a drain sample
        client.take()  # cycle 3
    finally:
        server.shutdown()
    modes = [path.partition("alloc=")[2] for path in asked]
    assert modes == ["", "", "baseline", "", "compare"] and client.calls == 3
