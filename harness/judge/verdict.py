"""The judge's front door: `Judge` takes samples one at a time as a run goes; `judge`
re-judges a whole saved run. Both end in a `Judgement`, which report and cli consume."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from harness.judge.analysis import CONFOUNDED, DEGRADED, INCONCLUSIVE, LEAK, PASS, Analysis, Config, analyze
from harness.judge.early import Decision, EarlyStop
from harness.judge.gate import Baseline, BaselineError, Regression, compare
from harness.judge.rules import warmup_of
from harness.rundir.columns import Columns, Growing
from harness.rundir.records import CycleSample, Run

EXIT_CODES = {
    PASS: EXIT_PASS, LEAK: EXIT_FAIL, DEGRADED: EXIT_FAIL,
    CONFOUNDED: EXIT_INCONCLUSIVE, INCONCLUSIVE: EXIT_INCONCLUSIVE,
}
WARMING_UP = "warming up"


@dataclass
class Judgement:
    run: Run
    analysis: Analysis
    regressions: list[Regression] = field(default_factory=list)
    baseline: Path | None = None
    baseline_refused: str | None = None  # why the baseline was not compared (another target...)

    @property
    def verdict(self) -> str:
        verdict = self.analysis.verdict
        if self.baseline_refused and verdict == PASS:  # a gate that could not compare did not pass
            return INCONCLUSIVE
        if self.regressions and verdict in (PASS, CONFOUNDED):
            metrics = self.analysis.metrics
            # A latency ratio above the baseline's, in a run where the machine changed, is the machine's.
            if self.analysis.machine and all(
                r.metric in metrics and metrics[r.metric].kind == "latency" for r in self.regressions
            ):
                return CONFOUNDED
            return DEGRADED
        return verdict

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def interrupted(self) -> bool:
        return self.run.status is not None and self.run.status.state == "interrupted"

    def to_dict(self) -> dict[str, Any]:
        """The layout of summary.json."""
        data = self.analysis.to_dict()
        data["verdict"] = self.verdict
        data["run"] = self.run.meta.to_dict() if self.run.meta else {}
        data["status"] = self.run.status.to_dict() if self.run.status else None
        data["warnings"] = self.run.warnings
        data["gate"] = {
            "baseline": str(self.baseline) if self.baseline else None,
            "regressions": [r.reason() for r in self.regressions],
            "refused": self.baseline_refused,
        }
        return data


def judge(
    run: Run,
    config: Config | None = None,
    baseline: dict[str, Any] | None = None,
    baseline_path: Path | None = None,
) -> Judgement:
    """Judge a whole run; `baseline` is a saved summary.json to gate against."""
    judgement = Judgement(run, analyze(run.samples, config, run.status, run.drain), baseline=baseline_path)
    if baseline is not None:
        try:
            base = Baseline.of(baseline, baseline_path)
        except BaselineError as exc:
            judgement.baseline_refused = str(exc)
            return judgement
        judgement.baseline_refused = base.refuses(run.meta.to_dict() if run.meta else {})
        if judgement.baseline_refused is None:
            judgement.regressions = compare(judgement.analysis.metrics, base.metrics)
    return judgement


class Judge:
    """Keeps a live run's samples as they arrive: the verdict so far, and with
    `stop_early` the first cycle at which a failing verdict can no longer change."""

    def __init__(self, planned_cycles: int, config: Config | None = None, stop_early: bool = False) -> None:
        self.config = config or Config()
        self.planned = planned_cycles
        self.samples: list[CycleSample] = []
        self.early = EarlyStop(planned_cycles, self.config) if stop_early else None
        self.growing = Growing()

    def columns(self) -> Columns:
        """The samples so far as columns, taking in only those that came since the last call."""
        return self.growing.of(self.samples)

    def add(self, sample: CycleSample) -> Decision | None:
        """Take one cycle (a cycle already taken is ignored); returns the decision once
        the run may stop early."""
        if self.samples and sample.cycle <= self.samples[-1].cycle:
            return self.decided
        self.samples.append(sample)
        return self.early.add(sample) if self.early is not None else None

    @property
    def decided(self) -> Decision | None:
        return self.early.decided if self.early is not None else None

    def analysis_so_far(self) -> Analysis | None:
        """The analysis of the cycles so far; None while too few are in (warming up)."""
        warmup = warmup_of(self.config.warmup, self.planned or len(self.samples))
        if len(self.samples) < warmup + self.config.min_post_warmup_cycles:
            return None
        return analyze(self.columns(), replace(self.config, planned_cycles=self.planned or len(self.samples)))

