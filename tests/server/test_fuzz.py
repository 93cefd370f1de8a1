"""A property-based fuzz of the bundled server's frame handling (hypothesis).

Every frame is answered (an error frame, or the frames its type calls for) or the
connection is closed with a policy code (1007, 1008, 1009); never 1011 (internal error),
never a silent hang. Afterwards the server still serves a whole turn, and every per-client
gauge is back to 0.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from harness.judge.series import PER_CLIENT_GAUGES
from harness.load.client import ChatClient

pytestmark = pytest.mark.integration

KINDS = [
    "text-input", "mic-audio-data", "mic-audio-end", "interrupt-signal", "frontend-playback-complete",
    "heartbeat", "fetch-configs", "fetch-history-list", "create-new-history",
]
POLICY_CLOSES = (1007, 1008, 1009)
SENTINEL = json.dumps({"type": "heartbeat"})

numbers = st.one_of(
    st.integers(), st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-1, max_value=1),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
audio = st.lists(st.one_of(st.floats(min_value=-1, max_value=1), numbers, leaves), max_size=64)
objects = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(KINDS), st.text(max_size=16), leaves)},
    optional={"text": st.one_of(st.text(max_size=200), values), "audio": st.one_of(audio, values),
              "images": values},
)
nested = st.integers(min_value=1, max_value=3000).map(
    lambda n: '{"type": "heartbeat", "x": ' + "[" * n + "]" * n + "}"
)
frames = st.one_of(
    objects.map(lambda f: json.dumps(f, allow_nan=True)),  # NaN / Infinity tokens included
    values.map(lambda v: json.dumps(v, allow_nan=True)),  # not an object
    nested,
    st.text(max_size=200),  # not JSON, mostly
    st.binary(max_size=64),
)


class Fuzzer:
    """One connection at a time; a closed one is replaced."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: ChatClient | None = None
        self.seen: Counter[str] = Counter()

    def connection(self) -> ChatClient:
        if self.client is None:
            self.client = ChatClient(self.url, timeout=5)
            self.client.connect()
        return self.client

    def send(self, raw: str | bytes) -> None:
        """Send the frame and a heartbeat after it; the heartbeat's ack must come back."""
        client = self.connection()
        assert client.ws is not None
        self.seen["tried"] += 1
        try:
            client.ws.send(raw)
            client.ws.send(SENTINEL)
            while True:
                frame = json.loads(client.ws.recv(timeout=5))
                if frame.get("type") == "error":
                    self.seen["error frames"] += 1
                if frame.get("type") == "heartbeat-ack":
                    return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            assert code in POLICY_CLOSES, f"closed with {code} after {raw!r:.120}"
            self.seen[f"closed {code}"] += 1
            self.client = None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def test_fuzzed_frames_are_answered_and_leave_nothing_behind(server) -> None:
    """Hundreds of generated frames: each answered or closed with a policy code; the
    server then serves a whole turn, and its per-client state is back to zero."""
    fuzzer = Fuzzer(server.url)

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frames)
    def one_frame(raw: str | bytes) -> None:
        fuzzer.send(raw)

    try:
        one_frame()
    finally:
        fuzzer.close()
    print(f"fuzz: {dict(fuzzer.seen)}")
    assert fuzzer.seen["tried"] >= 400 and fuzzer.seen["error frames"] > 0
    other = server.client()
    other.connect()
    assert other.turn("after the fuzz").reply_ms is not None
    other.close()
    gauges = server.quiet_gauges()
    assert {k: gauges[k] for k in PER_CLIENT_GAUGES if gauges[k]} == {}
