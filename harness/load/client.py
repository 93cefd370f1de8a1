"""A synchronous client of the chat protocol (../PROTOCOL.md), on websockets.sync.

Used by the Locust scenarios (it works under gevent's patching), by the probe and by the
tests. Every failure is a `SessionError` carrying a short, fixed reason so failures can
be counted by kind.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from harness.options import REPLY_TIMEOUT_S

Frame = dict[str, Any]
MAX_FRAME_BYTES = 4 << 20  # a frame from the server larger than this ends the session


class SessionError(Exception):
    """A session step failed; `reason` is short and stable (it is used as a counter key)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class TurnTiming:
    """How one conversation turn went, in milliseconds from sending the input."""

    first_token_ms: float | None = None
    reply_ms: float | None = None
    frames: list[Frame] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return [f["display_text"]["text"] for f in self.frames if f.get("type") == "audio"]


def now_ms() -> float:
    return time.perf_counter() * 1000.0


class ChatClient:
    """One client connection. Steps raise SessionError; `close` and `drop` never raise."""

    def __init__(self, url: str, timeout: float = REPLY_TIMEOUT_S, origin: str | None = None,
                 trace: Callable[[str, object, str], None] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.origin = origin
        self.trace = trace  # hears each frame sent ("->") and received ("<-"), with what it was for
        self.ws: ClientConnection | None = None
        self.client_uid: str | None = None
        self.greeting: list[Frame] = []
        self.first_audio: Frame | None = None  # the current turn's first sentence

    def connect(self) -> float:
        """Open the socket and read the three greeting frames; returns the time taken in ms."""
        start = now_ms()
        try:
            self.ws = connect(  # type: ignore[call-overload]
                self.url,
                open_timeout=self.timeout,
                close_timeout=2,
                proxy=None,
                origin=self.origin,
                max_size=MAX_FRAME_BYTES,
                legacy=True,  # we own the connection's lifetime: close() / drop()
            )
        except (OSError, TimeoutError) as exc:
            raise SessionError("connect failed", f"{self.url}: {exc}") from None
        except (InvalidHandshake, InvalidURI) as exc:
            raise SessionError("handshake rejected", f"{self.url}: {exc}") from None
        self.greeting = self.read_until(lambda f: f == {"type": "control", "text": "start-mic"})
        for frame in self.greeting:
            if frame.get("type") == "set-model-and-conf":
                self.client_uid = frame.get("client_uid")
        return now_ms() - start

    def send(self, frame: Frame) -> None:
        assert self.ws is not None, "connect() first"
        try:
            self.ws.send(json.dumps(frame))
        except ConnectionClosed as exc:
            raise SessionError("closed by server", str(exc)) from None
        if self.trace:
            self.trace("->", frame, "")

    def recv(self, timeout: float | None = None) -> Frame:
        assert self.ws is not None, "connect() first"
        try:
            raw = self.ws.recv(timeout=self.timeout if timeout is None else timeout)
        except TimeoutError:
            raise SessionError("reply timeout", f"no frame within {timeout or self.timeout:.3g} s") from None
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                raise SessionError("oversized frame", f"a frame over {MAX_FRAME_BYTES} bytes") from None
            raise SessionError("closed by server", str(exc)) from None
        try:
            frame = json.loads(raw)
        except (TypeError, ValueError):
            raise SessionError("frame is not JSON", f"{str(raw)[:80]!r}") from None
        if not isinstance(frame, dict):
            raise SessionError("unexpected frame", f"frame is not a JSON object: {str(raw)[:80]!r}")
        if self.trace:
            self.trace("<-", frame, "")
        return frame

    def read_until(self, done: Callable[[Frame], bool], timeout: float | None = None) -> list[Frame]:
        """Read frames until `done(frame)`; all frames read, the last one included."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        frames: list[Frame] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError("reply timeout", f"expected frame not seen within {limit} s")
            try:
                frame = self.recv(timeout=left)
            except SessionError as exc:
                if exc.reason == "reply timeout":
                    raise SessionError("reply timeout", f"expected frame not seen within {limit} s") from None
                raise
            frames.append(frame)
            if done(frame):
                return frames

    def start_turn(self, text: str) -> float:
        self.send({"type": "text-input", "text": text})
        return now_ms()

    def finish_turn(self, started_ms: float, answer_playback: bool = True) -> TurnTiming:
        """Read a turn to `conversation-chain-end`, answering backend-synth-complete."""
        timing = TurnTiming()
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(
                    "reply timeout", f"no conversation-chain-end within {self.timeout} s"
                )
            try:
                frame = self.recv(timeout=left)
            except SessionError as exc:
                if exc.reason == "reply timeout":  # said of the whole turn, not of its last wait
                    raise SessionError("reply timeout", f"no conversation-chain-end within {self.timeout} s") from None
                raise
            timing.frames.append(frame)
            kind = frame.get("type")
            if kind == "audio" and timing.first_token_ms is None:
                timing.first_token_ms = now_ms() - started_ms
            elif kind == "backend-synth-complete" and answer_playback:
                self.send({"type": "frontend-playback-complete"})
            elif kind == "error":
                raise SessionError("server error", str(frame.get("message")))
            elif kind == "control" and frame.get("text") == "conversation-chain-end":
                timing.reply_ms = now_ms() - started_ms
                return timing

    def turn(self, text: str) -> TurnTiming:
        return self.finish_turn(self.start_turn(text))

    def wait_first_audio(self) -> Frame:
        frames = self.read_until(lambda f: f.get("type") in ("audio", "error"))
        if frames[-1].get("type") == "error":
            raise SessionError("server error", str(frames[-1].get("message")))
        self.first_audio = frames[-1]
        return frames[-1]

    # The steps every protocol's session has (protocols/__init__.py), in this protocol's frames.

    def wait_first_token(self) -> Frame:
        return self.wait_first_audio()

    def interrupt(self) -> None:
        """Interrupt the reply, saying what was heard of it: its first sentence."""
        heard = (self.first_audio or {}).get("display_text", {}).get("text", "")
        self.send({"type": "interrupt-signal", "text": heard})

    def heartbeat(self) -> None:
        self.request({"type": "heartbeat"}, "heartbeat-ack")

    def page_requests(self) -> None:
        """What the web page asks for when it opens: configs, history, a new history."""
        self.request({"type": "fetch-configs"}, "config-files")
        self.request({"type": "fetch-history-list"}, "history-list")
        self.request({"type": "create-new-history"}, "new-history-created")

    def send_audio(self, samples: list[float], chunk: int = 4000) -> None:
        for i in range(0, len(samples), chunk):
            self.send({"type": "mic-audio-data", "audio": samples[i : i + chunk]})

    def request(self, frame: Frame, answer_type: str) -> Frame:
        """Send a frame and read until the answer of `answer_type` (or an error)."""
        self.send(frame)
        frames = self.read_until(lambda f: f.get("type") in (answer_type, "error"))
        if frames[-1].get("type") == "error":
            raise SessionError("server error", str(frames[-1].get("message")))
        return frames[-1]

    def close(self) -> float:
        """A clean close handshake; returns its time in ms."""
        start = now_ms()
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - close is best effort by contract
                pass
        return now_ms() - start

    def drop(self) -> None:
        """Cut the TCP connection with no close frame, as a killed browser tab does."""
        if self.ws is not None:
            cut(self.ws)


def cut(ws: ClientConnection) -> None:
    """Cut a connection's TCP with no close frame (a killed tab; shared with framed.py)."""
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    ws.close_socket()
