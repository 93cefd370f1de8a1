"""--inspect: the census agent inside real server processes (the bundled server, small
servers written for the tests, a FastAPI app under uvicorn, a Node server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS
from harness.load.driver import DRAIN_FALLING_MAX_S
from harness.observe.census import CensusClient, CensusError
from harness.rundir.store import load_run
from harness.target.census import CensusPlan, why_no_agent
from harness.target.process import CommandServer
from tests.conftest import assert_clean_but_too_short

pytestmark = pytest.mark.integration

SERVERS = Path(__file__).parent / "servers"
TINY = SERVERS / "tiny_chat.py"


SIMPLE = ["--scenario", "clean_close"]  # the small servers speak the text turn, not audio


def tiny(mode: str, *flags: str) -> str:
    return " ".join([sys.executable, *flags, str(TINY), "--port", "{port}", "--mode", mode])


def summary(out: Path) -> tuple[dict, str]:
    return json.loads((out / "summary.json").read_text()), (out / "summary.md").read_text()


def census_findings(result: dict) -> list[str]:
    return [m["reason"] for m in result["metrics"].values() if m["kind"] == "census"]


def test_sleeping_task_per_session_is_named_by_its_coroutine(tmp_path: Path, capsys) -> None:
    """A task per client that sleeps forever holds no fd and no counter: the census names
    its coroutine and where it waits, the container that keeps it, and the class."""
    out = tmp_path / "sleeper"
    argv = ["run", "--server-cmd", tiny("sleeper"), "--inspect", *SIMPLE, "--cycles", "12", "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    result, text = summary(out)
    assert "census: on, inside pid" in capsys.readouterr().out
    assert result["caught_by"][0].startswith("census.tasks:Watcher.watch @ ")
    assert "asyncio tasks `Watcher.watch` suspended at " in text and "tiny_chat.py:" in text
    watch = result["metrics"][result["caught_by"][0]]
    assert watch["slope_per_session"] == pytest.approx(1.1, abs=0.05)  # 10 sessions and the probe per cycle
    assert "census.entries:__main__.WATCHERS" in result["caught_by"]
    assert "census.objects:__main__.Watcher" in result["caught_by"]
    assert all(name.startswith("census.") for name in result["caught_by"]), result["caught_by"]
    # Its tasks sleep an hour: past the drain's cap, so not waited for; the run ends as planned.
    assert result["status"]["state"] == "finished", result["status"]
    assert watch["drain"]["idle_s"] < DRAIN_FALLING_MAX_S, watch["drain"]
    assert watch["drain"]["wakes_in_s"] > 3000, watch["drain"]  # and the summary says they sleep that long
    assert "sleep on a timer that wakes the last of them" in watch["reason"], watch["reason"]


def test_the_same_server_fixed_passes_with_a_census(tmp_path: Path) -> None:
    out = tmp_path / "clean"
    argv = ["run", "--server-cmd", tiny("clean"), "--inspect", *SIMPLE, "--cycles", "12", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE  # 12 cycles judge all but memory
    result, text = summary(out)
    assert_clean_but_too_short(result)
    assert result["census_groups"] > 10 and census_findings(result) == []
    samples = load_run(out).samples
    assert all(s.census is not None and s.census.groups for s in samples)
    assert "groups tracked after warm-up" in text and "none grew" in text


def test_census_that_fails_every_cycle_is_no_evidence_of_health(tmp_path: Path, capsys) -> None:
    """A clean server whose census fails every cycle: exit 3, the first verdict line counts
    the failures, the error is named there, in summary.json and in report.html's headline."""
    out = tmp_path / "broken"
    argv = ["run", "--server-cmd", tiny("clean") + " --break-census", "--inspect", *SIMPLE, "--cycles", "12",
            "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    printed = capsys.readouterr().out
    verdict = next(line for line in printed.splitlines() if line.startswith("INCONCLUSIVE:"))
    assert verdict.endswith("; census failed in 12 of 12 cycles"), verdict
    assert "the census agent answered HTTP 500: TypeError: unsupported operand" in printed
    result, text = summary(out)
    failed = result["instruments_failed"]
    assert [(f["instrument"], f["failed"], f["cycles"], f["enough"]) for f in failed] == [("census", 12, 12, False)]
    assert any(reason.startswith("census failed in 12 of 12 cycles: ") for reason in result["reasons"])
    assert "**Instruments that failed:** census failed in 12 of 12 cycles." in text
    html = (out / "report.html").read_text()
    header = html[html.index("<header>"):html.index("</header>")]
    assert "census failed in 12 of 12 cycles" in header and "TypeError: unsupported operand" in header
    inside = html[html.index("<h2>Inside the server</h2>"):]
    inside = inside[:inside.index("<h2>", 5)]
    assert "Nothing grows" not in html and "census: on" not in inside
    assert "The census failed: census failed in 12 of 12 cycles" in inside


@pytest.mark.parametrize(("fault", "named"), [
    ("contexts", "objects `server.context.ServiceContext`"),
    ("tasks", "asyncio tasks `ClientSession.turn` suspended at server/"),
    ("heartbeats", "entries of `ChatState._last_heartbeat`"),
])
def test_bundled_faults_are_named_inside_the_server(tmp_path: Path, fault: str, named: str) -> None:
    out = tmp_path / fault
    assert main(["run", "--leak", fault, "--inspect", "--cycles", "30", "--stop-early", "--out", str(out)]) == EXIT_FAIL
    result, text = summary(out)
    assert any(named in reason for reason in census_findings(result)), census_findings(result)
    assert named in text


def test_fastapi_app_under_uvicorn_gets_a_census(tmp_path: Path) -> None:
    """A FastAPI app started by its own script on uvloop and httptools with PyYAML's C loader
    (Cython types whose `__module__` is a descriptor): the agent loads through sitecustomize,
    every census succeeds, it sees uvloop's, uvicorn's and starlette's objects, and a map
    keyed per client is named."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    app = " ".join([sys.executable, str(SERVERS / "fastapi_chat.py"), "--port", "{port}"])
    clean, leaky = tmp_path / "clean", tmp_path / "leaky"
    argv = ["run", "--server-cmd", app, "--inspect", *SIMPLE, "--cycles", "10", "--out", str(clean)]
    assert main(argv) == EXIT_INCONCLUSIVE
    assert_clean_but_too_short(summary(clean)[0])
    samples = load_run(clean).samples
    assert all(s.census is not None and not s.instruments_failed for s in samples), samples[0].instruments_failed
    groups = samples[-1].census.groups
    assert groups.get("objects:uvloop.Loop") == 1, sorted(groups)
    assert any(g.startswith("objects:starlette.") for g in groups), sorted(groups)
    assert any(g.startswith("tasks:") for g in groups), sorted(groups)
    argv = ["run", "--server-cmd", app + " --leak", "--inspect", *SIMPLE, "--cycles", "10", "--out", str(leaky)]
    assert main(argv) == EXIT_FAIL
    result, _ = summary(leaky)
    assert result["caught_by"][:2] == ["census.objects:__main__.ClientSession", "census.entries:__main__.SESSIONS"]


def test_turns_left_running_for_clients_that_left_are_caught_at_the_first_look(tmp_path: Path) -> None:
    """Upstream's shape on uvicorn[standard]: each turn waits in a task of its own, with the
    `websocket.send_text` it answers by, for the client to play the reply. The clean app cancels
    it on disconnect: no census ever counts an orphan. With --leak orphans it does not, and
    only mid-reply clients leave theirs (two a standard mix): the tasks that hold a closed
    connection fail the run at its first look, named by coroutine and line."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvloop")
    app = " ".join([sys.executable, str(SERVERS / "fastapi_chat.py"), "--port", "{port}"])
    clean, leaky = tmp_path / "clean", tmp_path / "leaky"
    argv = ["run", "--server-cmd", app, "--inspect", "--cycles", "8", "--drain", "0", "--out", str(clean)]
    main(argv)
    samples = load_run(clean).samples
    assert len(samples) == 8 and all(s.census is not None for s in samples)
    assert any(g.startswith("tasks:") for s in samples for g in s.census.groups)
    assert not [g for s in samples for g in s.census.groups if g.startswith("orphans:")]
    argv = ["run", "--server-cmd", app + " --leak orphans", "--inspect", "--cycles", "20", "--stop-early",
            "--out", str(leaky)]
    assert main(argv) == EXIT_FAIL
    result, text = summary(leaky)
    run = load_run(leaky)
    assert run.status is not None and run.status.decided_at == 2 + 4  # warm-up, then the first look
    assert result["caught_by"][0].startswith("census.orphans:await_playback @ ")
    assert "`await_playback` suspended at" in text and "that hold a closed connection" in text


def test_a_server_neither_python_nor_node_is_explained() -> None:
    """The one line a run prints when the server's process tree has neither runtime."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        why = why_no_agent(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert why == ("no census: the server is neither a Python nor a Node process (sleep); "
                   "--inspect sees inside Python 3.10+ and Node 18+ servers")


def test_python_that_does_not_load_the_agent_is_explained(tmp_path: Path, capsys) -> None:
    out = tmp_path / "isolated"
    argv = ["run", "--server-cmd", tiny("clean", "-I"), "--inspect", *SIMPLE, "--cycles", "6", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    assert_clean_but_too_short(summary(out)[0])
    assert "no census: the server's Python did not load the agent" in capsys.readouterr().out


def test_server_not_started_by_the_harness_has_no_census(tmp_path: Path, capsys) -> None:
    server = CommandServer(tiny("clean"), "/client-ws", tmp_path / "server.log")
    server.start()
    try:
        out = tmp_path / "target"
        argv = ["run", "--target", server.ws_url, "--inspect", *SIMPLE, "--cycles", "6", "--out", str(out)]
        assert main(argv) == EXIT_PASS
    finally:
        server.stop()
    assert "no census: the harness did not start this server" in capsys.readouterr().out


def start_with_agent(tmp_path: Path, code: str, plan: CensusPlan, pythonpath: str = "") -> subprocess.Popen:
    script = tmp_path / "app.py"
    script.write_text(code)
    env = {**os.environ, **plan.env()}
    if pythonpath:
        env["PYTHONPATH"] += os.pathsep + pythonpath
    return subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path, stdout=subprocess.PIPE)


BLOCKED_LOOP = """
import asyncio, time
async def stuck():
    print("READY", flush=True)
    time.sleep(60)  # blocks the event loop: the census must not hang on it
asyncio.run(stuck())
"""


def test_census_of_a_blocked_loop_says_so_within_its_budget(tmp_path: Path) -> None:
    plan = CensusPlan()
    proc = start_with_agent(tmp_path, BLOCKED_LOOP, plan)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        found = plan.find(proc.pid)
        assert found.url is not None, found.note
        started = time.monotonic()
        census = CensusClient(found.url, found.token or "", budget=1.0).take()
        took = time.monotonic() - started
        assert any("did not answer within" in note for note in census.notes), census.notes
        assert took < 1.0 + 3.0 and census.took_ms is not None
        assert not any(g.startswith("tasks:") for g in census.groups)
        with pytest.raises(CensusError, match="HTTP 403"):
            CensusClient(found.url, "not-the-token").take()
    finally:
        proc.kill()
        proc.wait()


def test_agent_keeps_the_environments_own_sitecustomize(tmp_path: Path) -> None:
    """The agent is imported as `sitecustomize`; the one the environment had still runs,
    and the server's children start without the agent."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS_RAN'] = '1'\n")
    code = ("import os, subprocess, sys\n"
            "print(os.environ.get('THEIRS_RAN'), 'HARNESS_CENSUS_TOKEN' in os.environ, flush=True)\n"
            "child = subprocess.run([sys.executable, '-c', 'import sys; print(\"_harness_census\" in sys.modules)'],"
            " capture_output=True, text=True)\n"
            "print(child.stdout.strip(), flush=True)\n")
    plan = CensusPlan()
    proc = start_with_agent(tmp_path, code, plan, pythonpath=str(theirs))
    out, _ = proc.communicate(timeout=30)
    assert out.decode().split() == ["1", "False", "False"]
    assert plan.find(proc.pid, timeout=1).url is not None


def test_announcement_is_required_and_the_token_is_checked(tmp_path: Path) -> None:
    plan = CensusPlan()
    proc = start_with_agent(tmp_path, "import time\nprint('READY', flush=True)\ntime.sleep(30)\n", plan)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"READY\n"
        found = plan.find(proc.pid)
        assert found.url is not None
        request = urllib.request.Request(found.url)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 403
        census = CensusClient(found.url, found.token or "").take()
        assert census.groups.get("threads:MainThread") == 1  # the agent's own thread is not counted
        assert census.loop_ms is None  # no event loop in this process
    finally:
        proc.kill()
        proc.wait()
