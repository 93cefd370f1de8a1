"""ServiceContext: what one client owns while connected (agent, TTS worker, log handle)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .agent import Agent, burn

logger = logging.getLogger("server.context")


class Resources:
    """Ground-truth accounting of live per-client resources, Uvicorn-style sets."""

    def __init__(self) -> None:
        self.tts_workers: set[asyncio.Task[None]] = set()
        self.log_handles: set[IO[str]] = set()
        self.turns: set[asyncio.Task[None]] = set()

    def track_turn(self, task: asyncio.Task[None]) -> None:
        """Hold a strong reference to every running turn (asyncio keeps only weak ones)."""
        self.turns.add(task)
        task.add_done_callback(self.turns.discard)


class TTSWorker:
    """A per-client task that turns sentences into volume envelopes, one at a time."""

    def __init__(
        self, resources: Resources, log: Callable[[str], None] | None = None, cpu_ms: float = 0.2
    ) -> None:
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[list[float]]]] = asyncio.Queue()
        self._cpu_ms = cpu_ms
        self._resources = resources
        self._log = log  # the owner's log: a worker left running keeps its owner alive
        self.task = asyncio.create_task(self._run(), name="tts-worker")
        resources.tts_workers.add(self.task)
        self.task.add_done_callback(resources.tts_workers.discard)

    async def _run(self) -> None:
        while True:
            sentence, future = await self._queue.get()
            burn(self._cpu_ms / 1e3)
            volumes = [round(abs(math.sin(i + len(sentence))), 3) for i in range(8)]
            if self._log is not None:
                self._log(f"tts {len(sentence)} chars")
            if not future.done():
                future.set_result(volumes)

    async def synthesize(self, sentence: str) -> list[float]:
        """The sentence's volume envelope; a closed worker gives silence."""
        if self.task.done():
            return []
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        await self._queue.put((sentence, future))
        return await future

    async def close(self) -> None:
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_result([])
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class ServiceContext:
    """Agent, TTS worker and log handle of one client; close() releases all of them."""

    def __init__(
        self,
        client_uid: str,
        agent: Agent,
        resources: Resources,
        log_dir: Path,
        owns_memory: bool = True,
    ) -> None:
        self.client_uid = client_uid
        self.agent = agent
        self.owns_memory = owns_memory
        self._resources = resources
        self.log: IO[str] = open(log_dir / f"client-{client_uid}.log", "a", encoding="utf-8")
        self.tts = TTSWorker(resources, log=self.log_event)
        resources.log_handles.add(self.log)
        self.log.write(f"connected {client_uid}\n")
        self.closed = False

    def log_event(self, text: str) -> None:
        if not self.log.closed:
            self.log.write(text + "\n")

    async def close(self) -> None:
        """Stop the TTS worker, reset the memory, close the log handle."""
        if self.closed:
            return
        self.closed = True
        await self.tts.close()
        if self.owns_memory:
            self.agent.memory.reset()
        self.log.write(f"closed {self.client_uid}\n")
        self.log.close()
        self._resources.log_handles.discard(self.log)
