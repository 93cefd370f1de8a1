"""`harness selftest`: run the gate against the fixed server and every fault, R times each.

A gate is worth its two error rates. This measures both on the machine it runs on: every
fault must be caught every time, and the fixed server must never fail.
"""

from __future__ import annotations

import contextlib
import json
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.commands.run import run
from harness.judge.early import decision_cycle
from harness.judge.rules import warmup_of
from harness.judge.verdict import Judgement
from harness.options import RunOptions
from harness.rundir.records import CycleSample
from harness.target.children import spawn, stop_group
from server.faults import FAULTS

Echo = Callable[[str], None]
FIXED = "fixed"
HOG_CODE = "while True:\n    pass\n"
STEP_FAULT = "handlers"  # a fault the probe's latency shows (each message handled once more per session)


@dataclass
class Row:
    target: str
    runs: int = 0
    failed: int = 0  # runs whose verdict was leak or degraded
    inconclusive: int = 0
    cycles_to_detect: list[int] = field(default_factory=list)
    caught_by: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        if self.target == FIXED:
            return self.failed == 0 and self.inconclusive == 0
        return self.failed == self.runs

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "runs": self.runs, "failed": self.failed,
            "inconclusive": self.inconclusive, "ok": self.ok,
            "median_cycles_to_detect": self.median_cycles(),
            "caught_by": dict(self.caught_by.most_common()),
        }

    def median_cycles(self) -> float | None:
        return statistics.median(self.cycles_to_detect) if self.cycles_to_detect else None


class SelftestInterrupted(Exception):
    """A signal stopped one of the selftest's runs."""


class CpuHog:
    """A separate process spinning on one core, for the busy-machine test mode (`code`: what
    it runs, spinning for ever unless told otherwise)."""

    def __init__(self, code: str = HOG_CODE) -> None:
        self.code = code
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CpuHog:
        self.proc = spawn([sys.executable, "-c", self.code])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_group(self.proc, ((signal.SIGKILL, 5.0),))


class CpuStep:
    """A CPU hog started once the run has sampled cycle `at` (`on_sample` of run()), and
    stopped when the run ends: the machine's speed steps mid-run."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.hog = CpuHog()

    def __call__(self, sample: CycleSample) -> None:
        if sample.cycle >= self.at and self.hog.proc is None:
            self.hog.__enter__()

    def __enter__(self) -> CpuStep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.hog.__exit__(*exc)


@dataclass
class StepRow:
    """One run under a CPU step: what it was called, in what time, and what the judge saw."""

    target: str
    verdict: str
    seconds: float
    step_at: int
    caught_by: list[str]
    machine: list[str]

    @property
    def ok(self) -> bool:
        failed = self.verdict in ("leak", "degraded")
        return failed if self.target != FIXED else not failed

    def line(self) -> str:
        caught = f" by {', '.join(self.caught_by[:2])}" if self.caught_by else ""
        seen = "; ".join(self.machine) or "the judge saw no change of the machine"
        return (f"{self.target:<10} CPU step after cycle {self.step_at}: {self.verdict}{caught} in "
                f"{self.seconds:.1f} s ({'ok' if self.ok else 'WRONG'}); {seen}")


def step_selftest(out: Path, cycles: int, repeat: int, users: int, echo: Echo,
                  fault: str = STEP_FAULT) -> list[StepRow]:
    """The fixed server and a latency fault, each with a CPU hog started a third of the way
    in: the fixed server must not fail (confounded is allowed), the fault must still be caught.
    Every cycle is run (no early stop), so the step is always inside the judged series."""
    at = max(warmup_of(None, cycles) + 3, cycles // 3)
    rows = []
    for r in range(1, repeat + 1):
        for name in (FIXED, fault):
            options = RunOptions(cycles=cycles, users=users, leaks=() if name == FIXED else (name,),
                                 out=out / f"step-{name}-{r}")
            started = time.monotonic()
            with CpuStep(at) as step:
                judgement = run(options, lambda message: None, on_sample=step)
            if judgement.interrupted:
                raise SelftestInterrupted(judgement.run.status.message if judgement.run.status else "")
            a = judgement.analysis
            row = StepRow(name, judgement.verdict, time.monotonic() - started, at,
                          [m.name for m in a.failing()], a.machine_lines())
            rows.append(row)
            echo(f"[{r}/{repeat}] {row.line()}")
    (out / "selftest-step.json").write_text(json.dumps([asdict(row) | {"ok": row.ok} for row in rows], indent=2) + "\n")
    return rows


def record(row: Row, judgement: Judgement, cycles: int) -> None:
    row.runs += 1
    verdict = judgement.verdict
    if verdict in ("leak", "degraded"):
        row.failed += 1
        status = judgement.run.status
        decided = status.decided_at if status else None
        if decided is None:
            decision = decision_cycle(judgement.run.samples, cycles)
            decided = decision.cycle if decision else len(judgement.run.samples)
        row.cycles_to_detect.append(int(decided))
        row.caught_by.update(m.name for m in judgement.analysis.failing())
    elif verdict == "inconclusive":
        row.inconclusive += 1


def selftest(
    out: Path, cycles: int, repeat: int, users: int, echo: Echo, hog: bool = False,
    faults: tuple[str, ...] = tuple(FAULTS),
) -> list[Row]:
    rows = {name: Row(name) for name in (FIXED, *faults)}
    with CpuHog() if hog else contextlib.nullcontext():
        for r in range(1, repeat + 1):
            for name in rows:
                leaks = () if name == FIXED else (name,)
                options = RunOptions(cycles=cycles, users=users, leaks=leaks,
                                     out=out / f"{name}-{r}", stop_early=True)
                judgement = run(options, lambda message: None)
                if judgement.interrupted:  # run() kept the samples; the selftest ends here
                    raise SelftestInterrupted(judgement.run.status.message if judgement.run.status else "")
                record(rows[name], judgement, cycles)
                echo(f"[{r}/{repeat}] {name:<10} {judgement.verdict:<12} "
                     f"{', '.join(m.name for m in judgement.analysis.failing()[:3])}")
    result = list(rows.values())
    (out / "selftest.json").write_text(json.dumps([row.to_dict() for row in result], indent=2) + "\n")
    return result


def table(rows: list[Row]) -> str:
    lines = [
        f"{'target':<11} {'runs':>4} {'detected':>9} {'false alarms':>12} {'cycles (median)':>16}  caught by",
    ]
    for row in rows:
        if row.target == FIXED:
            alarms = f"{row.failed + row.inconclusive}"
            lines.append(f"{row.target:<11} {row.runs:>4} {'-':>9} {alarms:>12} {'-':>16}  "
                         f"{'ok' if row.ok else 'FALSE ALARM'}")
        else:
            median = row.median_cycles()
            caught = ", ".join(f"{k} ({v})" for k, v in row.caught_by.most_common(2))
            lines.append(f"{row.target:<11} {row.runs:>4} {f'{row.failed}/{row.runs}':>9} {'-':>12} "
                         f"{'' if median is None else f'{median:g}':>16}  {caught or 'MISSED'}")
    return "\n".join(lines)
