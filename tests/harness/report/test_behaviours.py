"""The behaviour x signal table as summary.md, report.html and JUnit show it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.judge.verdict import judge
from harness.report.behaviours import table
from harness.report.html import write_html
from harness.report.summary import junit, markdown
from harness.rundir.records import Run
from tests.harness.judge.test_attribution import run_of


def leaking_run(tmp_path: Path) -> Run:
    def level(state, composition):  # audio drops leave a buffer each
        state["value"] += composition.get("audio_drop", 0)

    return Run(tmp_path, run_of(level))


def test_the_table_names_the_behaviour_with_its_interval_everywhere(tmp_path: Path) -> None:
    """One row per attributed signal, a cell only under the behaviour named; the same in
    summary.md and report.html; JUnit fails the audio_drop case alone."""
    j = judge(leaking_run(tmp_path))
    t = table(j.analysis)
    assert t is not None and t.behaviours == ["audio_drop"]
    assert [name for name, _ in t.rows] == ["shared_memory"]
    (rate, ci), = t.rows[0][1][:1]
    assert rate == "+1" and ci.startswith("[")
    assert "| shared_memory | +1 [" in markdown(j)
    html = write_html(j, tmp_path).read_text()
    assert "Which behaviour leaves it behind" in html and "<small>[1, 1]</small>" in html
    cases = {c.get("name"): c for c in ET.fromstring(junit(j).split("?>", 1)[1]) if c.get("classname") == "harness.behaviour"}
    assert cases["audio_drop"].find("failure") is not None
    assert all(cases[b].find("failure") is None for b in cases if b != "audio_drop")
