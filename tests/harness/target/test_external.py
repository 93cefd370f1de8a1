"""Any chat server: `--server-cmd`, `--target --pid`, `--metrics-url`, and the fake LLM.

The servers here are small independent ones written for the tests
(tests/harness/target/servers/tiny_chat.py), not the bundled server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_USAGE
from harness.rundir.store import load_run
from harness.target.process import CommandServer, ServerProcess
from tests.conftest import assert_clean_but_too_short

pytestmark = pytest.mark.integration

TINY = Path(__file__).parent / "servers" / "tiny_chat.py"


def tiny(mode: str, *extra: str) -> str:
    return " ".join([sys.executable, str(TINY), "--port", "{port}", "--mode", mode, *extra])


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_clean_server_passes_and_says_which_signals_it_had(tmp_path: Path) -> None:
    """A clean server with no metrics is judged on latency, fds, threads, TCP and CPU, and
    fails none; 8 cycles are too short for its memory, which the run says (exit 3)."""
    out = tmp_path / "clean"
    argv = ["run", "--server-cmd", tiny("clean"), "--scenario", "abrupt_drop", "--cycles", "8", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    result = summary(out)
    assert_clean_but_too_short(result)
    assert "server counters" not in result["signals"]
    assert {"memory", "fds", "idle cpu", "probe latency"} <= set(result["signals"])
    assert "Signals available: memory, fds" in (out / "summary.md").read_text()


def test_fd_leak_per_abrupt_drop_is_caught(tmp_path: Path) -> None:
    """One fd leaked per dropped client: leak, named process.open_fds, 1 per session."""
    out = tmp_path / "fdleak"
    argv = ["run", "--server-cmd", tiny("fdleak"), "--scenario", "abrupt_drop", "--cycles", "8", "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    result = summary(out)
    assert result["caught_by"] == ["process.open_fds"]
    assert result["metrics"]["process.open_fds"]["slope_per_session"] == pytest.approx(1.0, abs=0.05)


def test_shared_memory_shows_as_prompt_tokens_climbing(tmp_path: Path) -> None:
    """A server whose shared history grows the prompt it sends to the fake LLM is caught
    by the prompt tokens per request."""
    out = tmp_path / "memory"
    argv = ["run", "--fake-llm", "--server-cmd", tiny("memory", "--llm", "{llm_url}"),
            "--scenario", "clean_close", "--cycles", "24", "--users", "5", "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    result = summary(out)
    assert "fake_llm_prompt_tokens:mean_per_cycle" in result["caught_by"]
    assert result["metrics"]["fake_llm_prompt_tokens:mean_per_cycle"]["ratio"] > 1.25


def test_other_protocol_is_inconclusive_not_a_pass(tmp_path: Path) -> None:
    """A server that never ends a reply: sessions fail with 'reply timeout', exit 3."""
    out = tmp_path / "mute"
    argv = ["run", "--server-cmd", tiny("mute"), "--scenario", "clean_close", "--cycles", "4",
            "--users", "2", "--reply-timeout", "0.5", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    result = summary(out)
    assert result["verdict"] == "inconclusive"
    assert any("reply timeout" in reason for reason in result["reasons"])


def test_garbage_frames_end_sessions_with_counted_errors(tmp_path: Path, capsys) -> None:
    """A server that sends a non-JSON frame, a 5 MiB frame or a JSON list mid-reply: each
    such session ends with its own named error, counted in the summary; every cycle still
    runs, and no traceback reaches the user."""
    out = tmp_path / "garbage"
    argv = ["run", "--server-cmd", tiny("garbage"), "--scenario", "clean_close", "--cycles", "5",
            "--users", "4", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE  # most cycles lose most of their sessions
    result = summary(out)
    failures = result["session_failures"]
    assert {"frame is not JSON", "oversized frame", "unexpected frame"} <= set(failures)
    assert result["sessions"] == 20 and sum(failures.values()) < 20
    assert len(load_run(out).samples) == 5
    text = (out / "summary.md").read_text()
    assert "Sessions that failed:" in text and "oversized frame x" in text
    assert "Traceback" not in capsys.readouterr().out


def test_garbage_metrics_warn_once_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    """A metrics URL that returns garbage: one warning, the run goes on and counts it every
    cycle; since that URL gave nothing the user asked for, the run cannot pass and says why."""
    out = tmp_path / "garbage"
    argv = ["run", "--server-cmd", tiny("clean", "--garbage-metrics"),
            "--metrics-url", "http://127.0.0.1:{port}/metrics", "--scenario", "clean_close",
            "--cycles", "6", "--users", "3", "--out", str(out)]
    assert main(argv) == EXIT_INCONCLUSIVE
    result = summary(out)
    assert result["caught_by"] == []
    [failed] = result["instruments_failed"]
    assert failed["instrument"].startswith("metrics http://127.0.0.1:") and failed["failed"] == failed["cycles"] == 6
    assert [r.split(":")[0] for r in result["reasons"]] == [failed["instrument"].split(":")[0]]
    assert "failed in 6 of 6 cycles: did not return parseable figures" in result["reasons"][0]
    printed = capsys.readouterr().out
    assert printed.count("did not return parseable figures") == 2  # the warning, then the verdict's line


def test_server_cmd_that_exits_early(tmp_path: Path, capsys) -> None:
    """Its exit code and last lines of output are in the error; exit 3."""
    cmd = f"{sys.executable} -c \"print('port {{port}} is mine'); raise SystemExit(7)\""
    assert main(["run", "--server-cmd", cmd, "--out", str(tmp_path / "x")]) == EXIT_INCONCLUSIVE
    err = capsys.readouterr().err
    assert "exited early with code 7" in err and "is mine" in err


def test_port_that_never_opens_times_out_clearly(tmp_path: Path, capsys) -> None:
    """A server that never listens: a timeout message naming the port."""
    cmd = f"{sys.executable} -c \"import time; time.sleep(30)\" {{port}}"
    argv = ["run", "--server-cmd", cmd, "--ready-timeout", "1", "--out", str(tmp_path / "x")]
    assert main(argv) == EXIT_INCONCLUSIVE
    assert "did not open port" in capsys.readouterr().err


def test_running_target_with_pid(tmp_path: Path) -> None:
    """--target and --pid sample a server the harness did not start, and leave it running."""
    server = CommandServer(tiny("fdleak"), "/client-ws", tmp_path / "tiny.log")
    server.start()
    try:
        out = tmp_path / "target"
        argv = ["run", "--target", server.ws_url, "--pid", str(server.pid),
                "--scenario", "abrupt_drop", "--cycles", "8", "--out", str(out)]
        assert main(argv) == EXIT_FAIL
        assert "process.open_fds" in summary(out)["caught_by"]
        assert server.alive()
    finally:
        server.stop()


def test_unreachable_target_names_the_url(tmp_path: Path, capsys) -> None:
    """Nothing listening: a clear error naming the URL, no traceback, exit 3."""
    url = "ws://127.0.0.1:9/client-ws"
    assert main(["run", "--target", url, "--out", str(tmp_path / "x")]) == EXIT_INCONCLUSIVE
    err = capsys.readouterr().err
    assert f"server not reachable at {url}" in err and "Traceback" not in err


def test_target_options_that_conflict(tmp_path: Path) -> None:
    """--leak with an external server, or --server-cmd with --target: usage errors."""
    assert main(["run", "--server-cmd", tiny("clean"), "--leak", "tasks"]) == EXIT_USAGE
    assert main(["run", "--server-cmd", "x", "--target", "ws://127.0.0.1:1/"]) == EXIT_USAGE
    assert main(["run", "--pid", "1"]) == EXIT_USAGE


def test_fake_llm_answers_the_openai_client() -> None:
    """The openai client's streaming and plain calls, models and speech all work; the
    prompt size lands in fake_llm_prompt_tokens."""
    openai = pytest.importorskip("openai")
    from harness.observe.sampler import http_get, parse_metrics

    with ServerProcess([sys.executable, "-m", "harness.target.fakellm", "--port", "0"]) as fake:
        client = openai.OpenAI(base_url=f"{fake.http_url}/v1", api_key="unused")
        messages = [{"role": "user", "content": "one two three four"}]
        stream = client.chat.completions.create(model="any", messages=messages, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        assert text.startswith("Sure. Here is a short answer")
        plain = client.chat.completions.create(model="any", messages=messages)
        assert plain.choices[0].message.content == text
        assert plain.usage.prompt_tokens == 4
        assert [m.id for m in client.models.list()] == ["fake-llm"]
        speech = client.audio.speech.create(model="tts-1", voice="alloy", input="hi")
        assert speech.content[:4] == b"RIFF"
        figures = parse_metrics(http_get(f"{fake.http_url}/metrics", 5))
        assert figures["fake_llm_prompt_tokens_count"] == 2
        assert figures["fake_llm_prompt_tokens_sum"] == 8
