"""What one client session does, per scenario. Plain functions over a protocol's session
(protocols/__init__.py: the bundled protocol's ChatClient, or a profiled chat's client).

No Locust here: the tests, the probe and the Locust users share these. Each function
reports its timed steps to `record(name, ms)`; step names are fixed: connect,
first-token, reply, close.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.load.client import now_ms

if TYPE_CHECKING:
    from harness.load.protocols import Session

Record = Callable[[str, float], None]
Behaviour = Callable[["Session", Record], None]

TEXT = "Hello! What a nice day it is today, do you think it will rain later?"
AUDIO_SECONDS = 1.0


def tone(seconds: float, rate: int = 16_000) -> list[float]:
    """A 440 Hz tone at 16 kHz: the mic audio a client streams."""
    return [round(0.3 * math.sin(2 * math.pi * 440 * i / rate), 4) for i in range(int(seconds * rate))]


AUDIO = tone(AUDIO_SECONDS)


def chat(client: Session, record: Record) -> None:
    timing = client.turn(TEXT)
    record("first-token", timing.first_token_ms or 0.0)
    record("reply", timing.reply_ms or 0.0)


def clean_close(client: Session, record: Record) -> None:
    """Open, chat once, close with a close frame."""
    record("connect", client.connect())
    chat(client, record)
    record("close", client.close())


def abrupt_drop(client: Session, record: Record) -> None:
    """Open, chat, then cut TCP without a close frame (a killed browser tab)."""
    record("connect", client.connect())
    chat(client, record)
    client.drop()


def midreply_close(client: Session, record: Record) -> None:
    """Leave while the reply is still streaming."""
    record("connect", client.connect())
    started = client.start_turn(TEXT)
    client.wait_first_token()
    record("first-token", now_ms() - started)
    record("close", client.close())


def audio_drop(client: Session, record: Record) -> None:
    """Stream mic audio, leave before mic-audio-end (after a heartbeat's answer, where the
    protocol has one: the audio has been taken in)."""
    record("connect", client.connect())
    client.send_audio(AUDIO)
    client.heartbeat()
    record("close", client.close())


def interrupt_close(client: Session, record: Record) -> None:
    """Start a turn, interrupt it after the first sentence, close."""
    record("connect", client.connect())
    client.start_turn(TEXT)
    client.wait_first_token()
    client.interrupt()
    record("close", client.close())


def reconnect_storm(client: Session, record: Record) -> None:
    """Open and close with no chat, as fast as possible."""
    record("connect", client.connect())
    record("close", client.close())


def page_session(client: Session, record: Record) -> None:
    """What the web page does: connect, fetch configs and history, heartbeat, chat, close."""
    record("connect", client.connect())
    client.page_requests()  # type: ignore[attr-defined]
    client.heartbeat()
    chat(client, record)
    record("close", client.close())


# Each behaviour by the name the wave design (design.py) and the scenario files use.
BY_NAME: dict[str, Behaviour] = {
    "clean_close": clean_close,
    "abrupt_drop": abrupt_drop,
    "midreply_close": midreply_close,
    "audio_drop": audio_drop,
    "interrupt_close": interrupt_close,
    "reconnect_storm": reconnect_storm,
    "page_session": page_session,
}
