"""A Socket.IO chat, as its profile declares it (framing = "socketio"), on python-socketio's
client over the WebSocket transport (it works under Locust's gevent: its threads are
greenlets there). Events are frames {"event": name, "data": payload}; with `[turn] ack =
true` the turn is a call whose acknowledgement, {"ack": true, "data": ...}, is the reply.
Everything above the transport (matching, automatic replies, the steps) is FramedClient's.
"""

from __future__ import annotations

import queue
import socket
from typing import Any
from urllib.parse import urlsplit

import socketio
from socketio.exceptions import ConnectionError as SocketIOConnectionError

from harness.load.client import SessionError
from harness.load.protocols.framed import FramedClient, Trace
from harness.load.protocols.profile import Frame, Profile
from harness.options import REPLY_TIMEOUT_S

DEFAULT_PATH = "/socket.io"


class SocketIOClient(FramedClient):
    """One Socket.IO connection (one namespace) to a profiled chat server."""

    def __init__(self, profile: Profile, url: str, timeout: float = REPLY_TIMEOUT_S,
                 trace: Trace | None = None) -> None:
        super().__init__(profile, url, timeout, trace)
        self.inbox: queue.Queue[Frame | None] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self.heard, namespace=profile.namespace)
        self.sio.on("disconnect", lambda *args: self.inbox.put(None), namespace=profile.namespace)

    def heard(self, event: str, *args: Any) -> None:
        self.inbox.put({"event": event, "data": args[0] if len(args) == 1 else list(args)})

    def acked(self, *args: Any) -> None:
        self.inbox.put({"ack": True, "data": args[0] if len(args) == 1 else list(args)})

    def open_transport(self) -> None:
        parts = urlsplit(self.url)
        base = f"{'https' if parts.scheme in ('wss', 'https') else 'http'}://{parts.netloc}"
        try:
            self.sio.connect(base, namespaces=[self.profile.namespace], transports=["websocket"],
                             socketio_path=parts.path if parts.path not in ("", "/") else DEFAULT_PATH,
                             wait_timeout=self.timeout)
        except SocketIOConnectionError as exc:
            raise SessionError("connect failed", f"{self.url} (namespace {self.profile.namespace}): {exc}") from None

    def transmit(self, frame: Frame | bytes, ack: bool = False) -> None:
        if not isinstance(frame, dict):
            raise SessionError("not in profile", "a Socket.IO protocol sends events, not raw frames")
        try:
            self.sio.emit(frame["event"], frame.get("data"), namespace=self.profile.namespace,
                          callback=self.acked if ack else None)
        except socketio.exceptions.BadNamespaceError as exc:
            raise SessionError("closed by server", str(exc)) from None

    def receive(self, timeout: float) -> Frame | None:
        try:
            frame = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise SessionError("reply timeout", f"no event within {timeout:.3g} s") from None
        if frame is None:
            raise SessionError("closed by server", f"disconnected from namespace {self.profile.namespace}")
        return frame

    def close_transport(self) -> None:
        self.sio.disconnect()

    def drop_transport(self) -> None:
        """Cut the TCP connection under Engine.IO with no close packet."""
        eio = self.sio.eio
        ws = getattr(eio, "ws", None)
        sock = getattr(ws, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        eio.disconnect(abort=True)
