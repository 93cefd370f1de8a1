"""The Node Socket.IO example (examples/node_socketio_chat: socket.io 4 on Node): the Socket.IO
profile works on it; the default run passes it fixed and, with a user's presence never made
to leave the lobby room and a listener kept per socket, fails naming the room and the
listener from inside Node (--inspect: socket.io's rooms per namespace, the emitter's
listeners), with the behaviours that leave them (real node, python-socketio's client in
real Locust). Skipped with a reason where node or the example's packages are missing
(.ci/run installs both)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS

EXAMPLE = Path(__file__).parents[2] / "examples" / "node_socketio_chat"
PROFILE = Path(__file__).parents[2] / "examples" / "socketio_chat" / "profile.toml"
SERVER = f"node {EXAMPLE / 'server.js'} {{port}}"
ROOM = "census.room:lobby"
LISTENERS = "census.listeners:server.bus on 'announce'"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("node") is None, reason="no node installed"),
    pytest.mark.skipif(not (EXAMPLE / "node_modules" / "socket.io").is_dir(),
                       reason=f"npm ci --prefix {EXAMPLE} (.ci/run does) installs socket.io"),
]


def test_the_socketio_profile_works_on_node(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["try", "--server-cmd", SERVER, "--protocol", str(PROFILE)]) == 0
    assert "this profile works: 5/5 behaviours" in capsys.readouterr().out


def run(tmp_path: Path, name: str, *flags: str) -> tuple[int, dict]:
    out = tmp_path / name
    code = main(["run", "--cycles", "50", "--server-cmd", f"{SERVER} {' '.join(flags)}", "--protocol", str(PROFILE),
                 "--metrics-url", "http://127.0.0.1:{port}/metrics", "--inspect", "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text())


def test_the_fixed_server_passes(tmp_path: Path) -> None:
    code, result = run(tmp_path, "fixed")
    assert code == EXIT_PASS, result["caught_by"]
    assert result["session_failures"] == {} and not result["instruments_failed"]


def test_a_user_never_made_to_leave_the_lobby_fails_naming_the_room_and_the_listener(tmp_path: Path) -> None:
    code, result = run(tmp_path, "leak", "--leak")
    assert code == EXIT_FAIL
    assert {"node_socketio_lobby", ROOM, LISTENERS} <= set(result["caught_by"]), result["caught_by"]
    assert "members of socket.io room `lobby`" in result["metrics"][ROOM]["reason"]
    assert not result["instruments_failed"]  # the census saw every cycle, the heap growing as it leaked
    for name in ("node_socketio_lobby", ROOM, LISTENERS):
        named = result["metrics"][name]["by_behaviour"]
        assert len(named) >= 4 and all(e["per_session"] == pytest.approx(1.0, abs=0.1) for e in named.values()), named
