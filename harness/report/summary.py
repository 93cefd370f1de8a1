"""What a person and CI read of a Judgement: the headline, summary.json, summary.md,
junit.xml and the plots; and the one progress line per cycle."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from harness.judge.analysis import CONFOUNDED, DEGRADED, LEAK
from harness.judge.series import Samples, columns_of
from harness.judge.verdict import Judgement
from harness.options import BEHAVIOURS
from harness.report.behaviours import blamed
from harness.report.behaviours import markdown as behaviour_section
from harness.report.census import alloc_line, overview
from harness.report.html import write_html
from harness.rundir.records import PHASES, CycleSample
from harness.rundir.store import write_summary

HEADLINE_CENSUS = 5  # census groups named on the terminal; summary.md has them all


def progress_line(sample: CycleSample, cycles: int) -> str:
    """One human line per cycle: the sessions, the probe, live tasks, RSS, and what the
    census cost (the time it took inside the server, most of it a full collection)."""
    sessions, probe = sample.sessions, sample.probe
    probe_text = f"{probe.reply_ms:.1f} ms" if probe.ok and probe.reply_ms is not None else f"FAILED ({probe.error})"
    parts = [
        f"cycle {sample.cycle}/{cycles}",
        wave_label(sample),
        f"sessions {sessions.completed} ok/{sessions.failed} failed",
        f"probe {probe_text}",
    ]
    if "chat_asyncio_tasks" in sample.server:
        parts.append(f"tasks {sample.server['chat_asyncio_tasks']:.0f}")
    if sample.process is not None:
        parts.append(f"rss {sample.process.rss_bytes / 2**20:.1f} MiB")
    if sample.census is not None and sample.census.took_ms is not None:
        parts.append(f"census {sample.census.took_ms:.0f} ms")
    return " | ".join(parts)


def wave_label(sample: CycleSample) -> str:
    """What the wave ran: one behaviour alone, the standard mix, or nothing (the probe alone)."""
    composition = sample.composition
    if not composition:
        return "probe only" if sample.sessions.attempted == 0 else "wave"
    if len(composition) == 1:
        return next(iter(composition))
    return "mix"


def headline(j: Judgement) -> str:
    a = j.analysis
    text = f"{j.verdict.upper()}: {a.cycles} cycles ({a.warmup} warm-up), {a.sessions_per_cycle:g} sessions each"
    status = j.run.status
    if status is not None and status.state == "decided":
        text += f"; decided at cycle {status.decided_at} of {status.cycles_asked or '?'}"
    text += "".join(f"; {failures.short()}" for failures in a.instruments)
    failing = a.failing()
    census = [m for m in failing if m.kind == "census"]
    caught = [m.reason for m in failing if m.kind != "census"] + [m.reason for m in census[:HEADLINE_CENSUS]]
    if len(census) > HEADLINE_CENSUS:
        caught.append(f"... and {len(census) - HEADLINE_CENSUS} more census groups that grew (summary.md)")
    caught += [r.reason() for r in j.regressions]
    refused = [j.baseline_refused] if j.baseline_refused else []
    unsure = [*(f.describe() for f in a.instruments), *a.other_reasons(), *refused]
    lines = [text, *(f"  - {reason}" for reason in caught), *(f"  ! {r}" for r in unsure)]
    lines += [f"  = {m.reason}" for m in a.bounded()]
    lines += [f"  ~ {line}" for line in a.machine_lines()]
    lines += [f"  ? {line}" for line in a.too_short]
    return "\n".join(lines)



def where_cycles_go(samples: Samples) -> str:
    """The median of each phase over the cycles that timed them, and of what the phases do not
    account for between one cycle's start and the next's (the Locust round trip, writing the
    sample, judging it): "wave 0.06, quiesce 0.05, ..., other 0.3 of 0.55"."""
    columns = columns_of(samples)
    timed_phases = [columns.column(f"phases.{name}") for name in columns.section("phases")]
    if not timed_phases:
        return ""
    phases = np.column_stack(timed_phases)
    timed = ~np.isnan(phases).all(axis=1)
    parts = [f"{name} {float(np.median(np.nan_to_num(columns.column(f'phases.{name}')[timed]))):.3g}"
             for name in PHASES]
    spent, time = np.nansum(phases, axis=1), columns.column("time")
    pairs = timed[:-1] & (np.nan_to_num(time[1:]) != 0)  # a cycle that timed its phases, and the next's start
    if pairs.any():
        totals = (time[1:] - time[:-1])[pairs]
        parts.append(f"other {float(np.median(totals - spent[:-1][pairs])):.3g} of {float(np.median(totals)):.3g}")
    return ", ".join(parts)


def fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def markdown(j: Judgement) -> str:
    a = j.analysis
    options = j.run.meta.options if j.run.meta else None
    out = [
        f"# {j.verdict.upper()}",
        "",
        f"Target: `{options.label if options else '?'}`, scenario `{options.scenario if options else '?'}`, "
        f"leaks: {', '.join(options.leaks if options else ()) or 'none'}.  ",
        f"{a.cycles} cycles, {a.warmup} of them warm-up, {a.sessions_per_cycle:g} sessions per cycle.  ",
        f"Signals available: {', '.join(a.signals) or 'none'}.",
        "",
    ]
    if a.instruments:
        out += ["**Instruments that failed:** " + "; ".join(f.short() for f in a.instruments) + ".", "",
                *(f"- {f.describe()}" for f in a.instruments), ""]
    if a.other_reasons():
        out += ["**Why this run cannot pass:**", "", *(f"- {r}" for r in a.other_reasons()), ""]
    if a.bounded():
        out += ["**Retained, but bounded (no leak):**", "", *(f"- {m.reason}" for m in a.bounded()), ""]
    if a.machine_lines():
        out += ["**The machine, not the server (control series, and the probe against the waves):**", "",
                *(f"- {line}" for line in a.machine_lines()), ""]
    if a.too_short:
        out += ["**Too short to judge:**", "", *(f"- {line}" for line in a.too_short), ""]
    if a.failures:
        out += [f"**Sessions that failed:** {sum(a.failures.values())} of {a.sessions} "
                f"({', '.join(f'{reason} x{n}' for reason, n in a.failures.items())}).", ""]
    if j.regressions:
        out += [f"**Worse than baseline `{j.baseline}`:**", "", *(f"- {r.reason()}" for r in j.regressions), ""]
    if j.baseline_refused:
        out += [f"**Baseline not compared:** {j.baseline_refused}", ""]
    census = overview(j)
    if census is not None:
        out += ["**Inside the server (census):**", "", *(f"- {line}" for line in census.lines())]
        if census.alloc:
            out += [f"- Allocation lines that grew most since cycle {a.warmup + 1} (tracemalloc):",
                    *(f"  - `{alloc_line(line)}`" for line in census.alloc)]
        out.append("")
    out += behaviour_section(a)
    phases = where_cycles_go(j.run.samples)
    if phases:
        out += [f"**Where a cycle goes** (median seconds per cycle): {phases}.", ""]
    out += [
        "| metric | verdict | first | last | ratio | per session | Holm p | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in a.ordered():
        out.append(
            f"| {m.name} | **{m.verdict}** | {fmt(m.first_median)} | {fmt(m.last_median)} | "
            f"{fmt(m.ratio)} | {fmt(m.slope_per_session)} | {fmt(m.p_adjusted, 2)} | {m.reason} |"
        )
    out += ["", "![latency](latency.png)", "![resources](resources.png)", "![memory](memory.png)", "",
            "The same with the run's parameters, as one file to open or mail: [report.html](report.html).", ""]
    return "\n".join(out)


def junit(j: Judgement) -> str:
    metrics = list(j.analysis.metrics.values())
    blame = blamed(j.analysis)
    suite = ET.Element(
        "testsuite",
        name="leak-harness",
        tests=str(len(metrics) + 1 + (len(BEHAVIOURS) if j.analysis.attribution is None else 0)),
        failures=str(len(j.analysis.failing()) + len(j.regressions) + len(blame)),
    )
    run_case = ET.SubElement(suite, "testcase", classname="harness.run", name="run is conclusive")
    unsure = j.analysis.reasons + [str(s) for s in j.analysis.too_short] + [m.reason for m in j.analysis.confounded()]
    if unsure:
        ET.SubElement(run_case, "error", message="; ".join(unsure))
    regressed = {r.metric: r for r in j.regressions}
    for behaviour in BEHAVIOURS if j.analysis.attribution is None else ():
        case = ET.SubElement(suite, "testcase", classname="harness.behaviour", name=behaviour)
        if behaviour in blame:
            ET.SubElement(case, "failure", type=LEAK,
                          message=f"{behaviour} sessions leave behind: {', '.join(blame[behaviour])}")
    for m in metrics:
        case = ET.SubElement(suite, "testcase", classname=f"harness.{m.kind}", name=m.name)
        if m.verdict in (LEAK, DEGRADED):
            ET.SubElement(case, "failure", message=m.reason, type=m.verdict)
        elif m.verdict == CONFOUNDED:
            ET.SubElement(case, "skipped", message=m.reason)
        elif m.name in regressed:
            ET.SubElement(case, "failure", message=regressed[m.name].reason(), type="regression")
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def write_reports(j: Judgement, figures: list[Path] | None = None) -> list[Path]:
    """Every report of a judged run; `figures` already drawn for this judgement (ahead.py)."""
    run_dir = j.run.path
    files = [write_summary(run_dir, j.to_dict()), run_dir / "summary.md", run_dir / "junit.xml"]
    files[1].write_text(markdown(j))
    files[2].write_text(junit(j))
    if figures is not None:
        files += figures
    elif j.run.samples:
        from harness.report.plots import render_all  # matplotlib: not in the Locust child, which only prints

        files += render_all(j.run.samples, j.analysis, run_dir)
    files.append(write_html(j, run_dir))
    return files
