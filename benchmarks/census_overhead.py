"""Benchmark: what the census costs the server under test, and how long a big census takes.

Three bundled servers run side by side: census off, census on, and census on with
tracemalloc (--inspect=alloc). Each round visits them in a rotating order and does what a
cycle does: a burst of sessions (connect, one text turn, close), the census (not on the
`off` server), then a probe. So machine noise hits all three alike; the ratios hold where
absolute figures do not. Then a census of a process that holds N live objects of its own
classes, timed. Prints one JSON line.

    python benchmarks/census_overhead.py [--rounds 30] [--sessions 20] [--objects 100000]
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
from pathlib import Path

from harness.load.client import ChatClient
from harness.load.driver import run_probe
from harness.observe.census import CensusClient
from harness.target.census import CensusPlan
from harness.target.process import ServerProcess

MODES = ("off", "on", "alloc")

HEAP = """
import sys, time
class Session:
    def __init__(self, i):
        self.i = i
        self.frames = [i]
SESSIONS = {i: Session(i) for i in range(int(sys.argv[1]))}
print("READY", flush=True)
time.sleep(600)
"""


def churn(url: str, sessions: int) -> float:
    """Sessions per second: connect, one text turn, close, one after another."""
    started = time.perf_counter()
    for _ in range(sessions):
        client = ChatClient(url)
        try:
            client.connect()
            client.turn("hello")
        finally:
            client.close()
    return sessions / (time.perf_counter() - started)


def big_census(objects: int, workdir: Path) -> dict[str, float]:
    """One census of a process holding `objects` instances (and as many lists) in a dict."""
    script = workdir / "heap.py"
    script.write_text(HEAP)
    plan = CensusPlan()
    proc = subprocess.Popen([sys.executable, str(script), str(objects)], stdout=subprocess.PIPE,
                            env={**os.environ, **plan.env()})
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        found = plan.find(proc.pid)
        assert found.url and found.token, found.note
        census = CensusClient(found.url, found.token, budget=2.0).take()
        return {"objects": objects, "took_ms": census.took_ms or 0.0, "gc_ms": census.gc_ms or 0.0,
                "walked": census.walked, "skipped": census.skipped,
                "counted": census.groups.get("objects:__main__.Session", 0.0)}
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=20, help="sessions per burst")
    parser.add_argument("--objects", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    probe: dict[str, list[float]] = {m: [] for m in MODES}
    rate: dict[str, list[float]] = {m: [] for m in MODES}
    census_ms: dict[str, list[float]] = {"on": [], "alloc": []}
    plans = {"on": CensusPlan(), "alloc": CensusPlan(alloc=True)}
    servers = {m: ServerProcess.bundled(env=plans[m].env() if m in plans else None) for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for server in servers.values():
                server.start()
            clients = {}
            for mode, plan in plans.items():
                found = plan.find(servers[mode].pid)
                assert found.url and found.token, found.note
                clients[mode] = CensusClient(found.url, found.token, alloc_from=1 if mode == "alloc" else None)
            for i in range(args.rounds):
                for mode in MODES[i % 3:] + MODES[: i % 3]:
                    server = servers[mode]
                    rate[mode].append(churn(server.ws_url, args.sessions))
                    if mode in clients:
                        census_ms[mode].append(clients[mode].take().took_ms or 0.0)
                    reply = run_probe(server.ws_url).reply_ms
                    assert reply is not None
                    probe[mode].append(reply)
        finally:
            for server in servers.values():
                server.stop()
        heaps = [big_census(n, Path(tmp)) for n in args.objects]
    med = {m: statistics.median(probe[m]) for m in MODES}
    churn_med = {m: statistics.median(rate[m]) for m in MODES}
    print(json.dumps({
        "benchmark": "census_overhead",
        "rounds": args.rounds,
        "sessions_per_burst": args.sessions,
        "probe_ms_median": {m: round(v, 2) for m, v in med.items()},
        "sessions_per_s_median": {m: round(v, 1) for m, v in churn_med.items()},
        "probe_ratio_census": round(med["on"] / med["off"], 3),
        "churn_ratio_census": round(churn_med["off"] / churn_med["on"], 3),
        "probe_ratio_alloc": round(med["alloc"] / med["off"], 3),
        "churn_ratio_alloc": round(churn_med["off"] / churn_med["alloc"], 3),
        "census_ms_median": {m: round(statistics.median(v), 1) for m, v in census_ms.items()},
        "big_census": heaps,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
