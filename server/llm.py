"""Stream a reply from an OpenAI-compatible /chat/completions endpoint (e.g. harness fake-llm).

The HTTP call runs in a thread (the stdlib client is blocking) and hands content deltas
to the event loop through a queue.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import AsyncIterator


class LLMError(RuntimeError):
    """The model endpoint failed or answered something that is not a chat stream."""


def read_stream(url: str, messages: list[dict[str, str]], timeout: float, put: object) -> None:
    request = urllib.request.Request(
        url.rstrip("/") + "/chat/completions",
        data=json.dumps({"model": "bundled", "messages": messages, "stream": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            delta = json.loads(payload)["choices"][0].get("delta", {}).get("content")
            if delta:
                put(delta)  # type: ignore[operator]


async def stream_chat(url: str, messages: list[dict[str, str]], timeout: float = 30.0) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()

    def put(item: str | BaseException | None) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def worker() -> None:
        try:
            read_stream(url, messages, timeout, put)
        except Exception as exc:  # noqa: BLE001 - handed to the loop, raised there
            put(exc)
        finally:
            put(None)

    threading.Thread(target=worker, name="llm-stream", daemon=True).start()
    while True:
        item = await queue.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise LLMError(f"LLM endpoint {url} failed: {item}") from item
        yield item


def split_sentences(buffer: str) -> tuple[list[str], str]:
    """Complete sentences in `buffer`, and the unfinished rest."""
    sentences = []
    start = 0
    for i, char in enumerate(buffer):
        if char in ".!?" and (i + 1 == len(buffer) or buffer[i + 1] == " "):
            if i + 1 < len(buffer):
                sentences.append(buffer[start : i + 1].strip())
                start = i + 1
    return [s for s in sentences if s], buffer[start:]
