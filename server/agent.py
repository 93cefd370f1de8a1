"""The reply generator: a latency model shaped like a real LLM behind a chat server.

A turn costs a prefill that grows with the prompt (system prompt + this client's memory)
and a decode delay per sentence. Part of that time is spent *on the event loop* (prompt
assembly, tokenisation, TTS post-processing), the way a real server spends it, so leaked
work on the loop slows every other client, as in the incident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from .llm import split_sentences, stream_chat

SYSTEM_PROMPT = (
    "You are a friendly voice companion. Answer briefly, in short spoken sentences, "
    "and keep the conversation going. " * 8
)


def burn(seconds: float) -> None:
    """Hold the event loop for `seconds` of wall time: the model of CPU-bound work."""
    if seconds <= 0:
        return
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def count_tokens(text: str) -> int:
    """A whitespace tokeniser: crude, but real work proportional to the prompt."""
    return len(text.split())


@dataclass
class LatencyModel:
    """Timing of one reply. Defaults give a whole reply in a few tens of milliseconds."""

    prefill_base_ms: float = 2.0
    prefill_us_per_token: float = 15.0
    decode_ms_per_sentence: float = 4.0
    loop_cpu_fraction: float = 0.25
    sentences: int = 3
    orphan_interval_ms: float = 100.0
    orphan_cpu_ms: float = 0.6

    def prefill_seconds(self, tokens: int) -> float:
        return (self.prefill_base_ms * 1e3 + self.prefill_us_per_token * tokens) / 1e6

    def decode_seconds(self) -> float:
        return self.decode_ms_per_sentence / 1e3


@dataclass
class Memory:
    """A conversation memory: the messages the prompt is built from."""

    messages: list[dict[str, str]] = field(default_factory=list)

    def add(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})

    def reset(self) -> None:
        self.messages.clear()

    def __len__(self) -> int:
        return len(self.messages)


def reply_sentences(text: str, count: int) -> list[str]:
    """The canned reply: deterministic so tests can check it."""
    heard = " ".join(text.split()[:12]) or "nothing"
    pool = [
        f"You said: {heard}.",
        "That is an interesting thought.",
        "Tell me more about it.",
        "I am listening.",
        "Let us keep talking.",
    ]
    return [pool[i % len(pool)] for i in range(max(1, count))]


class Agent:
    """Streams a reply sentence by sentence and remembers the exchange."""

    def __init__(self, model: LatencyModel, memory: Memory, llm_url: str | None = None) -> None:
        self.model = model
        self.memory = memory
        self.llm_url = llm_url

    def prompt_tokens(self) -> int:
        prompt = SYSTEM_PROMPT + "\n".join(m["content"] for m in self.memory.messages)
        return count_tokens(prompt)

    async def prefill(self) -> None:
        tokens = self.prompt_tokens()
        seconds = self.model.prefill_seconds(tokens)
        burn(seconds * self.model.loop_cpu_fraction)
        await asyncio.sleep(seconds * (1 - self.model.loop_cpu_fraction))

    async def decode_one(self) -> None:
        seconds = self.model.decode_seconds()
        burn(seconds * self.model.loop_cpu_fraction)
        await asyncio.sleep(seconds * (1 - self.model.loop_cpu_fraction))

    async def stream(self, text: str) -> AsyncIterator[str]:
        """Yield the reply's sentences; the exchange is stored in memory as it goes."""
        self.memory.add("user", text)
        said: list[str] = []
        try:
            source = self.from_llm() if self.llm_url else self.from_model(text)
            async for sentence in source:
                said.append(sentence)
                yield sentence
        finally:
            if said:
                self.memory.add("assistant", " ".join(said))

    async def from_model(self, text: str) -> AsyncIterator[str]:
        await self.prefill()
        for sentence in reply_sentences(text, self.model.sentences):
            await self.decode_one()
            yield sentence

    async def from_llm(self) -> AsyncIterator[str]:
        """The reply of a real (or fake) model: the prompt is the system prompt + memory."""
        tokens = self.prompt_tokens()  # building the prompt is work on the loop
        burn(self.model.prefill_seconds(tokens) * self.model.loop_cpu_fraction)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *self.memory.messages]
        buffer = ""
        assert self.llm_url is not None
        async for delta in stream_chat(self.llm_url, messages):
            buffer += delta
            sentences, buffer = split_sentences(buffer)
            for sentence in sentences:
                yield sentence
        if buffer.strip():
            yield buffer.strip()

    async def keep_generating(self) -> None:
        """An LLM stream that never ends: what an orphaned turn does under the tasks fault."""
        while True:
            burn(self.model.orphan_cpu_ms / 1e3)
            await asyncio.sleep(self.model.orphan_interval_ms / 1e3)
