"""Benchmark: false alarms of the fixed bundled server on a quiet, a busy and a changing machine.

Three sets of `--repeat` runs of `--cycles` cycles each:
- quiet: nothing else started;
- hog:   a CPU-bound process spinning on one core from before the run to after it;
- step:  the same process started `--step-at` seconds into the run and kept `--step-for` s
         (a third of the way into a 50-cycle run, for 60 s).
Prints one line per run and a JSON line per set: how many runs ended leak/degraded (false
alarms), confounded (allowed for the step), inconclusive and pass, and their wall time.

    python benchmarks/false_alarms.py [--repeat 20] [--cycles 50] [--sets quiet hog step]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from harness.commands.run import run
from harness.commands.selftest import CpuHog
from harness.options import RunOptions

STEP_CODE = """
import time
time.sleep({at})
end = time.monotonic() + {length}
while time.monotonic() < end:
    pass
"""


@contextlib.contextmanager
def machine(kind: str, step_at: float, step_for: float) -> Iterator[None]:
    """The machine of one set. The step's hog is started here, in this thread (a child tied
    to its parent's life dies with the thread that started it), and waits for its moment."""
    if kind == "quiet":
        yield
        return
    if kind == "hog":
        with CpuHog():
            yield
        return
    with CpuHog(STEP_CODE.format(at=step_at, length=step_for)):
        yield


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--sets", nargs="+", default=["quiet", "hog", "step"], choices=["quiet", "hog", "step"])
    parser.add_argument("--step-at", type=float, default=5.0)
    parser.add_argument("--step-for", type=float, default=60.0)
    parser.add_argument("--keep", type=Path, default=Path("reports/false-alarms"),
                        help="where the run directories of runs that did not pass are copied")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.sets:
            verdicts: Counter[str] = Counter()
            seconds = []
            for r in range(1, args.repeat + 1):
                options = RunOptions(cycles=args.cycles, users=args.users, out=Path(tmp) / f"{kind}-{r}")
                started = time.monotonic()
                with machine(kind, args.step_at, args.step_for):
                    judgement = run(options, lambda message: None)
                seconds.append(time.monotonic() - started)
                verdicts[judgement.verdict] += 1
                if judgement.verdict != "pass":
                    shutil.copytree(options.out, args.keep / options.out.name, dirs_exist_ok=True)
                caught = ", ".join(m.name for m in judgement.analysis.failing()[:2])
                changes = "; ".join(c.describe() for c in judgement.analysis.machine)
                print(f"{kind} {r}/{args.repeat}: {judgement.verdict} (exit {judgement.exit_code}) "
                      f"{caught} in {seconds[-1]:.1f} s{'; ' + changes if changes else ''}", flush=True)
            print(json.dumps({
                "set": kind, "runs": args.repeat, "cycles": args.cycles,
                "false_alarms": verdicts["leak"] + verdicts["degraded"], "confounded": verdicts["confounded"],
                "inconclusive": verdicts["inconclusive"], "pass": verdicts["pass"],
                "median_s": round(statistics.median(seconds), 1),
            }), flush=True)


if __name__ == "__main__":
    main()
