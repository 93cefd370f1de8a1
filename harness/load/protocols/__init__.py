"""The protocols the harness speaks: each gives a session of one client (connect, a turn
timed to its first token and its end, interrupt, heartbeat, audio, close, drop) and the
behaviours it can express (the wave design's standard mix keeps its proportions among them).
`--protocol` picks one: `olv` (the bundled server's, Open-LLM-VTuber's; the default), `json`
(a JSON chat: {"type": "message", "text"} in, "token" frames and a "done" out), or a TOML
profile file (profile.py) of a JSON-, text- or Socket.IO-framed chat (framed.py, sio.py).

A behaviour needs what its steps use: audio_drop an audio frame, interrupt_close an
interrupt, page_session the page's own requests (only Open-LLM-VTuber has them). The others
any chat can run. A behaviour a protocol cannot express is left out of the wave design, and
the run says which and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from typing import Protocol as Interface

from harness.errors import UsageError
from harness.load.client import ChatClient, TurnTiming
from harness.load.protocols.framed import FramedClient, Trace
from harness.load.protocols.profile import Profile, ProfileError, parse_profile, read_profile
from harness.options import BEHAVIOURS, BUILT_IN_PROTOCOLS, CHAT_PATH, MIXED, PAGE, RunOptions

__all__ = ["OLV", "Protocol", "ProfileError", "Session", "protocol_for", "protocol_of"]


class Session(Interface):
    """One client of a chat: the steps the behaviours (behaviours.py) take."""

    def connect(self) -> float: ...
    def turn(self, text: str) -> TurnTiming: ...
    def start_turn(self, text: str) -> float: ...
    def wait_first_token(self) -> Any: ...
    def interrupt(self) -> None: ...
    def heartbeat(self) -> None: ...  # answered once what came before is taken in; at once where there is none
    def send_audio(self, samples: list[float]) -> None: ...
    def close(self) -> float: ...
    def drop(self) -> None: ...


# What each behaviour needs beyond connect, a turn and close.
NEEDS = {
    "clean_close": set(),
    "abrupt_drop": set(),
    "midreply_close": set(),
    "reconnect_storm": set(),
    "audio_drop": {"audio"},
    "interrupt_close": {"interrupt"},
    "page_session": {"page"},
}
WHY = {
    "audio": "the protocol sends no mic audio (a profile's [audio])",
    "interrupt": "the protocol has no interrupt (a profile's [interrupt])",
    "page": "the page's own requests (configs, history, heartbeat) are Open-LLM-VTuber's",
}

JSON_PROFILE = '''
name = "json"
framing = "json"
[turn]
send = { type = "message", text = "{text}" }
first_token = { type = "token" }
end = { type = "done" }
error = { type = "error" }
'''


@dataclass(frozen=True)
class Protocol:
    """A protocol: `session(url, timeout, trace)` makes one client; `can` is what it has
    beyond connect, a turn and close ("audio", "interrupt", "heartbeat", "page")."""

    name: str
    session: Callable[[str, float, Trace | None], Session]
    can: frozenset[str]
    path: str | None = None  # the chat's path, where the protocol names one
    source: str = ""  # the profile file, for run.json

    @property
    def behaviours(self) -> tuple[str, ...]:
        """The behaviours this protocol expresses, in the design's order."""
        return tuple(b for b in BEHAVIOURS if NEEDS[b] <= self.can)

    def left_out(self) -> dict[str, str]:
        """Each behaviour it cannot express, and why."""
        return {b: "; ".join(WHY[n] for n in sorted(NEEDS[b] - self.can))
                for b in BEHAVIOURS if not NEEDS[b] <= self.can}


def olv_session(url: str, timeout: float, trace: Trace | None) -> Session:
    return ChatClient(url, timeout=timeout, trace=trace)


OLV = Protocol("olv", olv_session, frozenset({"audio", "interrupt", "heartbeat", "page"}))


def from_profile(profile: Profile, source: str = "") -> Protocol:
    can = {name for name, present in (("audio", profile.has_audio), ("interrupt", profile.interrupt is not None),
                                      ("heartbeat", profile.heartbeat is not None)) if present}

    def session(url: str, timeout: float, trace: Trace | None) -> Session:
        if profile.framing == "socketio":
            from harness.load.protocols.sio import SocketIOClient  # python-socketio, only where spoken

            return SocketIOClient(profile, url, timeout=timeout, trace=trace)
        return FramedClient(profile, url, timeout=timeout, trace=trace)

    return Protocol(profile.name, session, frozenset(can), profile.path, source)


@cache
def protocol_for(spec: str) -> Protocol:
    """The protocol `--protocol` names: a built-in name, or a profile file (ProfileError if bad)."""
    if spec == "olv":
        return OLV
    if spec == "json":
        return from_profile(parse_profile(JSON_PROFILE, "json"))
    path = Path(spec)
    if path.suffix != ".toml" and not path.exists():
        choices = ", ".join(BUILT_IN_PROTOCOLS)
        raise ProfileError(f"--protocol {spec!r}: one of {choices}, or a profile file (.toml)")
    return from_profile(read_profile(path), str(path.resolve()))


def protocol_of(options: RunOptions) -> Protocol:
    """The run's protocol (UsageError for a bad profile, or a scenario it cannot express). A
    profile's path becomes the chat path of a --server-cmd server not given --ws-path."""
    try:
        protocol = protocol_for(options.protocol)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    if options.scenario not in (MIXED, PAGE) and options.scenario not in protocol.behaviours:
        why = protocol.left_out()[options.scenario]
        raise UsageError(f"--scenario {options.scenario}: the {protocol.name} protocol cannot express it ({why})")
    if protocol.path and options.ws_path == CHAT_PATH:
        options.ws_path = protocol.path
    return protocol


def protocol_note(protocol: Protocol) -> str | None:
    """What the run says at its start of a protocol other than the bundled one."""
    if protocol is OLV:
        return None
    left = "; ".join(f"{b} ({why})" for b, why in protocol.left_out().items())
    return (f"protocol {protocol.name}: {', '.join(protocol.behaviours)}"
            + (f"; left out: {left}" if left else ""))
