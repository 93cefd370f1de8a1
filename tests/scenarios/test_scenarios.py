"""Each Locust scenario does what its name says, as the server's own counters show.

Every test drives the real scenario file through Locust (a child process) against the
bundled server. The sample of cycle k is taken before that cycle's probe, so by then the
server has seen k*U scenario sessions and k-1 probes (one clean text turn each).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.load.behaviours import AUDIO
from harness.rundir.store import load_run

pytestmark = pytest.mark.integration

U, CYCLES = 3, 4


def last_figures(tmp_path: Path, scenario: str, *leaks: str) -> dict[str, float]:
    out = tmp_path / scenario
    argv = ["run", "--scenario", scenario, "--cycles", str(CYCLES), "--users", str(U), "--out", str(out)]
    for leak in leaks:
        argv += ["--leak", leak]
    main(argv)
    samples = load_run(out).samples
    assert len(samples) == CYCLES
    assert all(s.sessions.completed == U for s in samples), [s.sessions for s in samples]
    return samples[-1].server


SESSIONS = CYCLES * U
PROBES = CYCLES - 1


def frames(figures: dict[str, float], kind: str) -> float:
    return figures.get(f"chat_frames_total{{type={kind}}}", 0.0)


def test_clean_close(tmp_path: Path) -> None:
    """clean_close: one turn per session, every disconnect with a close frame."""
    f = last_figures(tmp_path, "clean_close")
    assert f["chat_turns_total"] == SESSIONS + PROBES
    assert f["chat_disconnects_total{kind=clean}"] == SESSIONS + PROBES
    assert f["chat_disconnects_total{kind=abrupt}"] == 0


def test_abrupt_drop(tmp_path: Path) -> None:
    """abrupt_drop: every scenario session leaves without a close frame."""
    f = last_figures(tmp_path, "abrupt_drop")
    assert f["chat_disconnects_total{kind=abrupt}"] == SESSIONS
    assert f["chat_turns_total"] == SESSIONS + PROBES


def test_midreply_close(tmp_path: Path) -> None:
    """midreply_close: each session leaves while its turn is still running."""
    f = last_figures(tmp_path, "midreply_close")
    assert f["chat_turns_cancelled_on_disconnect_total"] == SESSIONS


def test_audio_drop_leaves_a_full_buffer_on_the_buffers_fault(tmp_path: Path) -> None:
    """audio_drop: 1 s of audio streamed, no mic-audio-end; on the buffers fault every
    session's audio is still held after quiesce."""
    f = last_figures(tmp_path, "audio_drop", "buffers")
    assert frames(f, "mic-audio-end") == 0
    assert f["chat_audio_buffer_bytes"] == SESSIONS * 4 * len(AUDIO)


def test_interrupt_close(tmp_path: Path) -> None:
    """interrupt_close: the turn is interrupted, so none is left running at disconnect."""
    f = last_figures(tmp_path, "interrupt_close")
    assert frames(f, "interrupt-signal") == SESSIONS
    assert f["chat_turns_cancelled_on_disconnect_total"] == 0


def test_reconnect_storm(tmp_path: Path) -> None:
    """reconnect_storm: sessions without any chat (only the probes talk)."""
    f = last_figures(tmp_path, "reconnect_storm")
    assert f["chat_sessions_total"] == SESSIONS + PROBES
    assert f["chat_turns_total"] == PROBES


def test_page_session(tmp_path: Path) -> None:
    """page_session: configs, history list, new history, heartbeat and a turn each."""
    f = last_figures(tmp_path, "page_session")
    for kind in ("fetch-configs", "fetch-history-list", "create-new-history", "heartbeat"):
        assert frames(f, kind) == SESSIONS, kind
    assert f["chat_turns_total"] == SESSIONS + PROBES
