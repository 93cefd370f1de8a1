"""The gate against a baseline from another run: a clear message, never a silent pass (pure)."""

from __future__ import annotations

from pathlib import Path

from harness.judge.gate import Baseline
from harness.judge.verdict import judge
from harness.options import RunOptions
from harness.rundir.records import Run, RunMeta
from tests.harness.judge.synthetic import make_lines


def summary_of(options: RunOptions) -> dict:
    run = Run(Path("base"), make_lines(), meta=RunMeta(options))
    return judge(run).to_dict()


def test_a_baseline_of_the_same_target_is_compared() -> None:
    """The same run against itself: compared, nothing regressed. Against a baseline whose probe
    ratio was 0.3 lower: that regression is named and the run degrades, though its own rules
    pass; a baseline counter that shrank is held to 0, so a flat one is no regression."""
    options = RunOptions(scenario="mixed")
    baseline = summary_of(options)
    judgement = judge(Run(Path("now"), make_lines(), meta=RunMeta(options)), baseline=baseline,
                      baseline_path=Path("b.json"))
    assert judgement.baseline_refused is None and judgement.regressions == [] and judgement.verdict == "pass"
    baseline["metrics"]["probe.reply_ms"]["ratio"] -= 0.3
    baseline["metrics"]["chat_asyncio_tasks"]["slope_per_session"] = -0.1
    tasks = make_lines(tasks=lambda t: 2 + (t % 2))  # jitters, grows nothing: its own rule passes
    judgement = judge(Run(Path("now"), tasks, meta=RunMeta(options)), baseline=baseline, baseline_path=Path("b.json"))
    assert judgement.analysis.verdict == "pass"
    assert sorted(r.metric for r in judgement.regressions) == ["probe.reply_ms"]
    assert judgement.verdict == "degraded" and judgement.to_dict()["gate"]["regressions"]


def test_a_server_on_another_port_is_the_same_target() -> None:
    mine = RunOptions(target="ws://127.0.0.1:41000/client-ws").to_meta()
    theirs = {"run": RunOptions(target="ws://127.0.0.1:39999/client-ws").to_meta(), "metrics": {}}
    assert Baseline.of(theirs, "b.json").refuses(mine) is None


def test_a_baseline_of_another_target_is_refused_and_the_run_is_not_a_pass() -> None:
    baseline = summary_of(RunOptions(server_cmd="python other.py --port {port}"))
    judgement = judge(Run(Path("now"), make_lines(), meta=RunMeta(RunOptions())), baseline=baseline,
                      baseline_path=Path("reports/baseline/summary.json"))
    assert judgement.analysis.verdict == "pass" and judgement.verdict == "inconclusive"
    refused = judgement.baseline_refused or ""
    assert "reports/baseline/summary.json is of another run" in refused
    assert "'python other.py --port {port}'" in refused and "'bundled'" in refused
    assert judgement.to_dict()["gate"]["refused"] == refused


def test_a_file_that_is_no_summary_is_refused_by_name() -> None:
    judgement = judge(Run(Path("now"), make_lines(), meta=RunMeta(RunOptions())), baseline={"samples": []},
                      baseline_path=Path("x.json"))
    assert judgement.baseline_refused == (
        "baseline x.json is not a summary.json of a run (no 'run' or 'metrics'): not compared")
