"""Time to verdict: re-judge the run after every cycle, correcting for the repeated looks.

A run may stop as soon as it fails: the counter rules are deterministic, and the trend
tests are run at alpha / (number of looks planned) (Bonferroni over looks), so looking
after every cycle cannot raise the false-alarm rate above alpha. A pass is only given
at the end: absence of evidence needs the whole run.

One look costs a whole analysis, O(n log n) in the cycles so far. Up to `EVERY_CYCLE`
cycles the judge looks after each one; beyond, after every n / `EVERY_CYCLE` cycles, so a
soak's looks cost O(log n) per cycle amortized, and a verdict comes at most 1% of the
run later than it could.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.judge.analysis import DEGRADED, LEAK, Analysis, Config, analyze
from harness.judge.rules import warmup_of
from harness.rundir.columns import Growing
from harness.rundir.records import CycleSample


@dataclass
class Decision:
    cycle: int
    analysis: Analysis


EVERY_CYCLE = 100


def looks_at(cycle: int, since: int) -> bool:
    """Whether the judge looks at `cycle`, its last look having been at `since`."""
    return cycle <= EVERY_CYCLE or cycle - since >= cycle // EVERY_CYCLE


class EarlyStop:
    """Feed it samples as cycles finish; `decided` is set on the first failing look."""

    def __init__(self, planned_cycles: int, config: Config | None = None) -> None:
        base = config or Config()
        warmup = warmup_of(base.warmup, planned_cycles)
        self.first_look = warmup + base.min_post_warmup_cycles
        looks = max(1, planned_cycles - self.first_look + 1)
        self.config = replace(base, planned_cycles=planned_cycles, alpha=base.alpha / looks)
        self.samples: list[CycleSample] = []
        self.decided: Decision | None = None
        self.last_look = 0
        self.growing = Growing()  # the samples as columns, each look taking in only the new ones

    def add(self, sample: CycleSample) -> Decision | None:
        self.samples.append(sample)
        n = len(self.samples)
        if self.decided is None and n >= self.first_look and looks_at(n, self.last_look):
            self.last_look = n
            analysis = analyze(self.growing.of(self.samples), self.config)
            if analysis.verdict in (LEAK, DEGRADED):
                self.decided = Decision(len(self.samples), analysis)
        return self.decided


def decision_cycle(
    samples: list[CycleSample], planned_cycles: int, config: Config | None = None
) -> Decision | None:
    """The first cycle at which a run with these samples would have stopped early."""
    early = EarlyStop(planned_cycles, config)
    for sample in samples:
        if early.add(sample):
            break
    return early.decided
