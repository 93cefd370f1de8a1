"""Benchmark: one census of a server with an upstream kind of heap, this checkout's agent
beside another commit's.

The server is a FastAPI app on uvicorn (uvloop and httptools when installed, as
`uvicorn[standard]` brings them) that imports what Open-LLM-VTuber's server imports where
it is installed here (pydantic, openai, anthropic, aiohttp, numpy, websockets), declares a
few hundred pydantic models and holds state of its own: a config tree of models, a token
table, chat histories in a dict of sessions. That is a few hundred thousand objects the
collector tracks. Each census is asked for over HTTP as the harness asks; its own
`took_ms` (time inside the agent) and the time the server's event loop stalled meanwhile
(a ticker task, every 5 ms, records its longest gap) are kept. With `--against DIR` (a checkout of
another commit, e.g. from `git worktree add`) the two servers are asked in turn, so machine
noise hits both alike. Prints one JSON line.

    python benchmarks/census_heap.py [--censuses 30] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from harness.observe.census import CensusClient
from harness.target.census import AGENT_DIR, CensusPlan
from harness.target.process import free_port, port_open

SERVER = '''
import asyncio, importlib, sys, time
from typing import Optional
for name in ("openai", "anthropic", "aiohttp", "numpy", "websockets", "yaml"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
import pydantic, uvicorn
from fastapi import FastAPI, WebSocket

MODELS = []
for i in range(300):  # a config schema of many small models, as a large app declares
    fields = {f"field_{j}": (Optional[str], None) for j in range(8)}
    MODELS.append(pydantic.create_model(f"Config{i}", **fields))
CONFIG = [model(**{f"field_{j}": f"value {i} {j}" for j in range(8)})
          for i, model in enumerate(MODELS) for _ in range(40)]
TOKENS = {f"token-{i}": [i, i + 1] for i in range(150000)}  # a vocabulary, as a TTS or tokenizer keeps

class Session:
    def __init__(self, i):
        self.history = [{"role": "user", "content": f"turn {t}"} for t in range(20)]
        self.name = f"session {i}"

class ChatState:
    def __init__(self):
        self.sessions = {i: Session(i) for i in range(2000)}

STATE = ChatState()
app = FastAPI()
STALL = {"max_ms": 0.0}

@app.get("/stall")
def stall():
    value, STALL["max_ms"] = STALL["max_ms"], 0.0
    return {"max_ms": value}

@app.websocket("/client-ws")
async def chat(ws: WebSocket):
    await ws.accept()
    await ws.close()

async def ticker():
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        STALL["max_ms"] = max(STALL["max_ms"], (now - last - 0.005) * 1000)
        last = now

@app.on_event("startup")
async def start_ticker():
    app.state.ticker = asyncio.create_task(ticker())

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
'''


class Server:
    """The heap server with the census agent of `agent_dir` loaded."""

    def __init__(self, script: Path, agent_dir: Path) -> None:
        self.port = free_port()
        plan = CensusPlan()
        env = {**os.environ, **plan.env()}
        env["PYTHONPATH"] = env["PYTHONPATH"].replace(str(AGENT_DIR), str(agent_dir), 1)
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the heap server did not start:\n{self.proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        found = plan.find(self.proc.pid)
        if not found.url or not found.token:
            raise SystemExit(found.note)
        self.census = CensusClient(found.url, found.token, budget=5.0)
        self.took: list[float] = []
        self.gc: list[float] = []
        self.stall: list[float] = []
        self.walked = 0

    def stall_ms(self) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stall", timeout=10) as response:
            return float(json.loads(response.read())["max_ms"])

    def take(self) -> None:
        self.stall_ms()  # the gap so far is not this census's
        census = self.census.take()
        self.took.append(census.took_ms or 0.0)
        self.gc.append(census.gc_ms or 0.0)
        self.stall.append(self.stall_ms())
        self.walked = census.walked or 0

    def figures(self) -> dict[str, float | int]:
        return {"median_ms": round(statistics.median(self.took), 1), "max_ms": round(max(self.took), 1),
                "gc_median_ms": round(statistics.median(self.gc), 1),
                "stall_median_ms": round(statistics.median(self.stall), 1), "objects": self.walked}

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--censuses", type=int, default=30)
    parser.add_argument("--against", type=Path, help="a checkout of another commit to time beside this one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "heap_server.py"
        script.write_text(SERVER)
        servers = {"ours": Server(script, AGENT_DIR)}
        try:
            if args.against:
                servers["against"] = Server(script, args.against / "harness" / "target" / "agent")
            for _ in range(args.censuses):
                for server in servers.values():
                    server.take()
        finally:
            for server in servers.values():
                server.stop()
    line: dict[str, object] = {"benchmark": "census_heap", "censuses": args.censuses, **servers["ours"].figures()}
    if "against" in servers:
        theirs = servers["against"].figures()
        line |= {f"against_{key}": value for key, value in theirs.items()}
        line["time_ratio"] = round(line["median_ms"] / theirs["median_ms"], 2)  # type: ignore[operator]
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
