"""Time to verdict: re-judge the run after every cycle, correcting for the repeated looks.

A run may stop as soon as it fails: the counter rules are deterministic, and the trend
tests are run at alpha / (number of looks planned) (Bonferroni over looks), so looking
after every cycle cannot raise the false-alarm rate above alpha. A pass is only given
at the end: absence of evidence needs the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.judge.analysis import DEGRADED, LEAK, Analysis, Config, analyze, default_warmup


@dataclass
class Decision:
    cycle: int
    analysis: Analysis


class EarlyStop:
    """Feed it lines as cycles finish; `decided` is set on the first failing look."""

    def __init__(self, planned_cycles: int, config: Config | None = None) -> None:
        base = config or Config()
        warmup = base.warmup if base.warmup is not None else default_warmup(planned_cycles)
        self.first_look = warmup + base.min_post_warmup_cycles
        looks = max(1, planned_cycles - self.first_look + 1)
        self.config = replace(base, warmup=warmup, alpha=base.alpha / looks)
        self.lines: list[dict[str, Any]] = []
        self.decided: Decision | None = None

    def add(self, line: dict[str, Any]) -> Decision | None:
        self.lines.append(line)
        if self.decided is None and len(self.lines) >= self.first_look:
            analysis = analyze(self.lines, self.config)
            if analysis.verdict in (LEAK, DEGRADED):
                self.decided = Decision(len(self.lines), analysis)
        return self.decided


def decision_cycle(
    lines: list[dict[str, Any]], planned_cycles: int, config: Config | None = None
) -> Decision | None:
    """The first cycle at which a run with these lines would have stopped early."""
    early = EarlyStop(planned_cycles, config)
    for line in lines:
        if early.add(line):
            break
    return early.decided
