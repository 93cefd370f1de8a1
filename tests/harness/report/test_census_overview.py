"""The census paragraph of the reports: garbage by type comes from the censuses that typed it
(pure)."""

from __future__ import annotations

from pathlib import Path

from harness.judge.analysis import analyze
from harness.judge.verdict import Judgement
from harness.report.census import overview
from harness.rundir.records import Census, CycleSample, Run, Sessions


def test_garbage_by_type_is_the_median_of_the_censuses_that_typed_it() -> None:
    samples = []
    for cycle in range(1, 41):
        typed = cycle % 10 == 1  # as the agent does: the 1st, 11th, ... census
        census = Census(groups={"objects:app.Session": 0.0}, garbage={"app.Frame": 30.0} if typed else None,
                        garbage_total=90, took_ms=40.0)
        samples.append(CycleSample(cycle=cycle, sessions=Sessions(attempted=4, completed=4), census=census))
    run = Run(Path("run"), samples)
    result = overview(Judgement(run, analyze(samples)))
    assert result is not None
    assert result.garbage == [("app.Frame", 30.0)] and result.garbage_total == 90
    post = samples[-result.censuses:]  # the censuses after warm-up
    assert 0 < result.garbage_typed == sum(1 for s in post if s.census and s.census.garbage is not None) < len(post)
    line = next(text for text in result.lines() if text.startswith("Garbage"))
    assert f"in the {result.garbage_typed} censuses that typed it: app.Frame 30" in line, line
