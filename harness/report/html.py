"""report.html: one self-contained file a person opens or mails. The verdict and its
findings first, then the charts (the PNGs the run drew, embedded), the per-signal table,
and what was run, where, with what. No script, nothing fetched from the network."""

from __future__ import annotations

import base64
import platform
import re
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from harness import __version__
from harness.judge.rules import MetricResult
from harness.judge.verdict import Judgement
from harness.report.behaviours import table
from harness.report.census import alloc_line, overview

REPORT_FILE = "report.html"
CHARTS = (
    ("latency.png", "Reply latency vs cycle", "probe and wave latency per cycle, warm-up shaded, fitted trend dashed"),
    ("resources.png", "Server resources after each wave", "per-client gauges, level counters and idle CPU"),
    ("memory.png", "Server memory", "resident memory per cycle with the later half's trend"),
)
PACKAGES = ("locust", "websockets", "scipy", "numpy", "matplotlib", "psutil")

_env = Environment(loader=PackageLoader("harness.report", "templates"), autoescape=select_autoescape())


def ticks(text: str) -> Markup:
    """A finding's `names` in backticks (as summary.md writes them) as <code>, the rest escaped."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


_env.filters["ticks"] = ticks


def rate(m: MetricResult) -> str:
    """A failing metric's size in words: per session for counters, a ratio for latencies."""
    if m.kind in ("latency", "rate", "idle_cpu") and m.ratio is not None:
        return f"x{m.ratio:.2f} ({m.first_median:.3g} to {m.last_median:.3g} {m.unit})".replace(" )", ")")
    if m.kind == "memory" and m.slope_per_session is not None:
        return f"{m.slope_per_session / 1024:+.1f} KiB per session"
    if m.slope_per_session is not None and m.slope_per_session > 0:
        return f"{m.slope_per_session:+.2f} per session"
    return f"stays at {m.last_median:g}" if m.last_median is not None else ""


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def versions() -> dict[str, str]:
    found = {"harness": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def context(j: Judgement, run_dir: Path) -> dict[str, Any]:
    a, run = j.analysis, j.run
    failing = a.failing()
    options = run.meta.options if run.meta else None
    return {
        "verdict": j.verdict,
        "cycles": a.cycles, "warmup": a.warmup, "sessions": a.sessions_per_cycle,
        "scenario": options.scenario if options else "?",
        "target": options.label if options else "?",
        "leaks": ", ".join(options.leaks) if options and options.leaks else "none",
        "findings": [{"name": m.name, "rate": rate(m), "reason": m.reason} for m in failing],
        "reasons": a.other_reasons(), "machine": a.machine_lines(), "too_short": [str(short) for short in a.too_short],
        "instruments": [f.describe() for f in a.instruments],
        "bounded": [m.reason for m in a.bounded()],
        "instruments_short": "; ".join(f.short() for f in a.instruments),
        "failures": a.failures, "failed": sum(a.failures.values()), "attempted": a.sessions,
        "regressions": [r.reason() for r in j.regressions], "refused": j.baseline_refused,
        "baseline": str(j.baseline) if j.baseline else None,
        "signals": a.signals,
        "charts": [{"title": title, "alt": alt, "src": data_uri(run_dir / name)}
                   for name, title, alt in CHARTS if (run_dir / name).exists()],
        "metrics": a.ordered(),
        "options": sorted((k, v) for k, v in (options.to_meta() if options else {}).items()
                          if v not in (None, "", [], False)),
        "endpoint": endpoint(j),
        "census": census_context(j),
        "behaviours": table(a), "attribution": a.attribution,
        "status": run.status.to_dict() if run.status else None,
        "warnings": run.warnings,
        "versions": versions(),
        "system": f"{platform.system()} {platform.release()} ({platform.machine()}), "
                  f"{sys.implementation.name}",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def endpoint(j: Judgement) -> dict[str, Any] | None:
    """Where the server was; the census agent's token stays in run.json."""
    target = j.run.meta.target if j.run.meta else None
    if target is None:
        return None
    return {k: v for k, v in target.to_dict().items() if k != "census_token" and v not in (None, "", [], False)}


def census_context(j: Judgement) -> dict[str, Any] | None:
    census = overview(j)
    if census is None:
        return None
    return {"lines": census.lines(), "alloc": [alloc_line(line) for line in census.alloc]}


def write_html(j: Judgement, run_dir: Path) -> Path:
    """Render report.html from the judgement and the charts already in `run_dir`."""
    path = run_dir / REPORT_FILE
    path.write_text(_env.get_template("report.html.j2").render(**context(j, run_dir)), encoding="utf-8")
    return path
