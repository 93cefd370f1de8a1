"""A chat protocol declared in TOML: how a JSON- or text-framed chat server is spoken to.

    framing = "json"                      # or "text": each frame a plain string
    path = "/ws"                          # where the chat is, under the target's host

    [connect]                             # after the socket opens
    send = [{ type = "hello" }]           #   frames to send
    await = [{ type = "ready" }]          #   frames to wait for, in order

    [turn]
    send = { type = "message", text = "{text}" }   # {text}: the turn's text
    first_token = { type = "token" }     # the frame that marks the first token
    end = { type = "done" }              # the frame that ends the reply
    error = { type = "error" }           # optional: a frame that fails the session

    [[reply]]                            # automatic answers, e.g. a playback handshake
    when = { type = "ping" }
    send = { type = "pong" }

    [interrupt]                          # optional, each: what interrupt_close sends
    send = { type = "stop" }
    [heartbeat]                          # optional: what audio_drop sends after its audio
    send = { type = "ping" }
    await = { type = "pong" }
    [audio]                              # optional: mic audio, as JSON or binary frames
    send = { type = "audio", samples = "{audio}" }   # or binary = true (16-bit PCM)
    chunk = 4000

A match on a JSON frame is a table of fields, each equal to the frame's (a dotted key reaches
into nested objects; `{ regex = "..." }` as a value matches a string field). A match on a
text frame is `{ regex = "..." }`. Pure: text in, a `Profile` out, or a `ProfileError`
naming the file, the key and its line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Frame = dict[str, Any] | str
SECTIONS = {"connect", "turn", "reply", "interrupt", "heartbeat", "audio"}
TOP_KEYS = {"framing", "path", "name", "namespace", *SECTIONS}
FRAMINGS = ("json", "text", "socketio")


class ProfileError(ValueError):
    """A profile that cannot be used: the message names the file, the key and its line."""


@dataclass(frozen=True)
class Match:
    """What a received frame must be: fields equal (JSON), or a regex it contains (text)."""

    fields: dict[str, Any] = field(default_factory=dict)
    regex: re.Pattern[str] | None = None

    def __call__(self, frame: Frame) -> bool:
        if isinstance(frame, str):
            return self.regex is not None and not self.fields and self.regex.search(frame) is not None
        if self.regex is not None:
            return False
        for key, expected in self.fields.items():
            value: Any = frame
            for part in key.split("."):
                if not isinstance(value, dict) or part not in value:
                    return False
                value = value[part]
            if isinstance(expected, re.Pattern):
                if not isinstance(value, str) or expected.search(value) is None:
                    return False
            elif value != expected:
                return False
        return True

    def __str__(self) -> str:
        if self.regex is not None:
            return f"/{self.regex.pattern}/"
        return ", ".join(f"{k}={v.pattern!r}" if isinstance(v, re.Pattern) else f"{k}={v!r}"
                         for k, v in self.fields.items())


@dataclass(frozen=True)
class Profile:
    """A chat protocol, as a profile declares it."""

    name: str
    framing: str  # "json", "text" or "socketio" (frames {"event", "data"}; an ack {"ack": true, "data"})
    path: str | None  # None: the target's own (--ws-path, or --target's URL)
    connect_send: list[Frame]
    connect_await: list[Match]
    turn_send: Frame
    first_token: Match
    end: Match
    error: Match | None = None
    replies: list[tuple[Match, Frame]] = field(default_factory=list)
    interrupt: Frame | None = None
    heartbeat: Frame | None = None
    heartbeat_await: Match | None = None
    audio: Frame | None = None  # a template with "{audio}", or None with audio_binary
    audio_binary: bool = False
    audio_chunk: int = 4000
    namespace: str = "/"  # Socket.IO's
    turn_ack: bool = False  # Socket.IO: the turn is a call whose acknowledgement is the reply

    @property
    def has_audio(self) -> bool:
        return self.audio is not None or self.audio_binary


def fill(template: Frame, **values: Any) -> Frame:
    """A frame from its template: a string that is exactly "{name}" takes the value itself
    (a list of samples stays a list), any other string has each {name} replaced."""
    if isinstance(template, str):
        for name, value in values.items():
            if template == "{" + name + "}":
                return value  # type: ignore[no-any-return]
        for name, value in values.items():
            template = template.replace("{" + name + "}", str(value))
        return template
    if isinstance(template, dict):
        return {k: fill(v, **values) for k, v in template.items()}  # type: ignore[misc]
    if isinstance(template, list):
        return [fill(v, **values) for v in template]  # type: ignore[return-value]
    return template


class _Reader:
    """Reads a parsed profile, naming the file and line of what it finds wrong."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def line_of(self, section: str | None, key: str | None) -> int | None:
        """The line of `key` in [section] (or of the section's header), 1-based."""
        start = 0
        if section:
            header = re.compile(r"^\s*\[\[?\s*" + re.escape(section) + r"\s*\]\]?\s*(#.*)?$")
            found = next((i for i, line in enumerate(self.lines) if header.match(line)), None)
            if found is None:
                inline = re.compile(r"^\s*" + re.escape(section) + r"\s*=")
                found = next((i for i, line in enumerate(self.lines) if inline.match(line)), None)
                return None if found is None else found + 1
            start = found
            if key is None:
                return found + 1
        if key is None:
            return None
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for i in range(start, len(self.lines)):
            if i > start and section and re.match(r"^\s*\[", self.lines[i]):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def fail(self, section: str | None, key: str | None, why: str) -> ProfileError:
        where = ".".join(filter(None, [section, key])) or "the profile"
        line = self.line_of(section, key)
        at = f", line {line}" if line else ""
        return ProfileError(f"{self.source}{at}: {where}: {why}")

    def match(self, framing: str, section: str, key: str, value: Any) -> Match:
        if not isinstance(value, dict) or not value:
            raise self.fail(section, key, "a match is a table of fields, or { regex = \"...\" }")
        if framing == "text":
            if set(value) != {"regex"}:
                raise self.fail(section, key, "a text frame is matched with { regex = \"...\" } alone")
            return Match(regex=self.regex(section, key, value["regex"]))
        fields: dict[str, Any] = {}
        for name, expected in value.items():
            if isinstance(expected, dict):
                if set(expected) != {"regex"}:
                    raise self.fail(section, key, f"field {name!r}: a value, or {{ regex = \"...\" }}")
                expected = self.regex(section, key, expected["regex"])
            fields[name] = expected
        return Match(fields=fields)

    def regex(self, section: str, key: str, pattern: Any) -> re.Pattern[str]:
        if not isinstance(pattern, str):
            raise self.fail(section, key, "regex must be a string")
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.fail(section, key, f"bad regex {pattern!r}: {exc}") from None

    def frame(self, framing: str, section: str, key: str, value: Any) -> Frame:
        if framing == "text" and not isinstance(value, str):
            raise self.fail(section, key, "a text protocol sends strings")
        if framing == "json" and not isinstance(value, dict):
            raise self.fail(section, key, "a JSON protocol sends tables (JSON objects)")
        if framing == "socketio" and (not isinstance(value, dict) or not isinstance(value.get("event"), str)):
            raise self.fail(section, key, "a Socket.IO protocol sends { event = \"...\", data = ... }")
        return value  # type: ignore[no-any-return]

    def table(self, data: dict[str, Any], section: str, required: bool = False) -> dict[str, Any]:
        value = data.get(section)
        if value is None:
            if required:
                raise self.fail(None, None, f"[{section}] is missing")
            return {}
        if not isinstance(value, dict):
            raise self.fail(section, None, "must be a table")
        return value


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """A profile from its TOML text; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not TOML: {exc}") from None
    r = _Reader(source, text)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise r.fail(None, unknown[0], f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")
    framing = data.get("framing", "json")
    if framing not in FRAMINGS:
        raise r.fail(None, "framing", f"{framing!r}: one of {', '.join(FRAMINGS)}")
    namespace = data.get("namespace", "/")
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        raise r.fail(None, "namespace", "a Socket.IO namespace starting with /")
    path = data.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise r.fail(None, "path", "a path starting with /")

    connect = r.table(data, "connect")
    sends = connect.get("send", [])
    awaits = connect.get("await", [])
    if not isinstance(sends, list) or not isinstance(awaits, list):
        raise r.fail("connect", "send" if not isinstance(sends, list) else "await", "a list")

    turn = r.table(data, "turn", required=True)
    for key in ("send", "first_token", "end"):
        if key not in turn:
            raise r.fail("turn", None, f"{key} is missing")
    replies_data = data.get("reply", [])
    if not isinstance(replies_data, list):
        raise r.fail(None, "reply", "write each as [[reply]] with `when` and `send`")
    replies = []
    for reply in replies_data:
        if not isinstance(reply, dict) or "when" not in reply or "send" not in reply:
            raise r.fail("reply", None, "each [[reply]] needs `when` and `send`")
        when = r.match(framing, "reply", "when", reply["when"])
        replies.append((when, r.frame(framing, "reply", "send", reply["send"])))

    interrupt = r.table(data, "interrupt")
    heartbeat = r.table(data, "heartbeat")
    audio = r.table(data, "audio")
    if interrupt and "send" not in interrupt:
        raise r.fail("interrupt", None, "send is missing")
    if heartbeat and "send" not in heartbeat:
        raise r.fail("heartbeat", None, "send is missing")
    binary = bool(audio.get("binary", False))
    if audio and not binary and "send" not in audio:
        raise r.fail("audio", None, "send (a template with \"{audio}\") or binary = true")
    chunk = audio.get("chunk", 4000)
    if not isinstance(chunk, int) or chunk <= 0:
        raise r.fail("audio", "chunk", "a positive number of samples")

    return Profile(
        name=str(data.get("name") or Path(source).stem),
        framing=framing,
        path=path,
        connect_send=[r.frame(framing, "connect", "send", f) for f in sends],
        connect_await=[r.match(framing, "connect", "await", m) for m in awaits],
        turn_send=r.frame(framing, "turn", "send", turn["send"]),
        first_token=r.match(framing, "turn", "first_token", turn["first_token"]),
        end=r.match(framing, "turn", "end", turn["end"]),
        error=r.match(framing, "turn", "error", turn["error"]) if "error" in turn else None,
        replies=replies,
        interrupt=r.frame(framing, "interrupt", "send", interrupt["send"]) if interrupt else None,
        heartbeat=r.frame(framing, "heartbeat", "send", heartbeat["send"]) if heartbeat else None,
        heartbeat_await=(r.match(framing, "heartbeat", "await", heartbeat["await"])
                         if "await" in heartbeat else None),
        audio=r.frame(framing, "audio", "send", audio["send"]) if "send" in audio else None,
        audio_binary=binary,
        audio_chunk=chunk,
        namespace=namespace,
        turn_ack=bool(turn.get("ack", False)),
    )


def read_profile(path: Path) -> Profile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror or exc})") from None
    return parse_profile(text, str(path))
