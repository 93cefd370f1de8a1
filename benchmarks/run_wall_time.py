"""Benchmark: wall time of `harness run --cycles 50` on the bundled server, as a user runs it.

Each run is the command in a child process, from its start (imports included) to its exit,
so the time is the one a CI job waits. With `--against DIR` (a checkout of another commit,
e.g. from `git worktree add`) that checkout's command is run in turn with this one's, so
machine noise hits both alike, and the ratio of the medians is printed. Also prints where a
cycle goes (the median phases of the last run of this checkout) and the verdicts.

    python benchmarks/run_wall_time.py [--cycles 50] [--repeat 3] [--against DIR]
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

HERE = Path(__file__).resolve().parents[1]  # this checkout, whichever one pip installed


def timed_run(checkout: Path, cycles: int, out: Path) -> tuple[float, str]:
    """Seconds of `harness run` from `checkout`, and its verdict."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--cycles", str(cycles), "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=out.parent)
    seconds = time.monotonic() - start
    summary = out / "summary.json"
    if not summary.exists():
        raise SystemExit(f"harness run failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return seconds, json.loads(summary.read_text())["verdict"]


def phases(run_dir: Path) -> dict[str, float]:
    lines = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]
    names = sorted({name for line in lines for name in line.get("phases") or {}})
    return {name: round(statistics.median(line["phases"].get(name, 0.0) for line in lines), 4) for name in names}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, help="a checkout of another commit to time beside this one")
    args = parser.parse_args()
    ours: list[float] = []
    theirs: list[float] = []
    verdicts: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        last = Path(tmp)
        for i in range(args.repeat):
            last = Path(tmp) / f"ours-{i}"
            seconds, verdict = timed_run(HERE, args.cycles, last)
            ours.append(seconds)
            verdicts.add(verdict)
            if args.against:
                seconds, verdict = timed_run(args.against, args.cycles, Path(tmp) / f"theirs-{i}")
                theirs.append(seconds)
                verdicts.add(verdict)
        line: dict[str, object] = {
            "benchmark": "run_wall_time", "cycles": args.cycles, "runs": args.repeat,
            "seconds": round(statistics.median(ours), 2), "per_cycle_s": round(statistics.median(ours) / args.cycles, 3),
            "verdicts": sorted(verdicts), "phases": phases(last),
        }
    if theirs:
        line |= {"against_seconds": round(statistics.median(theirs), 2),
                 "time_ratio": round(statistics.median(ours) / statistics.median(theirs), 2)}
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
