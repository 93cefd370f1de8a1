"""Benchmark: reconnect_storm sessions per second with 1 and with 2 Locust workers.

Both runs in one invocation, each against its own bundled server; prints one JSON line.

    python benchmarks/workers.py [--users 200] [--cycles 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness.commands.run import run
from harness.options import RunOptions
from harness.rundir.store import load_run


def rate(workers: int, users: int, cycles: int, out: Path) -> float:
    run(RunOptions(cycles=cycles, users=users, scenario="reconnect_storm", workers=workers, out=out),
        lambda m: None)
    samples = load_run(out).samples
    return sum(s.sessions.completed for s in samples) / sum(s.wave_s for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = rate(1, args.users, args.cycles, Path(tmp) / "one")
        two = rate(2, args.users, args.cycles, Path(tmp) / "two")
    print(json.dumps({"benchmark": "workers", "sessions_per_s_1_worker": round(one, 1),
                      "sessions_per_s_2_workers": round(two, 1), "ratio": round(two / one, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
