"""`harness run` end to end: bundled server, Locust child, verdict, files, exit code."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands.run import run
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, EXIT_USAGE
from harness.judge.series import PER_CLIENT_GAUGES
from harness.options import RunOptions
from harness.rundir.records import PHASES
from harness.rundir.store import load_run
from tests.conftest import assert_clean_but_too_short

pytestmark = pytest.mark.integration

REPORT_FILES = (
    "samples.jsonl", "summary.json", "summary.md", "junit.xml", "latency.png",
    "resources.png", "memory.png", "locust.html", "server.log", "run.json", "status.json",
)


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_fixed_server_passes_and_writes_every_report(tmp_path: Path) -> None:
    """The fixed server passes 22 cycles (the fewest that judge memory too); every report file
    is written; samples have one line per cycle with U sessions each (or none in a probe-only
    wave), per-client gauges 0 after every wave, a probe latency, and every behaviour of the
    mix exercised."""
    out = tmp_path / "fixed"
    assert main(["run", "--cycles", "22", "--out", str(out)]) == EXIT_PASS
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    samples = load_run(out).samples
    assert [s.cycle for s in samples] == list(range(1, 23))
    # Each wave runs what the design planned: U sessions, or none in a probe-only wave.
    assert all(s.sessions.attempted == s.sessions.completed == sum(s.composition.values()) in (0, 10)
               for s in samples)
    assert samples[0].composition == {"abrupt_drop": 1, "audio_drop": 1, "clean_close": 2, "interrupt_close": 1,
                                      "midreply_close": 2, "page_session": 2, "reconnect_storm": 1}
    assert all(s.probe.ok and s.probe.reply_ms > 0 for s in samples)
    # Every cycle says where its time went, and the summary adds it up.
    assert all(set(s.phases) == set(PHASES) and s.phases["census"] > 0 and s.phases["probe"] > 0 for s in samples)
    assert "**Where a cycle goes** (median seconds per cycle): wave " in (out / "summary.md").read_text()
    for sample in samples:
        assert {g: sample.server[g] for g in PER_CLIENT_GAUGES} == dict.fromkeys(PER_CLIENT_GAUGES, 0.0)
    last = samples[-1].server
    assert last["chat_disconnects_total{kind=abrupt}"] > 0 and last["chat_turns_cancelled_on_disconnect_total"] > 0
    assert last["chat_frames_total{type=interrupt-signal}"] > 0 and last["chat_frames_total{type=mic-audio-data}"] > 0
    assert summary(out)["verdict"] == "pass"
    # A saved run re-judges to the same verdict without any load, beside the run's own reports.
    own = {name: (out / name).read_bytes() for name in ("summary.json", "summary.md", "junit.xml", "report.html")}
    assert main(["gate", str(out)]) == EXIT_PASS
    assert json.loads((out / "gate.json").read_text())["verdict"] == "pass"
    assert main(["gate", str(out), "--baseline", str(out / "summary.json"), "--out", str(tmp_path / "g.json")]) \
        == EXIT_PASS
    assert json.loads((tmp_path / "g.json").read_text())["gate"]["baseline"] == str(out / "summary.json")
    assert {name: (out / name).read_bytes() for name in own} == own


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """Unknown scenario or fault, a run directory in use, a missing run: exit 2."""
    assert main(["run", "--scenario", "nope"]) == EXIT_USAGE
    assert main(["run", "--leak", "nope"]) == EXIT_USAGE
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "samples.jsonl").write_text("")
    assert main(["run", "--out", str(taken)]) == EXIT_USAGE
    assert main(["gate", str(tmp_path)]) == EXIT_USAGE


def test_server_dying_mid_run_is_inconclusive_and_keeps_samples(tmp_path: Path) -> None:
    """Killing the server after cycle 3: the run stops, says which cycle, keeps the
    sampled cycles, exits 3, and leaves no child process behind."""
    out = tmp_path / "dies"
    pid: list[int] = []
    killed = threading.Event()

    def echo(message: str) -> None:
        if message.startswith("bundled server on"):
            pid.append(int(message.split("(pid ")[1].split(",")[0]))
        if message.startswith("cycle 3/") and not killed.is_set():
            killed.set()
            os.kill(pid[0], signal.SIGKILL)

    judgement = run(RunOptions(cycles=30, out=out), echo)
    assert killed.is_set()
    assert judgement.exit_code == EXIT_INCONCLUSIVE
    status = json.loads((out / "status.json").read_text())
    assert status["state"] in ("server-died", "aborted")
    assert status["message"].startswith("cycle 4") or "server process" in status["message"]
    assert 3 <= len(load_run(out).samples) < 30
    assert any("ended early" in r for r in summary(out)["reasons"])


def test_report_and_compare_rerender(tmp_path: Path) -> None:
    """report re-renders a saved run, read as columns, into the summaries the run wrote from
    its samples; compare overlays two runs in one figure."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", "--cycles", "5", "--users", "4", "--out", str(a)]) == EXIT_INCONCLUSIVE
    assert_clean_but_too_short(summary(a))
    assert main(["run", "--cycles", "5", "--users", "4", "--leak", "tasks", "--out", str(b)]) == EXIT_FAIL
    (a / "latency.png").unlink()
    assert main(["report", str(a)]) == 0
    assert (a / "latency.png").stat().st_size > 10_000
    written = {name: (b / name).read_text() for name in ("summary.md", "summary.json", "junit.xml")}
    assert "Inside the server (census)" in written["summary.md"] and "Where a cycle goes" in written["summary.md"]
    assert main(["report", str(b)]) == 0
    assert {name: (b / name).read_text() for name in written} == written
    figure = tmp_path / "compare.png"
    assert main(["compare", str(a), str(b), "--out", str(figure)]) == 0
    assert figure.stat().st_size > 10_000
