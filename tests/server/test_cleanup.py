"""Sessions of every kind leave nothing behind on the fixed server; each fault does."""

from __future__ import annotations

import pytest

from harness.judge.series import PER_CLIENT_GAUGES as PER_CLIENT
from harness.load import behaviours

pytestmark = pytest.mark.integration

MIXED_KINDS = [
    behaviours.clean_close,
    behaviours.abrupt_drop,
    behaviours.midreply_close,
    behaviours.audio_drop,
    behaviours.interrupt_close,
]


def run_sessions(server, behaviour, count: int) -> None:
    for _ in range(count):
        behaviour(server.client(), lambda name, ms: None)


def test_fifty_mixed_sessions_leave_nothing(server) -> None:
    """After 50 sessions of five closing styles every per-client gauge is 0 again and the
    asyncio task count is back to its idle value."""
    idle = server.quiet_gauges()
    for i in range(50):
        MIXED_KINDS[i % len(MIXED_KINDS)](server.client(), lambda name, ms: None)
    after = server.quiet_gauges()
    assert {name: after[name] for name in PER_CLIENT} == dict.fromkeys(PER_CLIENT, 0.0)
    assert after["chat_asyncio_tasks"] == idle["chat_asyncio_tasks"]
    assert after["chat_sessions_total"] == 50
    assert after["process_open_fds"] == idle["process_open_fds"]


@pytest.mark.parametrize(
    ("fault", "behaviour", "gauge", "per_session"),
    [
        ("buffers", behaviours.audio_drop, "chat_audio_buffer_bytes", 4 * len(behaviours.AUDIO)),
        ("buffers", behaviours.reconnect_storm, "chat_audio_buffers", 1),
        ("heartbeats", behaviours.reconnect_storm, "chat_heartbeats", 1),
        ("handlers", behaviours.reconnect_storm, "chat_message_handler_clients", 1),
        ("wakeword", behaviours.reconnect_storm, "chat_wake_word_clients", 1),
        ("contexts", behaviours.clean_close, "chat_tts_workers", 1),
        ("contexts", behaviours.clean_close, "chat_log_handles", 1),
        ("contexts", behaviours.clean_close, "process_open_fds", 1),
        ("memory", behaviours.clean_close, "chat_agent_memory_messages", 2),
        ("tasks", behaviours.midreply_close, "chat_asyncio_tasks", 1),
    ],
)
def test_fault_makes_its_gauge_grow_with_sessions(
    start_server, fault, behaviour, gauge, per_session
) -> None:
    """Each fault's own gauge grows by a fixed amount per session."""
    server = start_server(fault)
    before = server.quiet_gauges()[gauge]
    run_sessions(server, behaviour, 4)
    middle = server.quiet_gauges()[gauge]
    run_sessions(server, behaviour, 4)
    after = server.quiet_gauges()[gauge]
    assert middle - before == 4 * per_session
    assert after - middle == 4 * per_session


@pytest.mark.parametrize("fault", ["buffers", "heartbeats", "wakeword", "contexts"])
def test_fault_changes_nothing_else(start_server, fault) -> None:
    """A fault leaks its own state only: the other per-client gauges still return to 0."""
    server = start_server(fault)
    run_sessions(server, behaviours.clean_close, 3)
    after = server.quiet_gauges()
    own = {
        "buffers": {"chat_audio_buffers"},
        "heartbeats": {"chat_heartbeats"},
        "wakeword": {"chat_wake_word_clients"},
        "contexts": {"chat_tts_workers", "chat_log_handles"},
    }[fault]
    others = {name: after[name] for name in PER_CLIENT if name not in own}
    assert others == dict.fromkeys(others, 0.0)
    assert all(after[name] == 3 for name in own)
