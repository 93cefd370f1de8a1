"""Power and onset on servers written for these tests (FastAPI on uvicorn[standard], with
--inspect): a small leak that only two behaviours cause, and a leak that begins mid-run, are
each attributed to the behaviours that cause them in a default 50-cycle run (a drawn seed,
written in the failure message so it can be replayed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_FAIL

pytestmark = pytest.mark.integration

APP = Path(__file__).parent / "servers" / "fastapi_chat.py"
ENTRIES = "census.entries:__main__.SESSIONS"


def run(tmp_path: Path, leak: str) -> tuple[int, dict, list[dict], int | None]:
    pytest.importorskip("fastapi")
    out = tmp_path / leak
    code = main(["run", "--cycles", "50", "--server-cmd", f"{sys.executable} {APP} --port {{port}} --leak {leak}",
                 "--inspect", "--out", str(out)])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    seed = json.loads((out / "run.json").read_text()).get("seed")
    return code, json.loads((out / "summary.json").read_text()), samples, seed


def test_a_sparse_leak_of_two_behaviours_is_attributed_to_them(tmp_path: Path) -> None:
    """Every fifth session that heartbeats (audio drops, page sessions) leaves its entry: 0.2
    per session of those two behaviours, nothing of the others."""
    code, result, _, seed = run(tmp_path, "sparse")
    metric = result["metrics"][ENTRIES]
    assert code == EXIT_FAIL and metric["verdict"] == "leak", (seed, metric["reason"])
    assert sorted(metric["by_behaviour"]) == ["audio_drop", "page_session"], (seed, metric["reason"])
    for effect in metric["by_behaviour"].values():
        assert effect["per_session"] == pytest.approx(0.2, abs=0.05), (seed, effect)


def test_a_leak_that_begins_mid_run_is_attributed_with_its_onset(tmp_path: Path) -> None:
    """From the 150th connection on, every session leaves its entry (the probe's too): the run
    says the cycle it began, and names the behaviours seen since at one entry per session, or
    at 1.1 saying so where no probe-only wave came after the onset to tell the probe's share
    apart (10 sessions a wave)."""
    code, result, samples, seed = run(tmp_path, "late")
    metric = result["metrics"][ENTRIES]
    assert code == EXIT_FAIL and metric["verdict"] == "leak", (seed, metric["reason"])
    connections, began = 0, None
    for sample in samples:  # each session connects once, and so does each cycle's probe
        connections += sample["sessions"]["attempted"] + 1
        if began is None and connections > 150:
            began = sample["cycle"]
    onset = metric["onset_cycle"]
    assert onset is not None and abs(onset - began) <= 1, (seed, onset, began)
    assert f"began at cycle {metric['onset_cycle']}" in metric["reason"]
    assert len(metric["by_behaviour"]) >= 4, (seed, metric["reason"])
    for effect in metric["by_behaviour"].values():
        share = 0.1 if effect.get("with_probe") else 0.0
        assert effect["per_session"] == pytest.approx(1.0 + share, abs=0.05), (seed, effect)
