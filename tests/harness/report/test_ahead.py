"""Figures drawn ahead, while the drain check idles, are kept only when the final analysis
draws the same figures; a drain that changed a verdict has them drawn again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.judge.analysis import LEAK, PASS, Config, analyze
from harness.report.ahead import FiguresAhead
from harness.report.plots import drawn_from
from harness.rundir.records import CycleSample, Sessions
from tests.harness.judge.synthetic import make_lines

CONFIG = replace(Config(), planned_cycles=30)


def test_figures_drawn_ahead_are_kept_for_the_same_analysis(tmp_path: Path) -> None:
    samples = make_lines(30)
    ahead = FiguresAhead(samples, CONFIG, tmp_path)
    final = analyze(samples, CONFIG)
    paths = ahead.for_final(samples, final)
    assert paths is not None and [p.name for p in paths] == ["latency.png", "resources.png", "memory.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert ahead.for_final(samples[:-1], final) is None  # not the same samples


def test_a_drain_that_released_a_level_has_the_figures_drawn_again(tmp_path: Path) -> None:
    """A level that leaks until the drain sees it released: the figures drawn ahead say leak,
    the final analysis says pass, so they are not kept."""
    samples = make_lines(30, per_client={"app_sessions": lambda t: 5 * t})
    ahead = FiguresAhead(samples, CONFIG, tmp_path)
    drain = [CycleSample(cycle=30, sessions=Sessions(), server={"app_sessions": 0.0}, drain_after_s=2.0)]
    final = analyze(samples, CONFIG, drain=drain)
    assert final.metrics["app_sessions"].verdict == PASS
    assert analyze(samples, CONFIG).metrics["app_sessions"].verdict == LEAK
    assert drawn_from(final) != drawn_from(analyze(samples, CONFIG))
    assert ahead.for_final(samples, final) is None


def test_figures_that_fail_ahead_are_drawn_by_the_final_reports(tmp_path: Path) -> None:
    ahead = FiguresAhead(make_lines(30), CONFIG, tmp_path / "missing" / "dir")
    assert ahead.for_final(make_lines(30), analyze(make_lines(30), CONFIG)) is None
