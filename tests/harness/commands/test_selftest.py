"""The gate proves itself: selftest catches every fault, passes the fixed server, and the
fixed server still passes with a CPU hog on one core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.run import run
from harness.commands.selftest import FIXED, CpuHog, Row, table
from harness.options import RunOptions

pytestmark = pytest.mark.integration


def test_short_selftest_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """selftest --cycles 8 --repeat 2: every fault caught twice, no false alarm, exit 0;
    a change that blinds the gate or makes it flaky fails here."""
    out = tmp_path / "selftest"
    assert main(["selftest", "--cycles", "8", "--repeat", "2", "--out", str(out)]) == 0
    rows = {row["target"]: row for row in json.loads((out / "selftest.json").read_text())}
    assert rows[FIXED]["runs"] == 2 and rows[FIXED]["failed"] == 0
    for name, row in rows.items():
        if name != FIXED:
            assert row["failed"] == row["runs"] == 2, name
            assert row["median_cycles_to_detect"] <= 8, name
    printed = capsys.readouterr().out
    assert "selftest passed" in printed and "false alarms" in printed


def test_fixed_server_passes_with_a_cpu_hog(tmp_path: Path) -> None:
    """With one core kept busy by another process, the fixed server still passes."""
    with CpuHog() as hog:
        assert hog.proc is not None and hog.proc.poll() is None
        judgement = run(RunOptions(cycles=12, out=tmp_path / "hog"), lambda m: None)
    assert hog.proc.poll() is not None, "the hog must be stopped"
    assert judgement.verdict == "pass", [m.reason for m in judgement.analysis.failing()]


def test_table_marks_misses_and_false_alarms() -> None:
    """A missed fault and a false alarm both show in the table and fail the row."""
    fixed = Row(FIXED, runs=2, failed=1)
    missed = Row("tasks", runs=2, failed=1, cycles_to_detect=[6])
    text = table([fixed, missed])
    assert not fixed.ok and not missed.ok
    assert "FALSE ALARM" in text and "1/2" in text
