"""The run directory's records and files: layouts round-trip, bad lines are named and skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.options import RunOptions
from harness.rundir.records import Census, CycleSample, RecordError, RunMeta, RunStatus, Target
from harness.rundir.store import (
    SampleFollower,
    SampleLog,
    load_run,
    next_run_dir,
    read_meta,
    run_dirs,
    write_meta,
)

DATA = Path(__file__).parent / "data"  # three lines and the run.json of a real `--leak tasks` run


def real_lines() -> list[str]:
    return (DATA / "samples.jsonl").read_text().splitlines()


def test_a_real_line_round_trips_byte_for_byte() -> None:
    """CycleSample is the only code that knows the line's layout: reading a line the
    driver wrote and writing it back gives the same bytes."""
    for line in real_lines():
        assert CycleSample.from_json(line).to_json() == line


def test_a_real_line_is_typed() -> None:
    """Sessions, step latencies, the probe and the process figures come out typed."""
    sample = CycleSample.from_json(real_lines()[0])
    assert sample.cycle == 1 and sample.sessions.attempted == 10
    reply = sample.step("reply")
    assert reply is not None and reply.p95 is not None and reply.p95 >= reply.p50
    assert sample.probe.ok and sample.probe.reply_ms and sample.probe.reply_ms > 0
    assert sample.process is not None and sample.process.rss_bytes > 0
    assert sample.server["chat_clients"] == 0.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"cycle": 1, "sess', "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"cycle": 1}', "not a cycle sample"),
        ('{"cycle": 1, "sessions": 5}', "'sessions' is not a JSON object"),
        ('{"cycle": 1, "sessions": {}, "probe": {"reply_ms": "fast"}}', "'reply_ms' is not a number"),
    ],
)
def test_bad_lines_say_what_is_wrong(text: str, says: str) -> None:
    """Each malformed line raises RecordError naming the problem."""
    with pytest.raises(RecordError, match=says):
        CycleSample.from_json(text)


def test_load_run_skips_bad_lines_naming_file_and_line(tmp_path: Path) -> None:
    """A corrupted line and a line truncated by a killed run are skipped with a warning
    that names the file and line; the good lines are all kept."""
    good = real_lines()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    text = good[0] + "\nnot json\n" + good[1] + "\n" + good[2][:40]
    (run_dir / "samples.jsonl").write_text(text)
    run = load_run(run_dir)
    assert [s.cycle for s in run.samples] == [1, 2]
    assert len(run.warnings) == 2
    assert "samples.jsonl:2: not JSON" in run.warnings[0]
    assert "samples.jsonl:4: not JSON" in run.warnings[1]


def test_a_long_run_is_read_in_chunks_and_a_bad_line_is_still_named(tmp_path: Path) -> None:
    """Lines are parsed a chunk at a time; a chunk with a bad line in it (here: not JSON, and
    two samples on one line, which as part of an array would parse) is read line by line,
    so its good lines are all kept and the bad ones named."""
    from harness.rundir.store import PARSE_CHUNK

    sample = CycleSample.from_json(real_lines()[0])
    lines = []
    for cycle in range(1, 2 * PARSE_CHUNK + 11):
        sample.cycle = cycle
        lines.append(sample.to_json())
    lines[PARSE_CHUNK + 2] = "{oops"
    lines[2 * PARSE_CHUNK + 5] = lines[2 * PARSE_CHUNK + 5] + "," + lines[2 * PARSE_CHUNK + 5]  # another chunk
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    run = load_run(tmp_path)
    bad = {PARSE_CHUNK + 3, 2 * PARSE_CHUNK + 6}
    assert [s.cycle for s in run.samples] == [c for c in range(1, 2 * PARSE_CHUNK + 11) if c not in bad]
    assert [w.split(": ")[0].rsplit(":", 1)[1] for w in run.warnings] == [str(n) for n in sorted(bad)]


def test_follower_hands_on_complete_lines_only(tmp_path: Path) -> None:
    """The follower (live) and load_run (saved) hand on the same records; a half-written
    line waits until its newline arrives."""
    log = SampleLog(tmp_path)
    follower = SampleFollower(tmp_path)
    first, second = (CycleSample.from_json(line) for line in real_lines()[:2])
    log.append(first)
    with log.path.open("a") as fh:
        fh.write(second.to_json()[:30])
    assert follower.new_samples() == [first]
    with log.path.open("a") as fh:
        fh.write(second.to_json()[30:] + "\n")
    assert follower.new_samples() == [second]
    assert load_run(tmp_path).samples == [first, second]


def test_run_json_round_trips_and_reads_an_older_layout(tmp_path: Path) -> None:
    """run.json written by this version reads back to the same options and target; one
    from before the `endpoint` field (the data/ copy) reads with no target."""
    options = RunOptions(cycles=12, users=5, leaks=("tasks",), out=tmp_path, metrics=("^chat_",))
    target = Target("ws://127.0.0.1:1234/client-ws", pid=42, metrics_url="http://127.0.0.1:1234/metrics")
    write_meta(tmp_path, RunMeta(options, target, started=1.5))
    meta = read_meta(tmp_path)
    assert meta is not None and meta.options == options and meta.target == target
    assert json.loads((tmp_path / "run.json").read_text())["target"] == "bundled"
    older = RunMeta.from_dict(json.loads((DATA / "run.json").read_text()))
    assert older.options.leaks == ("tasks",) and older.options.cycles == 50 and older.target is None


def test_run_json_keeps_a_target_url_and_a_server_cmd_apart() -> None:
    """run.json's "target" is the label; reading it back restores --target but not a label."""
    by_url = RunOptions(target="ws://127.0.0.1:9/x")
    by_cmd = RunOptions(server_cmd="python srv.py {port}")
    assert RunOptions.from_meta(by_url.to_meta()).target == "ws://127.0.0.1:9/x"
    assert RunOptions.from_meta(by_cmd.to_meta()).target is None
    assert RunOptions.from_meta(by_cmd.to_meta()).server_cmd == "python srv.py {port}"


def test_garbage_run_json_is_a_clear_error(tmp_path: Path) -> None:
    """A run.json that is not JSON names the file, as a UsageError (exit 2, no traceback)."""
    (tmp_path / "run.json").write_text("{oops")
    with pytest.raises(UsageError, match="run.json: not valid JSON"):
        read_meta(tmp_path)


def test_status_omits_what_it_does_not_know() -> None:
    """status.json keeps the layout the driver always wrote: no null fields."""
    status = RunStatus("aborted", "interrupted (Ctrl-C)")
    assert status.to_dict() == {"state": "aborted", "message": "interrupted (Ctrl-C)"}
    assert RunStatus.from_dict(status.to_dict()) == status
    assert not status.ended_well and RunStatus("decided", "").ended_well


def test_ui_run_directories_are_numbered(tmp_path: Path) -> None:
    """A test started again from the UI gets base-2, base-3; run_dirs lists them all."""
    base = tmp_path / "ui"
    assert next_run_dir(base) == base
    shutil.copytree(DATA, base)
    assert next_run_dir(base) == tmp_path / "ui-2"
    shutil.copytree(DATA, tmp_path / "ui-2")
    assert next_run_dir(base) == tmp_path / "ui-3"
    assert run_dirs(base) == [base, tmp_path / "ui-2"]


def test_a_census_line_without_its_cost_still_renders(tmp_path: Path) -> None:
    """A census record with groups but no timings (an older or hand-made line): the summary
    renders it and says nothing of the cost, instead of a traceback."""
    from harness.judge.verdict import judge
    from harness.report.summary import markdown
    from harness.rundir.records import Run
    from tests.harness.judge.synthetic import make_lines

    samples = make_lines(12)
    for sample in samples:
        sample.census = Census(groups={"objects:app.Thing": 1.0})
    text = markdown(judge(Run(tmp_path, samples)))
    assert "censuses" in text and "Census cost" not in text
