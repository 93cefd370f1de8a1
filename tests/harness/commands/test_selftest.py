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
from tests.conftest import assert_clean_but_too_short

pytestmark = pytest.mark.integration


CAUGHT_BY = {
    "tasks": "chat_asyncio_tasks",
    "contexts": "chat_tts_workers",
    "buffers": "chat_audio_buffers",
    "heartbeats": "chat_heartbeats",
    "handlers": "chat_message_handler_clients",
    "wakeword": "chat_wake_word_clients",
    "memory": "chat_agent_memory_messages",
}


def test_selftest_catches_every_fault_and_passes_the_fixed_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """selftest --cycles 22 --repeat 1 --users 5: the fixed server passes (22 cycles are the fewest that
    judge memory too), every fault exits as a leak, each named by its own counter in
    summary.json, summary.md and junit.xml; a change that blinds the gate fails here."""
    out = tmp_path / "selftest"
    assert main(["selftest", "--cycles", "22", "--repeat", "1", "--users", "5", "--out", str(out)]) == 0
    rows = {row["target"]: row for row in json.loads((out / "selftest.json").read_text())}
    assert rows[FIXED]["runs"] == 1 and rows[FIXED]["failed"] == 0 == rows[FIXED]["inconclusive"]
    assert set(rows) == {FIXED, *CAUGHT_BY}
    for fault, metric in CAUGHT_BY.items():
        assert rows[fault]["failed"] == rows[fault]["runs"] == 1, fault
        assert rows[fault]["median_cycles_to_detect"] <= 22, fault
        assert metric in rows[fault]["caught_by"], (fault, rows[fault]["caught_by"])
        run_dir = out / f"{fault}-1"
        assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "leak"
        assert metric in (run_dir / "summary.md").read_text()
        assert f'name="{metric}"><failure' in (run_dir / "junit.xml").read_text()
    printed = capsys.readouterr().out
    assert "selftest passed" in printed and "false alarms" in printed


def test_too_short_a_selftest_cannot_pass_the_fixed_server(tmp_path: Path) -> None:
    """At 8 cycles memory cannot be judged: the fixed row is inconclusive, not a pass."""
    out = tmp_path / "short"
    assert main(["selftest", "--cycles", "8", "--repeat", "1", "--fault", "tasks", "--out", str(out)]) == 1
    rows = {row["target"]: row for row in json.loads((out / "selftest.json").read_text())}
    assert rows[FIXED]["inconclusive"] == 1 and not rows[FIXED]["ok"]
    assert rows["tasks"]["ok"]
    summary = json.loads((out / "fixed-1" / "summary.json").read_text())
    assert summary["too_short"][0].startswith("too short to judge memory.rss: needs 22 cycles")


def test_cpu_step_is_not_the_servers_and_a_fault_under_it_is_still_caught(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """selftest --cpu-step: a CPU hog starts a third of the way into a fixed-server run and into
    a handlers-fault run. The judge must see the machine change in both, not fail the fixed
    server, and still catch the fault; the outcomes and their times are printed."""
    out = tmp_path / "step"
    assert main(["selftest", "--cpu-step", "--cycles", "30", "--repeat", "1", "--users", "5", "--out", str(out)]) == 0
    rows = {row["target"]: row for row in json.loads((out / "selftest-step.json").read_text())}
    assert rows[FIXED]["verdict"] in ("pass", "confounded") and rows[FIXED]["ok"]
    assert rows["handlers"]["verdict"] == "leak" and "chat_message_handler_clients" in rows["handlers"]["caught_by"]
    for row in rows.values():
        assert any("the machine changed at cycle" in line for line in row["machine"]), row
        assert row["seconds"] > 0
    printed = capsys.readouterr().out
    assert "CPU step after cycle 10" in printed and " s (ok)" in printed and "selftest passed" in printed


def test_fixed_server_passes_with_a_cpu_hog(tmp_path: Path) -> None:
    """With one core kept busy by another process, the fixed server fails nothing (12 cycles:
    too short for memory), the control sees the hog on every cycle, and the steady hog is no
    change of the cores busy elsewhere. (The fixed workload may still step: the scheduler
    can move the harness off the hog's core mid-run, about one run in eight here, and that
    is a real change of the speed the harness sees.)"""
    with CpuHog() as hog:
        assert hog.proc is not None and hog.proc.poll() is None
        judgement = run(RunOptions(cycles=12, out=tmp_path / "hog"), lambda m: None)
    assert hog.proc.poll() is not None, "the hog must be stopped"
    assert_clean_but_too_short(judgement.to_dict())
    assert judgement.analysis.confounded() == []
    others = [sample.control.others_cpu for sample in judgement.run.samples]
    assert min(others) > 0.7, others
    assert [c for c in judgement.analysis.machine if c.figure == "others_cpu"] == [], judgement.analysis.machine


def test_table_marks_misses_and_false_alarms() -> None:
    """A missed fault and a false alarm both show in the table and fail the row."""
    fixed = Row(FIXED, runs=2, failed=1)
    missed = Row("tasks", runs=2, failed=1, cycles_to_detect=[6])
    text = table([fixed, missed])
    assert not fixed.ok and not missed.ok
    assert "FALSE ALARM" in text and "1/2" in text
