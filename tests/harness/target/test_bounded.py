"""State that is retained but bounded is no leak: servers on aiohttp that keep state a while
after disconnect, or in a cache that fills (servers/bounded_chat.py), through default
50-cycle runs with the census (real server, real Locust)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS

pytestmark = pytest.mark.integration

BOUNDED = Path(__file__).parent / "servers" / "bounded_chat.py"


def run(tmp_path: Path, mode: str, *flags: str) -> tuple[int, dict, str]:
    pytest.importorskip("aiohttp")
    out = tmp_path / mode
    server = f"{sys.executable} {BOUNDED} --port {{port}} --mode {mode} {' '.join(flags)}"
    code = main(["run", "--cycles", "50", "--server-cmd", server, "--metrics-url", "http://127.0.0.1:{port}/metrics",
                 "--inspect", "--out", str(out)])
    return code, json.loads((out / "summary.json").read_text()), (out / "summary.md").read_text()


def test_state_kept_two_seconds_after_disconnect_passes_and_says_how_long(tmp_path: Path) -> None:
    """A reconnect grace of 2 s, swept after: the drain check sees it released, and says when."""
    code, result, text = run(tmp_path, "grace")
    assert code == EXIT_PASS, result["caught_by"]
    drain = result["metrics"]["grace_sessions"]["drain"]
    assert drain is not None and drain["released_after_s"] < 5.0, drain
    assert "grace_sessions was held, then released" in text


def test_state_kept_thirty_seconds_does_not_drain_and_says_what_would_tell(tmp_path: Path) -> None:
    code, result, _ = run(tmp_path, "grace", "--hold", "30")
    assert code == EXIT_FAIL
    metric = result["metrics"]["grace_sessions"]
    assert metric["verdict"] == "leak" and metric["drain"] is not None
    assert "released_after_s" not in metric["drain"] and metric["drain"]["idle_s"] >= 5.0, metric["drain"]
    assert "would tell" in metric["reason"] or "--drain sets the idle" in metric["reason"], metric["reason"]


@pytest.mark.parametrize(("mode", "gauge", "container"), [
    ("lru", "lru_entries", "census.entries:Lru.recent"),
    ("level", "level_entries", "census.entries:Level.seen"),
])
def test_a_cache_that_fills_passes_with_the_census_and_says_where(
    tmp_path: Path, mode: str, gauge: str, container: str
) -> None:
    """An LRU of 240 that fills over ~25 cycles, and a cache that levels off at 37-38: both
    grow over the run's first half and not its second; pass, naming where each saturated."""
    code, result, text = run(tmp_path, mode)
    assert code == EXIT_PASS, result["caught_by"]
    for name in (gauge, container):
        bounded = result["metrics"][name]["bounded"]
        assert bounded is not None and 10 < bounded["from_cycle"] < 45, (name, bounded)
    assert "Retained, but bounded (no leak):" in text and "then stopped growing: bounded at" in text
