"""Profiles (pure): what a TOML profile declares, how frames are matched and filled, and a
clear message naming the file, key and line for each way a profile can be wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.load.protocols import protocol_for
from harness.load.protocols.profile import Match, ProfileError, fill, parse_profile

EXAMPLE = Path(__file__).parents[3] / "examples" / "json_chat" / "profile.toml"


def test_the_example_profile_declares_every_step() -> None:
    protocol = protocol_for(str(EXAMPLE))
    assert protocol.name == "json-chat" and protocol.path == "/chat"
    assert protocol.behaviours == ("clean_close", "abrupt_drop", "midreply_close", "audio_drop",
                                   "interrupt_close", "reconnect_storm")
    assert list(protocol.left_out()) == ["page_session"]


def test_a_profile_without_audio_or_interrupt_leaves_those_behaviours_out_saying_why() -> None:
    protocol = protocol_for("json")
    assert protocol.behaviours == ("clean_close", "abrupt_drop", "midreply_close", "reconnect_storm")
    assert "[audio]" in protocol.left_out()["audio_drop"] and "[interrupt]" in protocol.left_out()["interrupt_close"]


def test_json_matches_compare_fields_dotted_paths_and_regexes() -> None:
    match = Match(fields={"type": "delta", "choice.role": "assistant", "text": re.compile(r"^\w")})
    assert match({"type": "delta", "choice": {"role": "assistant"}, "text": "Hi"})
    assert not match({"type": "delta", "choice": {"role": "user"}, "text": "Hi"})
    assert not match({"type": "delta", "choice": {"role": "assistant"}, "text": " "})
    assert not match({"type": "delta"}) and not match("delta")
    assert Match(regex=re.compile(r"^\[done\]$"))("[done]") and not Match(regex=re.compile("x"))({"x": 1})


def test_templates_take_the_text_and_keep_a_list_of_samples_a_list() -> None:
    assert fill({"type": "message", "text": "{text}", "meta": ["say: {text}"]}, text="hi") == {
        "type": "message", "text": "hi", "meta": ["say: hi"]}
    assert fill({"samples": "{audio}"}, audio=[0.1, 0.2]) == {"samples": [0.1, 0.2]}
    assert fill("USER: {text}", text="hi") == "USER: hi"


def test_a_text_profile_sends_strings_and_matches_by_regex() -> None:
    profile = parse_profile('framing = "text"\n[turn]\nsend = "{text}"\nfirst_token = { regex = "." }\n'
                            'end = { regex = "\\\\[end\\\\]$" }\n', "text.toml")
    assert profile.turn_send == "{text}" and profile.end("ok [end]") and not profile.end("ok")


GOOD_TURN = '[turn]\nsend = { type = "m", text = "{text}" }\nfirst_token = { type = "t" }\nend = { type = "d" }\n'


@pytest.mark.parametrize(("text", "message"), [
    ("framing = [", r"p\.toml: not TOML: "),
    ('framing = "xml"\n' + GOOD_TURN, r"p\.toml, line 1: framing: 'xml': one of json, text, socketio"),
    ('name = "x"\n', r"p\.toml: the profile: \[turn\] is missing"),
    ('[turn]\nsend = { type = "m" }\nfirst_token = { type = "t" }\n', r"p\.toml, line 1: turn: end is missing"),
    (GOOD_TURN.replace('end = { type = "d" }', 'end = "done"'),
     r"p\.toml, line 4: turn\.end: a match is a table of fields"),
    (GOOD_TURN + '[audio]\nchunk = 10\n', r"p\.toml, line 5: audio: send .* or binary = true"),
    (GOOD_TURN + '[audio]\nbinary = true\nchunk = 0\n', r"p\.toml, line 7: audio\.chunk: a positive number"),
    ('colour = "red"\n' + GOOD_TURN, r"p\.toml, line 1: colour: unknown key"),
    (GOOD_TURN.replace('{ type = "t" }', '{ text = { regex = "(" } }'),
     r"p\.toml, line 3: turn\.first_token: bad regex"),
    ('path = "chat"\n' + GOOD_TURN, r"p\.toml, line 1: path: a path starting with /"),
])
def test_a_bad_profile_names_the_key_and_its_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(text, "p.toml")


def test_an_unknown_protocol_or_a_missing_file_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="one of olv, json, or a profile file"):
        protocol_for("socket-dot-io")
    with pytest.raises(ProfileError, match="cannot read the profile"):
        protocol_for(str(tmp_path / "missing.toml"))
