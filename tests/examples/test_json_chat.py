"""The JSON chat example (examples/json_chat: FastAPI, token streaming, its profile): `harness
try` says the profile works, or where a wrong one fails and what came instead; the default
run passes the server fixed and fails it with its session-dict leak, naming the behaviours
and, with --inspect, the dict (real uvicorn, real Locust)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "json_chat"
PROFILE = EXAMPLE / "profile.toml"
SERVER = f"{sys.executable} {EXAMPLE / 'server.py'} --port {{port}}"
SESSIONS = "census.entries:__main__.SESSIONS"


def test_try_says_the_profile_works_and_shows_each_frame(capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi")
    assert main(["try", "--server-cmd", SERVER, "--protocol", str(PROFILE)]) == 0
    out = capsys.readouterr().out
    assert "this profile works: 6/6 behaviours" in out
    assert "page_session: left out (the page's own requests" in out
    assert '->  {"type": "message", "text": "Hello!' in out and "[turn.send]" in out
    assert '<-  {"type": "done"}   [turn.end]' in out and '<-  {"type": "pong"}   [heartbeat.await]' in out


def test_try_on_a_wrong_profile_names_the_step_and_shows_the_frames_it_got(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("fastapi")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(PROFILE.read_text().replace('end = { type = "done" }', 'end = { type = "finished" }'))
    code = main(["try", "--server-cmd", SERVER, "--protocol", str(wrong), "--reply-timeout", "1"])
    out = capsys.readouterr().out
    assert code == EXIT_FAIL
    assert "FAILED after its connect step: reply timeout: no turn.end (type='finished') within 1.0 s" in out
    assert '<-  {"type": "done"}' in out  # what came instead
    assert "the profile does not work: clean_close failed" in out and "this profile works" not in out


def run(tmp_path: Path, name: str, *flags: str) -> tuple[int, dict, list[dict]]:
    pytest.importorskip("fastapi")
    out = tmp_path / name
    code = main(["run", "--cycles", "50", "--server-cmd", f"{SERVER} {' '.join(flags)}", "--protocol", str(PROFILE),
                 "--metrics-url", "http://127.0.0.1:{port}/metrics", "--inspect", "--out", str(out)])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return code, json.loads((out / "summary.json").read_text()), samples


def test_the_fixed_server_passes_with_the_behaviours_its_profile_expresses(tmp_path: Path) -> None:
    code, result, samples = run(tmp_path, "fixed")
    assert code == EXIT_PASS, result["caught_by"]
    assert result["run"]["protocol"] == str(PROFILE.resolve())
    seen = {b for s in samples for b in s.get("composition", {})}  # a probe-only wave has none
    assert seen == {"clean_close", "abrupt_drop", "midreply_close", "audio_drop", "interrupt_close", "reconnect_storm"}
    assert all(s["probe"]["ok"] and s["sessions"]["failed"] == 0 for s in samples)


def test_a_session_dict_kept_after_disconnect_fails_naming_behaviours_and_the_dict(tmp_path: Path) -> None:
    code, result, _ = run(tmp_path, "leak", "--leak")
    assert code == EXIT_FAIL
    assert {"json_chat_sessions", SESSIONS} <= set(result["caught_by"]), result["caught_by"]
    named = result["metrics"][SESSIONS]["by_behaviour"]
    assert len(named) >= 4 and all(e["per_session"] == pytest.approx(1.0, abs=0.1) for e in named.values()), named
