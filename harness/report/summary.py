"""Judge a saved run and write what a person and CI read: summary.json, summary.md,
junit.xml and the plots."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, UsageError
from harness.judge.analysis import DEGRADED, INCONCLUSIVE, LEAK, PASS, Analysis, Config, analyze
from harness.judge.gate import Regression, compare
from harness.report.plots import render_all
from harness.rundir.store import SUMMARY_FILE, Run, read_json

EXIT_CODES = {PASS: EXIT_PASS, LEAK: EXIT_FAIL, DEGRADED: EXIT_FAIL, INCONCLUSIVE: EXIT_INCONCLUSIVE}


@dataclass
class Judgement:
    run: Run
    analysis: Analysis
    regressions: list[Regression] = field(default_factory=list)
    baseline: Path | None = None

    @property
    def verdict(self) -> str:
        if self.regressions and self.analysis.verdict == PASS:
            return DEGRADED
        return self.analysis.verdict

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        data = self.analysis.to_dict()
        data["verdict"] = self.verdict
        data["run"] = self.run.meta
        data["status"] = self.run.status
        data["warnings"] = self.run.warnings
        data["gate"] = {
            "baseline": str(self.baseline) if self.baseline else None,
            "regressions": [r.reason() for r in self.regressions],
        }
        return data


def judge(run: Run, config: Config | None = None, baseline: Path | None = None) -> Judgement:
    analysis = analyze(run.lines, config, run.status)
    judgement = Judgement(run, analysis, baseline=baseline)
    if baseline is not None:
        reference = read_json(baseline)
        if reference is None:
            raise UsageError(f"baseline {baseline} does not exist")
        judgement.regressions = compare(judgement.to_dict(), reference)
    return judgement


def headline(j: Judgement) -> str:
    a = j.analysis
    text = f"{j.verdict.upper()}: {a.cycles} cycles ({a.warmup} warm-up), {a.sessions_per_cycle:g} sessions each"
    status = j.run.status or {}
    if status.get("state") == "decided":
        text += f"; decided at cycle {status['decided_at']} of {status.get('cycles_asked', '?')}"
    caught = [m.reason for m in a.failing()] + [r.reason() for r in j.regressions]
    lines = [text, *(f"  - {reason}" for reason in caught), *(f"  ! {r}" for r in a.reasons)]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def markdown(j: Judgement) -> str:
    a = j.analysis
    meta = j.run.meta
    out = [
        f"# {j.verdict.upper()}",
        "",
        f"Target: `{meta.get('target', '?')}`, scenario `{meta.get('scenario', '?')}`, "
        f"leaks: {', '.join(meta.get('leaks') or []) or 'none'}.  ",
        f"{a.cycles} cycles, {a.warmup} of them warm-up, {a.sessions_per_cycle:g} sessions per cycle.  ",
        f"Signals available: {', '.join(a.signals) or 'none'}.",
        "",
    ]
    if a.reasons:
        out += ["**Why this run cannot pass:**", "", *(f"- {r}" for r in a.reasons), ""]
    if j.regressions:
        out += [f"**Worse than baseline `{j.baseline}`:**", "", *(f"- {r.reason()}" for r in j.regressions), ""]
    out += [
        "| metric | verdict | first | last | ratio | per session | Holm p | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {LEAK: 0, DEGRADED: 1, INCONCLUSIVE: 2, PASS: 3}
    for m in sorted(a.metrics.values(), key=lambda m: (order[m.verdict], m.name)):
        out.append(
            f"| {m.name} | **{m.verdict}** | {fmt(m.first_median)} | {fmt(m.last_median)} | "
            f"{fmt(m.ratio)} | {fmt(m.slope_per_session)} | {fmt(m.p_adjusted, 2)} | {m.reason} |"
        )
    out += ["", "![latency](latency.png)", "![resources](resources.png)", "![memory](memory.png)", ""]
    return "\n".join(out)


def junit(j: Judgement) -> str:
    metrics = list(j.analysis.metrics.values())
    suite = ET.Element(
        "testsuite",
        name="leak-harness",
        tests=str(len(metrics) + 1),
        failures=str(len(j.analysis.failing()) + len(j.regressions)),
    )
    run_case = ET.SubElement(suite, "testcase", classname="harness.run", name="run is conclusive")
    if j.analysis.reasons:
        ET.SubElement(run_case, "error", message="; ".join(j.analysis.reasons))
    regressed = {r.metric: r for r in j.regressions}
    for m in metrics:
        case = ET.SubElement(suite, "testcase", classname=f"harness.{m.kind}", name=m.name)
        if m.verdict in (LEAK, DEGRADED):
            ET.SubElement(case, "failure", message=m.reason, type=m.verdict)
        elif m.name in regressed:
            ET.SubElement(case, "failure", message=regressed[m.name].reason(), type="regression")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write_reports(j: Judgement) -> list[Path]:
    run_dir = j.run.path
    files = [run_dir / SUMMARY_FILE, run_dir / "summary.md", run_dir / "junit.xml"]
    files[0].write_text(json.dumps(j.to_dict(), indent=2) + "\n")
    files[1].write_text(markdown(j))
    files[2].write_text(junit(j))
    if j.run.lines:
        files += render_all(j.run.lines, j.analysis, run_dir)
    return files
