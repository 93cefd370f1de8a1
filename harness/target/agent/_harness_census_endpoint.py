"""The census agent's endpoint: `GET /census` on a loopback port, from its own thread, only
to a request that carries the harness's token (the census itself: _harness_census.py).

Started by sitecustomize.py beside it, at interpreter start, when the harness set
HARNESS_CENSUS_TOKEN. Stdlib only.
"""

import json
import os
import sys
import threading
import traceback
import tracemalloc
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from _harness_census import THREAD_NAME, census

_token = ""


# -- the endpoint ------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        parts = urlsplit(self.path)
        if parts.path != "/census":
            return self._answer(404, {"error": "not found"})
        if not _token or self.headers.get("X-Census-Token") != _token:
            return self._answer(403, {"error": "bad token"})
        query = parse_qs(parts.query)
        try:
            budget = min(30.0, max(0.1, float(query.get("budget", ["2"])[0])))
        except ValueError:
            return self._answer(400, {"error": "budget is not a number"})
        alloc = query.get("alloc", [""])[0]
        try:
            self._answer(200, census(budget, alloc))
        except Exception as exc:  # said in full, so the harness can name it in the verdict
            where = traceback.extract_tb(exc.__traceback__)[-1:]
            at = f" at {os.path.basename(where[0].filename)}:{where[0].lineno} in {where[0].name}" if where else ""
            self._answer(500, {"error": f"{type(exc).__name__}: {exc}{at}"})

    def _answer(self, code, document):
        body = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        pass  # the server's stderr is its own


def _forget_environment():
    """Children of the server start without the agent (and with their own PYTHONPATH)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("HARNESS_CENSUS_TOKEN", "HARNESS_CENSUS_FILE", "HARNESS_CENSUS_ALLOC"):
        os.environ.pop(name, None)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != here]
    if paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        os.environ.pop("PYTHONPATH", None)


def _announce(path, document):
    if not path:
        return
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w") as handle:
        json.dump(document, handle)
    os.replace(partial, path)


def start():
    global _token
    _token = os.environ.get("HARNESS_CENSUS_TOKEN", "")
    path = os.environ.get("HARNESS_CENSUS_FILE", "")
    alloc = os.environ.get("HARNESS_CENSUS_ALLOC") == "1"
    _forget_environment()
    if sys.version_info < (3, 10):
        _announce(path, {"pid": os.getpid(), "error": f"Python {sys.version.split()[0]}: the census needs 3.10+"})
        return
    if alloc:
        tracemalloc.start()
    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name=THREAD_NAME, daemon=True).start()
    _announce(path, {"pid": os.getpid(), "port": server.server_address[1], "alloc": alloc,
                     "python": sys.version.split()[0], "executable": sys.executable})
