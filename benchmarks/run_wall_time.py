"""Benchmark: wall time of `harness run --cycles 50` on the bundled server.

Prints one JSON line: total seconds, seconds per cycle, and the verdict.

    python benchmarks/run_wall_time.py [--cycles 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from harness.commands.run import run
from harness.options import RunOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        judgement = run(RunOptions(cycles=args.cycles, out=Path(tmp) / "run"), lambda m: None)
        seconds = time.monotonic() - start
    print(json.dumps({
        "benchmark": "run_wall_time",
        "cycles": args.cycles,
        "seconds": round(seconds, 1),
        "seconds_per_cycle": round(seconds / args.cycles, 3),
        "verdict": judgement.verdict,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
