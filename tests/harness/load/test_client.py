"""ChatClient against real servers on 127.0.0.1: the bundled one for a whole session, and
small websockets servers that misbehave on purpose for each kind of SessionError (the reason
is a counter key, so each must be the one promised)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from harness.load.client import ChatClient, SessionError

pytestmark = pytest.mark.integration

GREETING = [{"type": "full-text", "text": "Connection established"},
            {"type": "set-model-and-conf", "client_uid": "c-1"},
            {"type": "control", "text": "start-mic"}]


@contextmanager
def misbehaving(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    """A websockets server on port 0 that greets each client, then runs `handler`."""
    def session(ws: ServerConnection) -> None:
        try:
            for frame in GREETING:
                ws.send(json.dumps(frame))
            handler(ws)
        except ConnectionClosed:  # the client went first: what these tests do
            pass

    with serve(session, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/client-ws"
        finally:
            server.shutdown()
            thread.join(timeout=5)


def answer_turn_with(raw: str | bytes) -> Callable[[ServerConnection], None]:
    def handler(ws: ServerConnection) -> None:
        ws.recv(timeout=5)  # the turn's text-input
        ws.send(raw)
        ws.recv(timeout=5)  # until the client goes

    return handler


def test_a_whole_session_with_the_bundled_server_is_timed(server) -> None:  # type: ignore[no-untyped-def]
    client = server.client()
    assert client.connect() > 0 and client.client_uid and client.greeting[-1]["text"] == "start-mic"
    timing = client.turn("hello")
    assert 0 < timing.first_token_ms <= timing.reply_ms and timing.sentences
    assert client.close() >= 0
    client.drop()  # after a close: never raises
    client.close()


def test_nobody_listening_is_a_failed_connect_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/client-ws"
    with pytest.raises(SessionError) as caught:
        ChatClient(url, timeout=2).connect()
    assert caught.value.reason == "connect failed" and url in caught.value.detail


@pytest.mark.parametrize(("raw", "reason"), [
    ("not json {", "frame is not JSON"),
    ("[1, 2]", "unexpected frame"),
    (json.dumps({"type": "error", "message": "model down"}), "server error"),
])
def test_a_bad_answer_to_a_turn_is_its_own_reason(raw: str, reason: str) -> None:
    with misbehaving(answer_turn_with(raw)) as url:
        client = ChatClient(url, timeout=5)
        client.connect()
        with pytest.raises(SessionError) as caught:
            client.turn("hello")
        client.close()
    assert caught.value.reason == reason
    if reason == "server error":
        assert caught.value.detail == "model down"


def test_a_server_that_never_ends_the_reply_times_out_within_the_clients_timeout() -> None:
    def silent(ws: ServerConnection) -> None:
        ws.recv(timeout=5)
        ws.send(json.dumps({"type": "control", "text": "conversation-chain-start"}))
        try:
            ws.recv(timeout=5)
        except TimeoutError:
            pass

    with misbehaving(silent) as url:
        client = ChatClient(url, timeout=0.5)
        client.connect()
        with pytest.raises(SessionError) as caught:
            client.turn("hello")
        client.drop()
    assert caught.value.reason == "reply timeout" and "conversation-chain-end" in caught.value.detail


def test_a_server_that_closes_mid_turn_is_closed_by_server() -> None:
    def closes(ws: ServerConnection) -> None:
        ws.recv(timeout=5)
        ws.close()

    with misbehaving(closes) as url:
        client = ChatClient(url, timeout=5)
        client.connect()
        with pytest.raises(SessionError) as caught:
            client.turn("hello")
    assert caught.value.reason == "closed by server"
