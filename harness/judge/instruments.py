"""The instruments a run asked for (the census, each metrics endpoint) and how often each
failed. A failed instrument is never evidence of health: its failures are counted and said
in the verdict, and one that left too few cycles to judge keeps the run from passing.
Pure: samples in, tallies out."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from harness.rundir.columns import Columns


@dataclass
class InstrumentFailures:
    """One instrument's failures over a run: in how many of its cycles, and the commonest why."""

    instrument: str  # "census", "metrics <url>"
    failed: int
    cycles: int
    error: str
    judged: int  # post-warm-up cycles it did give figures in
    enough: bool  # whether those are enough to judge its signals on

    def short(self) -> str:
        return f"{self.instrument} failed in {self.failed} of {self.cycles} cycles"

    def describe(self) -> str:
        text = f"{self.short()}: {self.error}"
        if not self.enough:
            return f"{text}; {self.judged} cycles after warm-up had it, too few to judge on: no evidence of health"
        return f"{text}; its signals are judged on the {self.judged} cycles after warm-up that had it"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def instrument_failures(samples: Columns, warmup: int, needed: int) -> list[InstrumentFailures]:
    """Every instrument that failed at least once, in the order of first failure; `needed`
    is how many post-warm-up cycles a signal needs to be judged at all."""
    errors: dict[str, Counter[str]] = {}
    judged_failed: Counter[str] = Counter()
    for i, failed in sorted(samples.instruments_failed.items()):
        for instrument, error in failed.items():
            errors.setdefault(instrument, Counter())[error] += 1
            if i >= warmup:
                judged_failed[instrument] += 1
    post = max(0, len(samples) - warmup)
    out = []
    for instrument, counts in errors.items():
        judged = post - judged_failed[instrument]
        out.append(InstrumentFailures(instrument, sum(counts.values()), len(samples), counts.most_common(1)[0][0],
                                      judged, judged >= needed))
    return out
