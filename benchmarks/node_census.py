"""Benchmark: what the Node census costs a Node chat server, and how long a big census takes.

Two Node chat servers (tests/harness/target/servers/tiny_chat.js) run side by side, census
off and census on. Each round visits them in alternating order and does what a cycle does:
a burst of sessions (connect, one text turn, close), the census (not on the `off` server),
then a probe. Node has one thread, so the census stalls the server's event loop for as long
as it takes: its time is printed as the stall (median and max). Then one census of a Node
process holding N live objects of its own class in a Map, timed. Prints one JSON line.

    python benchmarks/node_census.py [--rounds 30] [--sessions 20] [--objects 100000 1000000]
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

from harness.load.driver import run_probe
from harness.observe.census import CensusClient, CensusError
from harness.target.census import CensusPlan
from harness.target.process import CommandServer

sys.path.insert(0, str(Path(__file__).parent))
from census_overhead import churn  # noqa: E402 (the same burst as the Python benchmark)

NODE_CHAT = Path(__file__).parents[1] / "tests" / "harness" / "target" / "servers" / "tiny_chat.js"

HEAP = """
class Session { constructor(i) { this.i = i; this.frames = [i]; } }
const sessions = new Map();
for (let i = 0; i < Number(process.argv[2]); i++) sessions.set("s" + i, new Session(i));
setInterval(() => sessions.size, 1000);
console.log("READY");
"""


def big_census(objects: int, workdir: Path, budget: float) -> dict[str, float]:
    """One census of a Node process holding `objects` instances in a Map."""
    script = workdir / "heap.js"
    script.write_text(HEAP)
    plan = CensusPlan()
    proc = subprocess.Popen(["node", str(script), str(objects)], stdout=subprocess.PIPE, env={**os.environ, **plan.env()})
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        found = plan.find(proc.pid)
        assert found.url and found.token, found.note
        started = time.perf_counter()
        try:
            census = CensusClient(found.url, found.token, budget=budget).take()
        except CensusError as exc:  # a heap whose snapshot would overrun the budget is refused, at once
            return {"objects": objects, "refused_in_ms": round((time.perf_counter() - started) * 1000, 1),
                    "why": str(exc)}
        return {"objects": objects, "took_ms": census.took_ms or 0.0, "snapshot_ms": census.gc_ms or 0.0,
                "walked": census.walked, "skipped": census.skipped,
                "counted": census.groups.get("objects:Session", 0.0),
                "map_entries": census.groups.get("entries:heap.sessions", 0.0), "notes": census.notes}
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=20, help="sessions per burst")
    parser.add_argument("--objects", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--budget", type=float, default=2.0,
                        help="the big census's budget, seconds (a run's default is 2)")
    args = parser.parse_args()
    probe: dict[str, list[float]] = {"off": [], "on": []}
    rate: dict[str, list[float]] = {"off": [], "on": []}
    stall: list[float] = []
    plan = CensusPlan()
    with tempfile.TemporaryDirectory() as tmp:
        servers = {mode: CommandServer(f"node {NODE_CHAT} {{port}}", "/client-ws", Path(tmp) / f"{mode}.log",
                                       env=plan.env() if mode == "on" else None) for mode in ("off", "on")}
        try:
            for server in servers.values():
                server.start()
            found = plan.find(servers["on"].pid)
            assert found.url and found.token, found.note
            client = CensusClient(found.url, found.token)
            for i in range(args.rounds):
                for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    server = servers[mode]
                    rate[mode].append(churn(server.ws_url, args.sessions))
                    if mode == "on":
                        stall.append(client.take().loop_ms or 0.0)
                    reply = run_probe(server.ws_url).reply_ms
                    assert reply is not None
                    probe[mode].append(reply)
        finally:
            for server in servers.values():
                server.stop()
        heaps = [big_census(n, Path(tmp), args.budget) for n in args.objects]
    med = {m: statistics.median(v) for m, v in probe.items()}
    churn_med = {m: statistics.median(v) for m, v in rate.items()}
    print(json.dumps({
        "benchmark": "node_census",
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
        "rounds": args.rounds,
        "probe_ms_median": {m: round(v, 2) for m, v in med.items()},
        "probe_ratio_census": round(med["on"] / med["off"], 3),
        "churn_ratio_census": round(churn_med["off"] / churn_med["on"], 3),
        "stall_ms": {"median": round(statistics.median(stall), 1), "max": round(max(stall), 1)},
        "big_census": heaps,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
