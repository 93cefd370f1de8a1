"""The CI regression gate: compare a run's summary with a committed baseline summary.

Absolute milliseconds differ between machines; ratios and per-session rates carry over,
so only those are compared.
"""

from __future__ import annotations

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


def baseline_metrics(summary: dict[str, Any]) -> dict[str, MetricResult]:
    """The metrics of a saved summary.json; entries that are not metrics are skipped."""
    metrics = summary.get("metrics")
    if not isinstance(metrics, dict):
        return {}
    out = {}
    for name, data in metrics.items():
        if isinstance(data, dict) and "kind" in data:
            try:
                out[name] = MetricResult.from_dict({"name": name, **data})
            except (TypeError, ValueError, IndexError):
                continue
    return out


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
