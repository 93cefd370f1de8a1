"""resources.png: a panel for each resource that moved or did not pass; the flat passing ones
listed with their level beneath (pure, and one real render)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.judge.analysis import LEAK, Config, analyze
from harness.judge.series import columns_of
from harness.report.plots import resources_figure, split_flat
from tests.harness.judge.synthetic import make_lines

CONFIG = replace(Config(), planned_cycles=30)


def test_a_resource_gets_a_panel_when_it_moved_or_failed() -> None:
    samples = make_lines(30, per_client={"app_sessions": lambda t: 5 * t, "app_pool": lambda t: 3 + (t % 2)})
    analysis = analyze(samples, CONFIG)
    metrics = [m for m in analysis.metrics.values() if m.kind in ("residue", "growth", "idle_cpu", "bound")]
    drawn, flat = split_flat(columns_of(samples), metrics)
    names = [m.name for m in drawn]
    assert analysis.metrics["app_sessions"].verdict == LEAK and "app_sessions" in names
    assert "app_pool" in names  # moved, whatever its verdict
    assert "chat_contexts 0" in flat and "process.open_fds 11" in flat
    assert not set(names) & {entry.split()[0] for entry in flat}
    assert len(drawn) + len(flat) == len(metrics)


def test_a_run_where_nothing_moved_still_draws_its_figure(tmp_path: Path) -> None:
    samples = make_lines(30)
    analysis = analyze(samples, CONFIG)
    metrics = [m for m in analysis.metrics.values() if m.kind in ("residue", "growth", "idle_cpu", "bound")]
    assert split_flat(columns_of(samples), metrics)[0] == []
    resources_figure(samples, analysis, tmp_path / "resources.png")
    assert (tmp_path / "resources.png").stat().st_size > 1000
