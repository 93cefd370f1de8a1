"""Bad input gets a clear error frame or the right close code; nobody else suffers."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from harness.judge.series import PER_CLIENT_GAUGES
from harness.load.client import ChatClient, SessionError

pytestmark = pytest.mark.integration


def error_for(client: ChatClient, raw: str | bytes) -> str:
    assert client.ws is not None
    client.ws.send(raw)
    frames = client.read_until(lambda f: f.get("type") == "error", timeout=2)
    return frames[-1]["message"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "frame is not valid JSON"),
        ("[1, 2]", "frame must be a JSON object, got list"),
        ('"text"', "frame must be a JSON object, got str"),
        ('{"type": "dance"}', "unknown message type 'dance'"),
        ('{"no_type": 1}', "unknown message type None"),
        ('{"type": "text-input", "text": 42}', "text-input: 'text' must be a string"),
        ('{"type": "mic-audio-data", "audio": "abc"}', "'audio' must be a list of numbers"),
        ('{"type": "mic-audio-data", "audio": [0.1, "x"]}', "'audio' must be a list of numbers"),
        ('{"type": "mic-audio-data", "audio": [true]}', "'audio' must be a list of numbers"),
        ('{"type": "interrupt-signal", "text": ""}', "no conversation turn is running"),
        (b"\x00\x01binary", "binary frames are not supported"),
        ('{"type": "mic-audio-data", "audio": [0.1, NaN]}', "NaN is not a JSON number"),
        ('{"type": "mic-audio-data", "audio": [-Infinity]}', "-Infinity is not a JSON number"),
        ('{"type": "mic-audio-data", "audio": [1e999]}', "number out of range: 1e999"),
        ('{"type": "mic-audio-data", "audio": [0.5, 1.5]}', "sample 1 is 1.5; samples are float32 PCM in [-1, 1]"),
        ('{"type": "mic-audio-data", "audio": [' + "9" * 100 + "]}", "integer of more than 64 digits"),
        ('{"type": "heartbeat", "x": ' + "[" * 40 + "]" * 40 + "}", "nests JSON deeper than 32 levels"),
        ('{"type": "heartbeat", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests JSON deeper than 32 levels"),
        (json.dumps({"type": "text-input", "text": "x" * 20_000}), "'text' is 20000 characters; at most 16384"),
    ],
    ids=lambda value: repr(value)[:48],  # a long id would swell PYTEST_CURRENT_TEST, inherited by the server
)
def test_bad_frame_gets_error_and_connection_stays_open(server, raw, message) -> None:
    """Each malformed frame is answered with an error naming the problem; the
    connection still serves a whole turn afterwards."""
    client = server.client()
    client.connect()
    assert message in error_for(client, raw)
    timing = client.turn("still there?")
    assert timing.reply_ms is not None
    client.close()
    gauges = server.quiet_gauges()
    assert {k: gauges[k] for k in PER_CLIENT_GAUGES if gauges[k]} == {}


def test_audio_past_the_buffer_cap_is_refused(start_server) -> None:
    """Audio beyond the per-client cap is dropped with an error; the buffer stays at the cap."""
    server = start_server(extra=("--audio-buffer-seconds", "0.5"))
    client = server.client()
    client.connect()
    client.send({"type": "mic-audio-data", "audio": [0.0] * 8000})
    message = error_for(client, json.dumps({"type": "mic-audio-data", "audio": [0.0] * 10}))
    assert "audio buffer full (8000 samples, 0.5 s)" in message
    assert server.gauges()["chat_audio_buffer_bytes"] == 8000 * 4
    client.close()
    assert server.quiet_gauges()["chat_audio_buffers"] == 0


def test_oversized_frame_closes_with_1009(server) -> None:
    """A frame over the size limit ends the connection with close code 1009."""
    client = server.client()
    client.connect()
    assert client.ws is not None
    client.ws.send(json.dumps({"type": "text-input", "text": "x" * (2 << 20)}))
    with pytest.raises(ConnectionClosed) as info:
        client.ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    assert server.quiet_gauges()["chat_clients"] == 0


def test_text_input_flood_is_refused_not_queued(server) -> None:
    """A burst of text-inputs past the rate limit gets errors; the server still answers."""
    client = server.client()
    client.connect()
    for i in range(30):
        client.send({"type": "text-input", "text": f"flood {i}"})
    client.send({"type": "heartbeat"})
    frames = client.read_until(lambda f: f.get("type") == "heartbeat-ack", timeout=5)
    errors = [f["message"] for f in frames if f.get("type") == "error"]
    assert errors and all("text-input flood" in e for e in errors)
    client.close()
    other = server.client()
    other.connect()
    assert other.turn("hello").reply_ms is not None
    other.close()
    assert server.quiet_gauges()["chat_conversation_tasks"] == 0


def test_foreign_origin_is_rejected_with_403(start_server) -> None:
    """A browser Origin not on the allow-list gets 403; allowed ones and no Origin connect."""
    server = start_server(extra=("--allowed-origin", "http://app.example"))
    with pytest.raises(InvalidStatus) as info:
        connect(server.url, origin="http://evil.example", proxy=None, legacy=True)  # type: ignore[arg-type]
    assert info.value.response.status_code == 403
    allowed = ChatClient(server.url, origin="http://app.example")
    allowed.connect()
    allowed.close()
    own = ChatClient(server.url, origin=server.process.http_url)
    own.connect()
    own.close()
    with pytest.raises(SessionError, match="handshake rejected"):
        ChatClient(server.url, origin="http://evil.example").connect()


def test_other_clients_unaffected_by_a_misbehaving_one(server) -> None:
    """While one client sends garbage, another completes its turns normally."""
    bad = server.client()
    bad.connect()
    good = server.client()
    good.connect()
    for _ in range(20):
        assert bad.ws is not None
        bad.ws.send("{broken")
    assert good.turn("are you ok?").sentences[0] == "You said: are you ok?."
    bad.drop()
    good.close()
    assert server.quiet_gauges()["chat_clients"] == 0
