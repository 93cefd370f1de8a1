"""The plain-text example (examples/text_chat: the websockets library, no JSON): `harness try`
says its regex profile works; the default run passes it fixed and fails it with a transcript
kept per connection, naming the behaviours and, with --inspect, the dict (real websockets
server, real Locust)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "text_chat"
PROFILE = EXAMPLE / "profile.toml"
SERVER = f"{sys.executable} {EXAMPLE / 'server.py'} --port {{port}}"
HISTORY = "census.entries:__main__.HISTORY"


def test_try_says_the_text_profile_works(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["try", "--server-cmd", SERVER, "--protocol", str(PROFILE)]) == 0
    out = capsys.readouterr().out
    assert "this profile works: 5/5 behaviours" in out
    assert "<-  [end]   [turn.end]" in out and "->  /stop   [interrupt.send]" in out


def run(tmp_path: Path, name: str, *flags: str) -> tuple[int, dict]:
    out = tmp_path / name
    code = main(["run", "--cycles", "50", "--server-cmd", f"{SERVER} {' '.join(flags)}", "--protocol", str(PROFILE),
                 "--metrics-url", "http://127.0.0.1:{port}/metrics", "--inspect", "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text())


def test_the_fixed_server_passes(tmp_path: Path) -> None:
    code, result = run(tmp_path, "fixed")
    assert code == EXIT_PASS, result["caught_by"]
    assert result["session_failures"] == {}


def test_a_transcript_kept_per_connection_fails_naming_behaviours_and_the_dict(tmp_path: Path) -> None:
    code, result = run(tmp_path, "leak", "--leak")
    assert code == EXIT_FAIL
    assert {"text_chat_histories", HISTORY} <= set(result["caught_by"]), result["caught_by"]
    named = result["metrics"][HISTORY]["by_behaviour"]
    assert len(named) >= 4 and all(e["per_session"] == pytest.approx(1.0, abs=0.1) for e in named.values()), named
