"""A client of a JSON- or text-framed chat, as its profile (profile.py) declares it, on
websockets.sync (it works under Locust's gevent). Its steps are those of the bundled
protocol's client (client.py), so the behaviours run on either; failures are SessionErrors
with the same short reasons.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from harness.load.client import MAX_FRAME_BYTES, SessionError, TurnTiming, cut, now_ms
from harness.load.protocols.profile import Frame, Profile, fill
from harness.options import REPLY_TIMEOUT_S

Trace = Callable[[str, object, str], None]  # (direction "->" / "<-", frame, what it matched)


class FramedClient:
    """One connection to a profiled chat server. Steps raise SessionError; `close` and
    `drop` never raise. `trace`, if given, hears every frame sent and received."""

    def __init__(self, profile: Profile, url: str, timeout: float = REPLY_TIMEOUT_S,
                 trace: Trace | None = None) -> None:
        self.profile = profile
        self.url = url
        self.timeout = timeout
        self.trace = trace
        self.ws: ClientConnection | None = None

    # -- frames -------------------------------------------------------------------------

    # -- the transport: one WebSocket, frames as text or JSON (socketio.py has another) ------

    def open_transport(self) -> None:
        try:
            self.ws = connect(  # type: ignore[call-overload]
                self.url, open_timeout=self.timeout, close_timeout=2, proxy=None,
                max_size=MAX_FRAME_BYTES, legacy=True,
            )
        except (OSError, TimeoutError) as exc:
            raise SessionError("connect failed", f"{self.url}: {exc}") from None
        except (InvalidHandshake, InvalidURI) as exc:
            raise SessionError("handshake rejected", f"{self.url}: {exc}") from None

    def transmit(self, frame: Frame | bytes, ack: bool = False) -> None:
        """Put one frame on the wire (`ack`: the protocol's acknowledgement is the reply)."""
        assert self.ws is not None, "connect() first"
        raw = frame if isinstance(frame, (str, bytes)) else json.dumps(frame)
        try:
            self.ws.send(raw)
        except ConnectionClosed as exc:
            raise SessionError("closed by server", str(exc)) from None

    def receive(self, timeout: float) -> Frame | None:
        """The next frame off the wire, or None for one that is no part of a reply."""
        assert self.ws is not None, "connect() first"
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            raise SessionError("reply timeout", f"no frame within {timeout:.3g} s") from None
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:
                raise SessionError("oversized frame", f"a frame over {MAX_FRAME_BYTES} bytes") from None
            raise SessionError("closed by server", str(exc)) from None
        return self.decode(raw)

    def close_transport(self) -> None:
        if self.ws is not None:
            self.ws.close()

    def drop_transport(self) -> None:
        if self.ws is not None:
            cut(self.ws)

    # -- frames -------------------------------------------------------------------------

    def send(self, frame: Frame | bytes, why: str = "", ack: bool = False) -> None:
        self.transmit(frame, ack)
        if self.trace:
            self.trace("->", frame if not isinstance(frame, bytes) else f"<{len(frame)} bytes>", why)

    def recv(self, timeout: float) -> Frame:
        """The next frame (answering those the profile replies to), as the profile frames it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError("reply timeout", f"no frame within {timeout:.3g} s")
            frame = self.receive(left)
            if frame is None:
                continue  # a binary frame: no part of a text or JSON reply
            answer = next((send for when, send in self.profile.replies if when(frame)), None)
            if self.trace:
                self.trace("<-", frame, self.label(frame))
            if answer is not None:
                self.send(answer, "automatic reply")
            if self.profile.error is not None and self.profile.error(frame):
                raise SessionError("server error", str(frame)[:200])
            return frame

    def decode(self, raw: str | bytes) -> Frame | None:
        if isinstance(raw, bytes):
            if self.trace:
                self.trace("<-", f"<{len(raw)} bytes>", "")
            return None
        if self.profile.framing == "text":
            return raw
        try:
            frame = json.loads(raw)
        except ValueError:
            raise SessionError("frame is not JSON", f"{raw[:80]!r}") from None
        if not isinstance(frame, dict):
            raise SessionError("unexpected frame", f"frame is not a JSON object: {raw[:80]!r}")
        return frame

    def label(self, frame: Frame) -> str:
        """What a received frame matched, for the trace."""
        p = self.profile
        named = [("turn.first_token", p.first_token), ("turn.end", p.end), ("turn.error", p.error),
                 ("heartbeat.await", p.heartbeat_await), *(("connect.await", m) for m in p.connect_await)]
        hits = [name for name, match in named if match is not None and match(frame)]
        hits += ["reply.when: answered" for when, _ in p.replies if when(frame)]
        return ", ".join(dict.fromkeys(hits))

    def read_until(self, done: Callable[[Frame], bool], what: str, timeout: float | None = None) -> list[Frame]:
        """Read frames until `done(frame)`; all frames read. A timeout says `what` never came."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        frames: list[Frame] = []
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise SessionError("reply timeout", "")
                frame = self.recv(left)
            except SessionError as exc:
                if exc.reason == "reply timeout":
                    raise SessionError("reply timeout", f"no {what} within {limit} s") from None
                raise
            frames.append(frame)
            if done(frame):
                return frames

    # -- the steps the behaviours take ----------------------------------------------------

    def connect(self) -> float:
        start = now_ms()
        self.open_transport()
        if self.trace:
            self.trace("--", f"connected to {self.url}", "")
        for frame in self.profile.connect_send:
            self.send(frame, "connect.send")
        for match in self.profile.connect_await:
            self.read_until(match, f"connect.await frame ({match})")
        return now_ms() - start

    def start_turn(self, text: str) -> float:
        self.send(fill(self.profile.turn_send, text=text), "turn.send", ack=self.profile.turn_ack)
        return now_ms()

    def finish_turn(self, started_ms: float) -> TurnTiming:
        timing = TurnTiming()

        def seen(frame: Frame) -> bool:
            timing.frames.append(frame if isinstance(frame, dict) else {"text": frame})
            if timing.first_token_ms is None and self.profile.first_token(frame):
                timing.first_token_ms = now_ms() - started_ms
            return self.profile.end(frame)

        self.read_until(seen, f"turn.end ({self.profile.end})")
        timing.reply_ms = now_ms() - started_ms
        if timing.first_token_ms is None:  # a reply in one frame: its first token is its end
            timing.first_token_ms = timing.reply_ms
        return timing

    def turn(self, text: str) -> TurnTiming:
        return self.finish_turn(self.start_turn(text))

    def wait_first_token(self) -> None:
        self.read_until(self.profile.first_token, f"turn.first_token frame ({self.profile.first_token})")

    def interrupt(self) -> None:
        if self.profile.interrupt is None:
            raise SessionError("not in profile", "the profile has no [interrupt]")
        self.send(self.profile.interrupt, "interrupt.send")

    def heartbeat(self) -> None:
        """The profile's heartbeat, awaiting its answer; at once where it has none."""
        if self.profile.heartbeat is None:
            return
        self.send(self.profile.heartbeat, "heartbeat.send")
        if self.profile.heartbeat_await is not None:
            self.read_until(self.profile.heartbeat_await, f"heartbeat.await frame ({self.profile.heartbeat_await})")

    def send_audio(self, samples: list[float]) -> None:
        chunk = self.profile.audio_chunk
        for i in range(0, len(samples), chunk):
            part = samples[i : i + chunk]
            if self.profile.audio_binary:
                pcm = struct.pack(f"<{len(part)}h", *(int(max(-1.0, min(1.0, s)) * 32767) for s in part))
                self.send(pcm, "audio (binary)")
            elif self.profile.audio is not None:
                self.send(fill(self.profile.audio, audio=part), "audio.send")
            else:
                raise SessionError("not in profile", "the profile has no [audio]")

    def close(self) -> float:
        start = now_ms()
        try:
            self.close_transport()
        except Exception:  # noqa: BLE001 - close is best effort by contract
            pass
        return now_ms() - start

    def drop(self) -> None:
        """Cut the connection with no close handshake, as a killed browser tab does."""
        try:
            self.drop_transport()
        except Exception:  # noqa: BLE001 - drop never raises, by contract
            pass
