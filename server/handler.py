"""The receive loop of one client: reads frames, updates ChatState, sends replies."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from .agent import Agent, LatencyModel
from .context import ServiceContext
from .llm import LLMError
from .state import ChatState, cancel_and_wait

logger = logging.getLogger("server.handler")

SAMPLE_RATE = 16_000
# Bounds on what one frame may hold (the frame's size is bounded by app.MAX_FRAME_BYTES).
MAX_DEPTH = 32  # JSON nesting
MAX_TEXT_CHARS = 16_384  # text-input
MAX_INT_DIGITS = 64  # JSON integers


@dataclass
class HandlerConfig:
    """Limits and timings of the protocol handler."""

    model: LatencyModel = field(default_factory=LatencyModel)
    log_dir: Path = Path(".")
    playback_timeout: float = 10.0
    audio_buffer_cap: int = 30 * SAMPLE_RATE
    turns_per_second: float = 10.0
    llm_url: str | None = None


class TurnRateLimit:
    """A token bucket: a flood of text-inputs is refused instead of queued."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class BadFrame(ValueError):
    """A frame the client should be told about in an `error` frame."""


def is_number_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    )


def _no_constant(name: str) -> Any:
    raise BadFrame(f"frame is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadFrame(f"frame holds a number out of range: {text[:40]}")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadFrame(f"frame holds an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_frame(raw: str) -> dict[str, Any]:
    """A client frame as a JSON object, within the bounds above; BadFrame says what is wrong.
    Python's json accepts NaN, Infinity and numbers that overflow to inf; JSON does not."""
    try:
        frame = json.loads(raw, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise BadFrame(f"frame is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise BadFrame(f"frame nests JSON deeper than {MAX_DEPTH} levels") from None
    if not isinstance(frame, dict):
        raise BadFrame(f"frame must be a JSON object, got {type(frame).__name__}")
    if depth(frame) > MAX_DEPTH:
        raise BadFrame(f"frame nests JSON deeper than {MAX_DEPTH} levels")
    return frame


def bad_sample(audio: list[float]) -> int | None:
    """The index of the first audio sample outside [-1, 1] (float32 PCM), or None."""
    for index, sample in enumerate(audio):
        if not -1.0 <= sample <= 1.0:
            return index
    return None


class ClientSession:
    """One connected client: its frames in, its replies out."""

    def __init__(self, ws: ServerConnection, state: ChatState, config: HandlerConfig) -> None:
        self.ws = ws
        self.state = state
        self.config = config
        self.uid = str(uuid.uuid4())
        self.gone = False
        self.limit = TurnRateLimit(config.turns_per_second)
        self.histories: list[str] = []
        agent = Agent(config.model, state.new_memory(), config.llm_url)
        self.context = ServiceContext(
            self.uid,
            agent,
            state.resources,
            config.log_dir,
            owns_memory=state.shared_memory is None,
        )

    async def send(self, frame: dict[str, Any]) -> None:
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            if "tasks" in self.state.faults:
                self.gone = True  # pre-fix: fire-and-forget sends hide that the client left
                return
            raise

    async def run(self) -> None:
        self.state.connect(self.uid, self.ws, self.context)
        logger.info("connect %s", self.uid)
        try:
            await self.send({"type": "full-text", "text": "Connection established"})
            await self.send(
                {
                    "type": "set-model-and-conf",
                    "model_info": {"name": "bundled", "url": ""},
                    "conf_name": "bundled",
                    "conf_uid": "bundled-conf",
                    "client_uid": self.uid,
                }
            )
            await self.send({"type": "control", "text": "start-mic"})
            async for message in self.ws:
                if isinstance(message, bytes):
                    await self.error("binary frames are not supported; send JSON text frames")
                    continue
                try:
                    await self.on_frame(message)
                except BadFrame as exc:
                    await self.error(str(exc))
        except ConnectionClosed:
            pass
        finally:
            clean = self.ws.protocol.close_rcvd is not None
            self.state.disconnects["clean" if clean else "abrupt"] += 1
            await self.state.handle_disconnect(self.uid)

    async def error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    async def on_frame(self, raw: str) -> None:
        frame = parse_frame(raw)
        kind = frame.get("type")
        if not isinstance(kind, str) or kind not in FRAME_HANDLERS:
            raise BadFrame(f"unknown message type {kind!r}")
        handler = FRAME_HANDLERS[kind]
        self.state.frames[kind] += 1
        self.state.message_handler.dispatch(self.uid, kind)
        await handler(self, frame)

    # -- frame handlers ---------------------------------------------------------------

    async def on_text_input(self, frame: dict[str, Any]) -> None:
        text = frame.get("text")
        if not isinstance(text, str):
            raise BadFrame("text-input: 'text' must be a string")
        if len(text) > MAX_TEXT_CHARS:
            raise BadFrame(f"text-input: 'text' is {len(text)} characters; at most {MAX_TEXT_CHARS}")
        if not self.limit.allow():
            raise BadFrame(
                f"text-input flood: at most {self.config.turns_per_second:g} turns per second;"
                " frame ignored"
            )
        await self.start_turn(text)

    async def on_audio_data(self, frame: dict[str, Any]) -> None:
        audio = frame.get("audio")
        if not isinstance(audio, list) or not is_number_list(audio):
            raise BadFrame("mic-audio-data: 'audio' must be a list of numbers")
        index = bad_sample(audio)
        if index is not None:
            raise BadFrame(
                f"mic-audio-data: sample {index} is {audio[index]!r}; samples are float32 PCM in [-1, 1]; "
                "frame dropped"
            )
        buffer = self.state.received_data_buffers.get(self.uid)
        if buffer is None:
            return
        cap = self.config.audio_buffer_cap
        if len(buffer) + len(audio) > cap:
            raise BadFrame(
                f"audio buffer full ({cap} samples, {cap / SAMPLE_RATE:g} s); "
                "send mic-audio-end first; frame dropped"
            )
        buffer.extend(audio)

    async def on_audio_end(self, frame: dict[str, Any]) -> None:
        buffer = self.state.received_data_buffers.get(self.uid)
        samples = len(buffer) if buffer is not None else 0
        text = f"(heard {samples} samples, {samples / SAMPLE_RATE:.2f} s of audio)"
        await self.send({"type": "user-input-transcription", "text": text})
        if buffer is not None:
            del buffer[:]
        await self.start_turn(text)

    async def on_interrupt(self, frame: dict[str, Any]) -> None:
        task = self.state.current_conversation_tasks.get(self.uid)
        if task is None or task.done():
            raise BadFrame("interrupt-signal: no conversation turn is running")
        await cancel_and_wait(task)
        heard = frame.get("text") if isinstance(frame.get("text"), str) else ""
        self.context.agent.memory.add("assistant", f"{heard} [Interrupted by user]")

    async def on_playback_complete(self, frame: dict[str, Any]) -> None:
        pass  # dispatch() already woke the waiting turn

    async def on_heartbeat(self, frame: dict[str, Any]) -> None:
        self.state._last_heartbeat[self.uid] = time.monotonic()
        await self.send({"type": "heartbeat-ack"})

    async def on_fetch_configs(self, frame: dict[str, Any]) -> None:
        await self.send(
            {"type": "config-files", "configs": [{"filename": "conf.yaml", "name": "bundled"}]}
        )

    async def on_fetch_history_list(self, frame: dict[str, Any]) -> None:
        histories = [{"uid": uid, "latest_message": None} for uid in self.histories]
        await self.send({"type": "history-list", "histories": histories})

    async def on_create_history(self, frame: dict[str, Any]) -> None:
        history_uid = uuid.uuid4().hex
        self.histories.append(history_uid)
        await self.send({"type": "new-history-created", "history_uid": history_uid})

    # -- conversation turns -----------------------------------------------------------

    async def start_turn(self, text: str) -> None:
        running = self.state.current_conversation_tasks.get(self.uid)
        if running is not None and not running.done():
            await cancel_and_wait(running)
        self.state.turns_total += 1
        task = asyncio.create_task(self.turn(text), name=f"turn-{self.uid}")
        self.state.resources.track_turn(task)
        self.state.current_conversation_tasks[self.uid] = task

    async def turn(self, text: str) -> None:
        agent = self.context.agent
        self.context.log_event(f"turn {len(text)} chars")
        try:
            await self.send({"type": "control", "text": "conversation-chain-start"})
            await self.send({"type": "full-text", "text": "Thinking..."})
            async for sentence in agent.stream(text):
                volumes = await self.context.tts.synthesize(sentence)
                await self.send(
                    {
                        "type": "audio",
                        "audio": None,
                        "volumes": volumes,
                        "slice_length": 20,
                        "display_text": {"text": sentence, "name": "bundled", "avatar": ""},
                        "actions": None,
                        "forwarded": False,
                    }
                )
            await self.send({"type": "backend-synth-complete"})
            if not self.gone:
                await self.state.message_handler.wait_for(
                    self.uid, "frontend-playback-complete", self.config.playback_timeout
                )
            await self.send({"type": "force-new-message"})
            await self.send({"type": "control", "text": "conversation-chain-end"})
        except ConnectionClosed:  # its client left while it still had frames to send
            self.state.turns_cancelled_on_disconnect += 1  # ended here, so the cleanup finds it done
            return
        except LLMError as exc:
            logger.warning("turn of %s: %s", self.uid, exc)
            await self.send({"type": "error", "message": str(exc)})
            return
        if self.gone:
            await agent.keep_generating()


FRAME_HANDLERS = {
    "text-input": ClientSession.on_text_input,
    "mic-audio-data": ClientSession.on_audio_data,
    "mic-audio-end": ClientSession.on_audio_end,
    "interrupt-signal": ClientSession.on_interrupt,
    "frontend-playback-complete": ClientSession.on_playback_complete,
    "heartbeat": ClientSession.on_heartbeat,
    "fetch-configs": ClientSession.on_fetch_configs,
    "fetch-history-list": ClientSession.on_fetch_history_list,
    "create-new-history": ClientSession.on_create_history,
}

