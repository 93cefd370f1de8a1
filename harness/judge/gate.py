"""The CI regression gate: compare a run's summary with a committed baseline summary.

Absolute milliseconds differ between machines; ratios and per-session rates carry over,
so only those are compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.judge.rules import MetricResult

LATENCY_RATIO_MARGIN = 0.25
GROWTH_PER_SESSION_MARGIN = 0.05
MEMORY_MARGIN_BYTES = 8 * 1024


@dataclass
class Regression:
    metric: str
    what: str
    baseline: float
    current: float
    margin: float

    def reason(self) -> str:
        return (
            f"{self.metric}: {self.what} {self.current:.3g} is worse than the baseline's "
            f"{self.baseline:.3g} by more than {self.margin:g}"
        )


def what_ran(run: dict[str, Any]) -> tuple[str, str]:
    """(target, scenario) of a summary's or run.json's run section; a URL's port is left out,
    as a server on port 0 gets another one every run."""
    target = str(run.get("target") or "?")
    target = re.sub(r"^(wss?://[^/:]+):\d+", r"\1", target)
    return target, str(run.get("scenario") or "?")


class BaselineError(ValueError):
    """A file that cannot be read as a baseline summary: the message says which and why."""


@dataclass(frozen=True)
class Baseline:
    """A saved summary.json as the gate compares it: what ran (target, scenario), and its
    metrics, each a MetricResult compared field by field."""

    path: str
    target: str
    scenario: str
    metrics: dict[str, MetricResult]

    @classmethod
    def of(cls, summary: dict[str, Any], path: object) -> Baseline:
        """Read a summary.json's document; entries that are not metrics are skipped."""
        run, metrics = summary.get("run"), summary.get("metrics")
        if not isinstance(run, dict) or not isinstance(metrics, dict):
            raise BaselineError(f"baseline {path} is not a summary.json of a run (no 'run' or 'metrics'): not compared")
        out = {}
        for name, data in metrics.items():
            if isinstance(data, dict) and "kind" in data:
                try:
                    out[name] = MetricResult.from_dict({"name": name, **data})
                except (TypeError, ValueError, IndexError, KeyError):
                    continue
        target, scenario = what_ran(run)
        return cls(str(path), target, scenario, out)

    def refuses(self, current: dict[str, Any]) -> str | None:
        """Why this baseline cannot be compared with a run of `current` (its run.json), or None.
        Ratios carry over between machines, not between targets or client behaviours."""
        if not current:
            return None
        target, scenario = what_ran(current)
        if (target, scenario) != (self.target, self.scenario):
            return (f"baseline {self.path} is of another run: target {self.target!r}, scenario {self.scenario!r}; "
                    f"this run is target {target!r}, scenario {scenario!r}: not compared "
                    "(record a baseline of this target)")
        return None


def compare(
    current: dict[str, MetricResult],
    baseline: dict[str, MetricResult],
    ratio_margin: float = LATENCY_RATIO_MARGIN,
    growth_margin: float = GROWTH_PER_SESSION_MARGIN,
) -> list[Regression]:
    """Regressions of this run's metrics against the baseline's, metric by metric."""
    found = []
    for name, metric in current.items():
        base = baseline.get(name)
        if base is None:
            continue
        if metric.kind in ("latency", "idle_cpu", "rate"):
            cur, ref = metric.ratio, base.ratio
            if cur is not None and ref is not None and cur > ref + ratio_margin:
                found.append(Regression(name, "last/first ratio", ref, cur, ratio_margin))
        elif metric.kind in ("residue", "growth"):
            cur, ref = metric.slope_per_session, base.slope_per_session
            if cur is not None and ref is not None and cur > max(ref, 0.0) + growth_margin:
                found.append(Regression(name, "growth per session", ref, cur, growth_margin))
        elif metric.kind == "memory":
            cur, ref = metric.slope_per_session, base.slope_per_session
            # Only a trend the analysis itself found real: early allocator growth is noisy.
            margin = MEMORY_MARGIN_BYTES
            if metric.practical and cur is not None and ref is not None and cur > max(ref, 0.0) + margin:
                found.append(Regression(name, "bytes per session", ref, cur, margin))
    return found
