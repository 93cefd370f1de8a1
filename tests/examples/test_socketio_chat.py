"""The Socket.IO example (examples/socketio_chat: python-socketio on aiohttp): `harness try`
works with its events profile and with its acknowledgement profile; the default run passes
it fixed and fails it with a lobby membership and a listener kept per socket, naming the
behaviours and, with --inspect, both containers (real aiohttp, python-socketio's client
inside real Locust)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "socketio_chat"
SERVER = f"{sys.executable} {EXAMPLE / 'server.py'} --port {{port}}"
LOBBY = "census.entries:__main__.LOBBY"
LISTENERS = "census.entries:__main__.LISTENERS"


@pytest.mark.parametrize(("profile", "works", "reply"), [
    ("profile.toml", "5/5 behaviours", '<-  {"event": "done", "data": {}}   [turn.end]'),
    ("profile-ack.toml", "4/4 behaviours", '<-  {"ack": true, "data": {"text": "Sure.'),
])
def test_try_says_each_profile_works(profile: str, works: str, reply: str, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("aiohttp")
    assert main(["try", "--server-cmd", SERVER, "--protocol", str(EXAMPLE / profile)]) == 0
    out = capsys.readouterr().out
    assert f"this profile works: {works}" in out and reply in out
    assert "audio_drop: left out (the protocol sends no mic audio" in out


def run(tmp_path: Path, name: str, *flags: str) -> tuple[int, dict]:
    pytest.importorskip("aiohttp")
    out = tmp_path / name
    code = main(["run", "--cycles", "50", "--server-cmd", f"{SERVER} {' '.join(flags)}",
                 "--protocol", str(EXAMPLE / "profile.toml"), "--metrics-url", "http://127.0.0.1:{port}/metrics",
                 "--inspect", "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text())


def test_the_fixed_server_passes_once_its_ping_tasks_time_out(tmp_path: Path) -> None:
    """python-engineio keeps each closed socket's ping task asleep for its ping interval (25 s),
    longer than the run: they grow with every session as a leak would. The census sees them
    asleep on a timer, so the drain check (5 s by default) waits for them to wake, and sees
    them released."""
    code, result = run(tmp_path, "fixed")
    assert code == EXIT_PASS, result["caught_by"]
    assert result["session_failures"] == {}
    ping = result["metrics"]["census.tasks:AsyncSocket._send_ping @ engineio/async_socket.py:137"]
    assert ping["verdict"] == "pass" and 5 < ping["drain"]["released_after_s"] < 30, ping["reason"]


def test_a_membership_and_a_listener_kept_per_socket_fail_naming_both(tmp_path: Path) -> None:
    code, result = run(tmp_path, "leak", "--leak")
    assert code == EXIT_FAIL
    assert {"socketio_chat_members", LOBBY, LISTENERS} <= set(result["caught_by"]), result["caught_by"]
    for name in (LOBBY, LISTENERS):
        named = result["metrics"][name]["by_behaviour"]
        assert len(named) >= 4 and all(e["per_session"] == pytest.approx(1.0, abs=0.1) for e in named.values()), named
