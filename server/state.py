"""Per-client state and the seed's cleanup order.

The dictionaries carry the names the seed's `websocket_handler.py` gives them, so a log
line or a gauge maps straight back to the incident. No sockets here: the handler does I/O.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .agent import Memory, burn
from .context import Resources, ServiceContext
from .faults import Faults

logger = logging.getLogger("server.state")

TURN_CANCEL_TIMEOUT = 2.0


async def cancel_and_wait(task: asyncio.Task[None], timeout: float = TURN_CANCEL_TIMEOUT) -> None:
    """Cancel a turn and wait for it to end, at most `timeout`; our own cancel still propagates."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        logger.warning("  task %s did not end within %.1f s of cancel", task.get_name(), timeout)
    elif not task.cancelled() and task.exception() is not None:
        logger.warning("  task %s failed while cancelling: %s", task.get_name(), task.exception())


class MessageHandler:
    """Per-client waiters for frames a turn waits on (e.g. frontend-playback-complete)."""

    def __init__(self, dispatch_cost_us: float = 100.0) -> None:
        self._clients: dict[str, dict[str, asyncio.Event]] = {}
        self._dispatch_cost_us = dispatch_cost_us

    def register(self, client_uid: str) -> None:
        self._clients[client_uid] = {}

    def dispatch(self, client_uid: str, message_type: str) -> None:
        """Wake whoever waits on this frame. Walks every entry, as upstream's loop does."""
        for uid, waiters in self._clients.items():
            burn(self._dispatch_cost_us / 1e6)
            if uid == client_uid and message_type in waiters:
                waiters[message_type].set()

    async def wait_for(self, client_uid: str, message_type: str, timeout: float) -> bool:
        """Wait for `message_type` from this client; False on timeout."""
        waiters = self._clients.get(client_uid)
        if waiters is None:
            return False
        event = waiters.setdefault(message_type, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            current = self._clients.get(client_uid)
            if current is not None:
                current.pop(message_type, None)

    def cleanup_client(self, client_uid: str) -> None:
        waiters = self._clients.pop(client_uid, None) or {}
        for event in waiters.values():
            event.set()

    def __len__(self) -> int:
        return len(self._clients)


@dataclass
class WakeWordState:
    """What a wake-word detector keeps per client: a short rolling window of audio."""

    window: list[float] = field(default_factory=lambda: [0.0] * 1600)
    triggered: int = 0


class WakeWordManager:
    def __init__(self) -> None:
        self._clients: dict[str, WakeWordState] = {}

    def register(self, client_uid: str) -> None:
        self._clients[client_uid] = WakeWordState()

    def cleanup_client(self, client_uid: str) -> None:
        self._clients.pop(client_uid, None)

    def __len__(self) -> int:
        return len(self._clients)


class ChatState:
    """Everything the server keeps per client, and the order it is given back in."""

    def __init__(self, faults: Faults, resources: Resources | None = None) -> None:
        self.faults = faults
        self.resources = resources or Resources()
        self.client_connections: dict[str, Any] = {}
        self.client_contexts: dict[str, ServiceContext] = {}
        self.current_conversation_tasks: dict[str, asyncio.Task[None]] = {}
        self.received_data_buffers: dict[str, array[float]] = {}
        self._last_heartbeat: dict[str, float] = {}
        self.message_handler = MessageHandler()
        self.wake_word_manager = WakeWordManager()
        self.sessions_total = 0
        self.turns_total = 0
        self.turns_cancelled_on_disconnect = 0
        self.frames: Counter[str] = Counter()
        self.disconnects: Counter[str] = Counter()
        self.shared_memory = Memory() if "memory" in faults else None

    def new_memory(self) -> Memory:
        """A fresh memory per client; under the memory fault, the one shared memory."""
        return self.shared_memory if self.shared_memory is not None else Memory()

    def connect(self, client_uid: str, connection: Any, context: ServiceContext) -> None:
        self.sessions_total += 1
        self.client_connections[client_uid] = connection
        self.client_contexts[client_uid] = context
        self.received_data_buffers[client_uid] = array("f")
        self._last_heartbeat[client_uid] = time.monotonic()
        self.message_handler.register(client_uid)
        self.wake_word_manager.register(client_uid)

    async def handle_disconnect(self, client_uid: str) -> None:
        """The seed's cleanup, in its order; each fault skips exactly one step."""
        log = logger.info
        log("disconnect %s: cleaning up", client_uid)

        # 1. Cancel the running turn and wait for it to finish (2 s at most).
        task = self.current_conversation_tasks.get(client_uid)
        if task is not None and not task.done() and "tasks" not in self.faults:
            log("  cancelling conversation task of %s", client_uid)
            self.turns_cancelled_on_disconnect += 1
            await cancel_and_wait(task)
        self.current_conversation_tasks.pop(client_uid, None)

        # 2. Close the ServiceContext (agent memory, TTS worker, log handle).
        if "contexts" in self.faults:
            self.client_contexts.pop(client_uid, None)  # upstream's bug: popped, then looked up
        context = self.client_contexts.get(client_uid)
        if context is not None:
            log("  closing ServiceContext of %s", client_uid)
            try:
                await context.close()
            except Exception as exc:  # noqa: BLE001
                logger.error("  closing ServiceContext of %s failed: %s", client_uid, exc)

        # 3. Pop every per-client entry.
        self.client_connections.pop(client_uid, None)
        self.client_contexts.pop(client_uid, None)
        if "buffers" not in self.faults:
            self.received_data_buffers.pop(client_uid, None)
        if "heartbeats" not in self.faults:
            self._last_heartbeat.pop(client_uid, None)

        # 4. Clean the external managers.
        if "handlers" not in self.faults:
            self.message_handler.cleanup_client(client_uid)
            log("  cleaned message_handler for %s", client_uid)
        if "wakeword" not in self.faults:
            self.wake_word_manager.cleanup_client(client_uid)
            log("  cleaned wake_word_manager for %s", client_uid)

        log("disconnect %s: done, %d clients left", client_uid, len(self.client_connections))

        # 5. When the last client leaves, look for residue and clear it.
        if not self.client_connections:
            self.sweep_residue()

    def sweep_residue(self) -> None:
        """Log and clear whatever outlived its client (the fix's safety net)."""
        sweeps: list[tuple[str, dict[str, Any], str]] = [
            ("tasks", self.current_conversation_tasks, "conversation tasks"),
            ("buffers", self.received_data_buffers, "audio buffers"),
            ("heartbeats", self._last_heartbeat, "heartbeat records"),
        ]
        for fault, table, what in sweeps:
            if table and fault not in self.faults:
                logger.warning("residue after last client: %s %s", what, list(table))
                table.clear()

    def gauges(self) -> dict[str, float]:
        """The per-client figures the harness samples, by their metric names."""
        memories = {id(c.agent.memory): len(c.agent.memory) for c in self.client_contexts.values()}
        if self.shared_memory is not None:
            memories[id(self.shared_memory)] = len(self.shared_memory)
        return {
            "chat_clients": len(self.client_connections),
            "chat_contexts": len(self.client_contexts),
            "chat_conversation_tasks": len(self.current_conversation_tasks),
            "chat_audio_buffers": len(self.received_data_buffers),
            "chat_audio_buffer_bytes": sum(
                len(b) * b.itemsize for b in self.received_data_buffers.values()
            ),
            "chat_heartbeats": len(self._last_heartbeat),
            "chat_message_handler_clients": len(self.message_handler),
            "chat_wake_word_clients": len(self.wake_word_manager),
            "chat_agent_memory_messages": sum(memories.values()),
            "chat_tts_workers": len(self.resources.tts_workers),
            "chat_log_handles": len(self.resources.log_handles),
            "chat_sessions_total": self.sessions_total,
        }
