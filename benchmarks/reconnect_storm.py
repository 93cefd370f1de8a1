"""Benchmark: reconnect_storm sessions per second through the harness vs a plain client.

Both run in this one invocation against the same bundled server, so the ratio holds on a
noisy machine where absolute rates do not. Prints one JSON line.

    python benchmarks/reconnect_storm.py [--seconds 5] [--users 200] [--cycles 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from harness.commands.run import run
from harness.options import RunOptions
from harness.rundir.store import load_run
from harness.target.process import ServerProcess


async def plain_storm(url: str, seconds: float, concurrency: int) -> float:
    """Open (reading the 3 greeting frames) and close, as fast as possible; sessions/s."""
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with connect(url, proxy=None) as ws:
                for _ in range(3):
                    await ws.recv()
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - start)


def harness_storm(users: int, cycles: int, workdir: Path) -> float:
    """Sessions per second of wave time in a reconnect_storm run of the harness."""
    out = workdir / "storm"
    run(RunOptions(cycles=cycles, users=users, scenario="reconnect_storm", out=out), lambda m: None)
    samples = load_run(out).samples
    sessions = sum(s.sessions.completed for s in samples)
    return sessions / sum(s.wave_s for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="plain client run time")
    parser.add_argument("--concurrency", type=int, default=50, help="plain client tasks")
    parser.add_argument("--users", type=int, default=200, help="harness sessions per wave")
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess.bundled() as server:
        plain = asyncio.run(plain_storm(server.ws_url, args.seconds, args.concurrency))
        through = harness_storm(args.users, args.cycles, Path(tmp))
    print(json.dumps({
        "benchmark": "reconnect_storm",
        "plain_asyncio_sessions_per_s": round(plain, 1),
        "harness_sessions_per_s": round(through, 1),
        "ratio": round(through / plain, 3),
        "goal_ratio": 0.7,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
