"""The bundled server follows PROTOCOL.md frame by frame (real server, real client)."""

from __future__ import annotations

import pytest

from harness.load.behaviours import AUDIO

pytestmark = pytest.mark.integration


def test_greeting_frames_in_order(server) -> None:
    """On connect: full-text, set-model-and-conf with a client_uid, control start-mic."""
    client = server.client()
    client.connect()
    kinds = [(f["type"], f.get("text")) for f in client.greeting]
    assert kinds == [
        ("full-text", "Connection established"),
        ("set-model-and-conf", None),
        ("control", "start-mic"),
    ]
    assert len(client.client_uid or "") == 36
    client.close()


def test_text_turn_frame_by_frame(server) -> None:
    """A text turn: chain-start, Thinking..., audio per sentence, synth-complete,
    then (after frontend-playback-complete) force-new-message and chain-end."""
    client = server.client()
    client.connect()
    client.send({"type": "text-input", "text": "hi there"})
    frames = client.read_until(lambda f: f.get("type") == "backend-synth-complete")
    assert frames[0] == {"type": "control", "text": "conversation-chain-start"}
    assert frames[1] == {"type": "full-text", "text": "Thinking..."}
    audio = frames[2:-1]
    assert len(audio) == 3 and all(f["type"] == "audio" for f in audio)
    assert audio[0]["display_text"]["text"] == "You said: hi there."
    assert set(audio[0]) >= {"audio", "volumes", "slice_length", "display_text", "actions", "forwarded"}
    client.send({"type": "frontend-playback-complete"})
    tail = client.read_until(lambda f: f.get("text") == "conversation-chain-end")
    assert tail == [
        {"type": "force-new-message"},
        {"type": "control", "text": "conversation-chain-end"},
    ]
    client.close()


def test_turn_waits_for_playback_complete(server) -> None:
    """Without frontend-playback-complete the server holds chain-end back."""
    client = server.client()
    client.connect()
    client.send({"type": "text-input", "text": "wait for me"})
    client.read_until(lambda f: f.get("type") == "backend-synth-complete")
    with pytest.raises(Exception, match="reply timeout"):
        client.read_until(lambda f: f.get("text") == "conversation-chain-end", timeout=0.3)
    client.send({"type": "frontend-playback-complete"})
    tail = client.read_until(lambda f: f.get("text") == "conversation-chain-end", timeout=2)
    assert tail == [{"type": "force-new-message"}, {"type": "control", "text": "conversation-chain-end"}]
    client.close()


def test_audio_turn_transcribes_what_it_got(server) -> None:
    """mic-audio-data is buffered; mic-audio-end transcribes it, clears it and replies."""
    client = server.client()
    client.connect()
    client.send_audio(AUDIO[:8000])
    client.request({"type": "heartbeat"}, "heartbeat-ack")
    assert server.gauges()["chat_audio_buffer_bytes"] == 8000 * 4
    client.send({"type": "mic-audio-end"})
    transcription = client.read_until(lambda f: f.get("type") == "user-input-transcription")[-1]
    assert transcription["text"] == "(heard 8000 samples, 0.50 s of audio)"
    timing = client.finish_turn(started_ms=0.0)
    assert timing.sentences[0].startswith("You said: (heard 8000 samples")
    assert server.gauges()["chat_audio_buffer_bytes"] == 0
    client.close()


def test_interrupt_cancels_the_turn(server) -> None:
    """interrupt-signal cancels the running turn; no chain-end follows."""
    client = server.client()
    client.connect()
    client.start_turn("tell me a long story")
    client.wait_first_audio()
    client.send({"type": "interrupt-signal", "text": "You said"})
    ack = client.request({"type": "heartbeat"}, "heartbeat-ack")
    assert ack == {"type": "heartbeat-ack"}
    with pytest.raises(Exception, match="reply timeout"):
        client.read_until(lambda f: f.get("text") == "conversation-chain-end", timeout=0.3)
    assert server.gauges()["chat_conversation_tasks"] == 1  # the entry stays until disconnect
    client.close()


def test_page_requests_are_answered(server) -> None:
    """fetch-configs, fetch-history-list, create-new-history and heartbeat get their answers."""
    client = server.client()
    client.connect()
    configs = client.request({"type": "fetch-configs"}, "config-files")
    assert configs["configs"][0].keys() == {"filename", "name"}
    created = client.request({"type": "create-new-history"}, "new-history-created")
    listing = client.request({"type": "fetch-history-list"}, "history-list")
    assert [h["uid"] for h in listing["histories"]] == [created["history_uid"]]
    assert client.request({"type": "heartbeat"}, "heartbeat-ack") == {"type": "heartbeat-ack"}
    client.close()


def test_http_routes(server) -> None:
    """/health answers ok, /metrics carries every named gauge, /debug/resources agrees."""
    import json
    import urllib.request

    base = server.process.http_url
    assert urllib.request.urlopen(f"{base}/health").read() == b"ok\n"
    gauges = server.gauges()
    for name in (
        "chat_clients", "chat_contexts", "chat_conversation_tasks", "chat_audio_buffers",
        "chat_audio_buffer_bytes", "chat_heartbeats", "chat_message_handler_clients",
        "chat_wake_word_clients", "chat_asyncio_tasks", "chat_agent_memory_messages",
        "process_resident_memory_bytes", "process_open_fds",
    ):
        assert name in gauges, name
    resources = json.loads(urllib.request.urlopen(f"{base}/debug/resources").read())
    assert resources["chat_clients"] == 0 and resources["faults"] == []
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base}/nowhere")
    assert info.value.code == 404
