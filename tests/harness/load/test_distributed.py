"""`harness run --workers N`: a Locust master and N local workers keep the wave, quiesce,
probe cycle; samples.jsonl is written once, by the master."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest

from harness.cli import main
from harness.commands.run import run
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from harness.options import RunOptions
from harness.rundir.store import load_run

pytestmark = pytest.mark.integration


def test_two_workers_pass_the_fixed_server(tmp_path: Path) -> None:
    """22 cycles on 2 workers: exactly 22 lines of U=10 completed sessions, and a pass;
    both workers ran sessions."""
    out = tmp_path / "fixed"
    assert main(["run", "--cycles", "22", "--workers", "2", "--out", str(out)]) == EXIT_PASS
    samples = load_run(out).samples
    assert [s.cycle for s in samples] == list(range(1, 23))
    assert all(s.sessions.attempted == s.sessions.completed == sum(s.composition.values()) in (0, 10)
               for s in samples)
    busy = max(s.cycle for s in samples if s.sessions.attempted)  # not a probe-only wave
    for worker in ("worker-1.log", "worker-2.log"):
        assert f"cycle {busy}: ran 5 of 5 sessions (0 failed)" in (out / worker).read_text()
    assert sum(1 for _ in (out / "samples.jsonl").open()) == 22


def test_two_workers_catch_the_tasks_fault(tmp_path: Path) -> None:
    """The same run on the tasks fault fails on chat_asyncio_tasks, like a local run."""
    out = tmp_path / "tasks"
    argv = ["run", "--cycles", "10", "--workers", "2", "--leak", "tasks", "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    assert "chat_asyncio_tasks" in json.loads((out / "summary.json").read_text())["caught_by"]


def test_a_worker_that_dies_makes_the_run_inconclusive(tmp_path: Path) -> None:
    """Killing a worker after cycle 3: the run ends, inconclusive, naming the worker;
    it does not hang, and no Locust process is left behind."""
    killed: list[int] = []

    def echo(message: str) -> None:
        if message.startswith("cycle 3/") and not killed:
            for child in psutil.Process().children(recursive=True):
                if "--worker" in child.cmdline():
                    child.kill()
                    killed.append(child.pid)
                    break

    judgement = run(RunOptions(cycles=30, workers=2, out=tmp_path / "dies"), echo)
    assert killed
    assert judgement.exit_code == EXIT_INCONCLUSIVE
    status = judgement.run.status
    assert status is not None
    assert status.state == "worker-died" and "stopped answering" in status.message
    assert any("worker" in reason for reason in judgement.analysis.reasons)
    leftovers = [p for p in psutil.Process().children(recursive=True) if "locust" in " ".join(p.cmdline())]
    assert leftovers == []
