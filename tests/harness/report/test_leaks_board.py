"""What the Leaks tab is fed (/leaks/data), from synthetic samples (pure, no browser)."""

from __future__ import annotations

from harness.report.webui import LeaksBoard
from harness.rundir.records import Census
from tests.harness.judge.synthetic import make_lines


def test_census_groups_that_grow_get_a_finding_a_column_and_a_chart() -> None:
    board = LeaksBoard()
    board.start(20, None)
    for t, sample in enumerate(make_lines(20)):
        sample.census = Census(groups={"tasks:Watcher.watch @ app/watch.py:42": 10.0 * t,
                                       "objects:app.x.Steady": 3.0})
        board.add(sample)
    data = board.data()
    assert data["verdict"] == "leak"
    assert data["findings"][0]["text"].startswith("asyncio tasks `Watcher.watch` suspended at app/watch.py:42")
    assert "Watcher.watch" in data["columns"] and "Steady" not in data["columns"]
    assert [row["Watcher.watch"] for row in data["rows"][:2]] == [190.0, 180.0]  # newest first
    chart = next(c for c in data["charts"] if c["name"].startswith("census."))
    assert chart["title"] == "asyncio tasks Watcher.watch suspended at app/watch.py:42"
    assert chart["values"][-1] == 190.0
