"""--inspect inside a Node server (servers/tiny_chat.js, Node's standard library): the agent is
loaded through NODE_OPTIONS, and its census names a Map that keeps an entry per client by
owner and property, and a shared emitter that keeps a listener per connection by binding and
event, with per-session rates and the behaviours that cause them (real node, real Locust)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from harness.observe.census import CensusClient, CensusError
from harness.options import BEHAVIOURS
from harness.rundir.store import load_run
from harness.target.census import CensusPlan

pytestmark = [pytest.mark.integration, pytest.mark.skipif(shutil.which("node") is None, reason="no node installed")]

NODE_CHAT = Path(__file__).parent / "servers" / "tiny_chat.js"
MAP = "census.entries:Registry.byId"
LISTENERS = "census.listeners:tiny_chat.bus on 'broadcast'"


def run(tmp_path: Path, name: str, *leaks: str, capsys=None) -> tuple[int, dict, str]:
    out = tmp_path / name
    flags = " ".join(f"--leak {leak}" for leak in leaks)
    code = main(["run", "--cycles", "50", "--server-cmd", f"node {NODE_CHAT} {{port}} {flags}", "--inspect",
                 "--out", str(out)])
    seed = json.loads((out / "run.json").read_text()).get("seed")
    return code, json.loads((out / "summary.json").read_text()), f"seed {seed}"


def test_a_map_entry_and_a_listener_kept_per_client_are_named_by_owner(tmp_path: Path) -> None:
    code, result, seed = run(tmp_path, "leaky", "map", "listener")
    assert code == EXIT_FAIL, (seed, result["caught_by"])
    for name in (MAP, LISTENERS):
        metric = result["metrics"][name]
        assert metric["verdict"] == "leak", (seed, name, metric["reason"])
        assert sorted(metric["by_behaviour"]) == sorted(BEHAVIOURS), (seed, name, metric["reason"])
        assert all(e["per_session"] == pytest.approx(1.0, abs=0.05) for e in metric["by_behaviour"].values()), seed
    census = [name for name in result["caught_by"] if name.startswith("census.")]
    # The emitter that holds the listeners comes before what its listeners' closures hold.
    assert census.index(LISTENERS) < min(i for i, name in enumerate(census) if ".(closure)." in name), census
    text = (tmp_path / "leaky" / "summary.md").read_text()
    assert "entries of `Registry.byId`" in text and "listeners of `tiny_chat.bus on 'broadcast'`" in text


def test_the_fixed_node_server_passes_with_a_census_every_cycle(tmp_path: Path, capsys) -> None:
    code, result, seed = run(tmp_path, "fixed")
    assert code == EXIT_PASS, (seed, result["caught_by"])
    assert "census: on, inside pid" in capsys.readouterr().out
    samples = load_run(tmp_path / "fixed").samples
    failed = [(s.cycle, s.instruments_failed) for s in samples if s.census is None or s.instruments_failed]
    assert failed == [], (seed, failed)
    last = samples[-1].census
    assert last.own_types == ["Registry"] and last.groups.get(MAP.removeprefix("census."), 0) == 0  # absent: empty
    assert "handles:TCPServerWrap" in last.groups and last.loop_ms is not None and last.loop_ms >= last.gc_ms


def test_a_node_that_did_not_load_the_agent_is_explained(tmp_path: Path, capsys) -> None:
    out = tmp_path / "plain"
    server = f"env -u NODE_OPTIONS node {NODE_CHAT} {{port}}"
    code = main(["run", "--server-cmd", server, "--inspect", "--scenario", "clean_close", "--cycles", "6",
                 "--out", str(out)])
    assert code != EXIT_USAGE
    assert "no census: the server's Node did not load the agent" in capsys.readouterr().out
    assert all(s.census is None for s in load_run(out).samples)


def test_a_snapshot_that_would_overrun_the_budget_is_not_taken_and_the_census_goes_on() -> None:
    """The agent estimates a snapshot's time from what the last few took (a prior of 80 ms per
    MB of used heap before the first): one that would overrun the census budget is refused,
    saying so, and a census within budget after it is taken, again and again."""
    plan = CensusPlan()
    env = {**os.environ, **plan.env()}
    server = subprocess.Popen(["node", str(NODE_CHAT), "0"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        found = plan.find(server.pid, timeout=10)
        assert found.url and found.token, found.note
        with pytest.raises(CensusError, match=r"heap snapshot not taken: it would take about [\d.]+ s \(a first "
                                              r"estimate; \d+ MB of heap in use\), over the census budget of 0\.1 s"):
            CensusClient(found.url, found.token, budget=0.1).take()
        roomy = CensusClient(found.url, found.token, budget=5.0)
        taken = [roomy.take() for _ in range(6)]
        assert all(c.groups and c.loop_ms is not None for c in taken)
    finally:
        server.kill()
        server.wait(timeout=10)
