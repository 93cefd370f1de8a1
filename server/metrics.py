"""Prometheus exposition of ChatState, plus the standard process collector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .state import ChatState

HELP = {
    "chat_clients": "Connected clients (client_connections)",
    "chat_contexts": "Live ServiceContexts (client_contexts)",
    "chat_conversation_tasks": "Entries in current_conversation_tasks",
    "chat_audio_buffers": "Entries in received_data_buffers",
    "chat_audio_buffer_bytes": "Bytes of buffered mic audio",
    "chat_heartbeats": "Entries in _last_heartbeat",
    "chat_message_handler_clients": "Clients known to the message handler",
    "chat_wake_word_clients": "Clients known to the wake-word manager",
    "chat_agent_memory_messages": "Messages held in agent memories",
    "chat_tts_workers": "Running TTS worker tasks",
    "chat_log_handles": "Open per-client log handles",
}


def resources(state: ChatState) -> dict[str, Any]:
    """Everything /metrics reports about the chat state, as one flat dict."""
    figures: dict[str, Any] = dict(state.gauges())
    figures["chat_asyncio_tasks"] = len(asyncio.all_tasks())
    return figures


class StateCollector(Collector):
    def __init__(self, state: ChatState) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        figures = resources(self.state)
        for name, help_text in HELP.items():
            yield GaugeMetricFamily(name, help_text, value=figures[name])
        yield GaugeMetricFamily(
            "chat_asyncio_tasks", "Live asyncio tasks in the server", value=figures["chat_asyncio_tasks"]
        )
        state = self.state
        yield CounterMetricFamily(
            "chat_sessions", "Client sessions accepted", value=figures["chat_sessions_total"]
        )
        yield CounterMetricFamily("chat_turns", "Conversation turns started", value=state.turns_total)
        yield CounterMetricFamily(
            "chat_turns_cancelled_on_disconnect", "Turns still running when their client left",
            value=state.turns_cancelled_on_disconnect,
        )
        frames = CounterMetricFamily("chat_frames", "Valid client frames by type", labels=["type"])
        for kind, count in sorted(state.frames.items()):
            frames.add_metric([kind], count)
        yield frames
        disconnects = CounterMetricFamily(
            "chat_disconnects", "Disconnects: clean (close frame) or abrupt (none)", labels=["kind"]
        )
        for kind in ("clean", "abrupt"):
            disconnects.add_metric([kind], state.disconnects[kind])
        yield disconnects


def make_registry(state: ChatState) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(state))
    ProcessCollector(registry=registry)
    return registry


def metrics_text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def debug_resources(state: ChatState) -> dict[str, Any]:
    """The /debug/resources document: the gauges plus the process as psutil sees it."""
    proc = psutil.Process()
    figures = resources(state)
    figures.update(
        process_resident_memory_bytes=proc.memory_info().rss,
        process_open_fds=proc.num_fds(),
        process_threads=proc.num_threads(),
        faults=sorted(state.faults.enabled),
    )
    return figures
