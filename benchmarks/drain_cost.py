"""Benchmark: what the drain check costs a run, side by side.

Runs `harness run --cycles N` on the bundled server with the drain off (`--drain 0`) and on
(the default), alternating, `--repeat` times each; prints each run's wall time, verdict and
drain samples, then one JSON line with the medians and their ratio (goal at most 1.10).

    python benchmarks/drain_cost.py [--repeat 5] [--cycles 50] [--leak FAULT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from harness.commands.run import run
from harness.options import RunOptions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--leak", action="append", default=[], help="a catalogue fault (a leak drains the full time)")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, args.repeat + 1):
            for kind, drain in (("off", 0.0), ("on", RunOptions.drain)):
                options = RunOptions(cycles=args.cycles, leaks=tuple(args.leak), drain=drain,
                                     out=Path(tmp) / f"{kind}-{r}")
                started = time.monotonic()
                judgement = run(options, lambda message: None)
                seconds[kind].append(time.monotonic() - started)
                lines = (options.out / "drain.jsonl").read_text().splitlines() \
                    if (options.out / "drain.jsonl").exists() else []
                print(f"drain {kind} {r}/{args.repeat}: {judgement.verdict} in {seconds[kind][-1]:.1f} s, "
                      f"{len(lines)} drain samples", flush=True)
    off, on = statistics.median(seconds["off"]), statistics.median(seconds["on"])
    print(json.dumps({"cycles": args.cycles, "runs_each": args.repeat, "leaks": args.leak,
                      "median_off_s": round(off, 2), "median_on_s": round(on, 2), "ratio": round(on / off, 3)}),
          flush=True)


if __name__ == "__main__":
    main()
