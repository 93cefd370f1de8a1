"""Which behaviour leaks, end to end: the default design's runs attribute each signal to the
behaviours that cause it (real server, real Locust)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS
from harness.options import BEHAVIOURS

pytestmark = pytest.mark.integration

TINY = Path(__file__).parents[1] / "target" / "servers" / "tiny_chat.py"
# The design's block order is drawn per run; these runs pin it so a failure can be replayed.
SEED = ["--seed", "4711"]


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_buffers_bytes_are_audio_drops_and_entries_every_behaviours(tmp_path: Path) -> None:
    """--leak buffers: buffered bytes are named on audio_drop alone, buffer entries on every
    behaviour (and the probe), and JUnit fails a case per behaviour named."""
    out = tmp_path / "buffers"
    assert main(["run", "--cycles", "50", "--leak", "buffers", *SEED, "--out", str(out)]) == EXIT_FAIL
    metrics = summary(out)["metrics"]
    assert list(metrics["chat_audio_buffer_bytes"]["by_behaviour"]) == ["audio_drop"]
    assert metrics["chat_audio_buffer_bytes"]["by_behaviour"]["audio_drop"]["per_session"] == pytest.approx(64000)
    assert sorted(metrics["chat_audio_buffers"]["by_behaviour"]) == sorted(BEHAVIOURS)
    assert metrics["chat_audio_buffers"]["probe"]["per_cycle"] == pytest.approx(1)
    assert "| chat_audio_buffer_bytes |" in (out / "summary.md").read_text()
    cases = {c.get("name"): c for c in ET.parse(out / "junit.xml").getroot() if c.get("classname") == "harness.behaviour"}
    assert sorted(cases) == sorted(BEHAVIOURS) and all(c.find("failure") is not None for c in cases.values())


def test_a_leak_the_standard_mix_hides_fails_the_default_run(tmp_path: Path) -> None:
    """A shared memory that clean closes grow and page sessions reset passes under a fixed mix;
    the default design fails it and names the behaviours that grow it, not the one that resets it."""
    out = tmp_path / "masked"
    server = f"{sys.executable} {TINY} --port {{port}} --mode masked"
    argv = ["run", "--cycles", "50", "--server-cmd", server, "--metrics-url", "http://127.0.0.1:{port}/metrics",
            *SEED, "--out", str(out)]
    assert main(argv) == EXIT_FAIL
    metric = summary(out)["metrics"]["tiny_memory_messages"]
    assert metric["verdict"] == "leak"
    assert {"clean_close", "abrupt_drop"} <= set(metric["by_behaviour"])
    assert not {"page_session", "reconnect_storm", "audio_drop"} & set(metric["by_behaviour"])
    assert metric["by_behaviour"]["clean_close"]["per_session"] == pytest.approx(2, abs=0.2)
    # The reset is not asserted here: ten page sessions at once each reset and chat, so a page
    # wave leaves 14-20 messages in an order the scheduler picks, and three such waves cannot
    # tell "holds back the probe's +2" from noise (seen: changes 0, -3, +4). The prompt-size
    # test below, and the unit tests, pin the reset where the data carries it.
    assert metric["reset_by"] in ([], ["page_session"])


def test_a_shared_memory_seen_only_through_the_llms_prompts_fails_naming_chatters_and_reset(tmp_path: Path) -> None:
    """The same masked memory with no gauge at all: it shows only as the fake LLM's mean prompt
    per request. The default run fails, naming the chatting behaviours and the reset. Its seed
    puts the page block first after the warm-up, before any quiet wave (drawn seeds, 10 runs:
    benchmarks/flip_rate.py --external)."""
    out = tmp_path / "prompts"
    server = f"{sys.executable} {TINY} --port {{port}} --mode masked --llm {{llm_url}}"
    code = main(["run", "--cycles", "50", "--fake-llm", "--server-cmd", server, "--seed", "748839",
                 "--out", str(out)])
    seed = json.loads((out / "run.json").read_text()).get("seed")
    metric = summary(out)["metrics"]["fake_llm_prompt_tokens:mean_per_cycle"]
    assert code == EXIT_FAIL and metric["verdict"] == "leak", (seed, metric["reason"])
    assert sorted(metric["by_behaviour"]) == ["abrupt_drop", "clean_close", "interrupt_close", "midreply_close"], seed
    assert metric["reset_by"] == ["page_session"], (seed, metric["reason"])
    assert "reset by page_session" in (out / "summary.md").read_text()


def test_the_fixed_server_names_no_behaviour(tmp_path: Path) -> None:
    """50 default cycles of the fixed server: a pass, attribution done, and no behaviour named."""
    out = tmp_path / "fixed"
    assert main(["run", "--cycles", "50", *SEED, "--out", str(out)]) == EXIT_PASS
    data = summary(out)
    assert data["attribution"] == "by behaviour"
    assert all(not m.get("by_behaviour") for m in data["metrics"].values())
