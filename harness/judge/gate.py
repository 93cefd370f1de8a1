"""The CI regression gate: compare a run's summary with a committed baseline summary.

Absolute milliseconds differ between machines; ratios and per-session rates carry over,
so only those are compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def compare(
    summary: dict[str, Any],
    baseline: dict[str, Any],
    ratio_margin: float = LATENCY_RATIO_MARGIN,
    growth_margin: float = GROWTH_PER_SESSION_MARGIN,
) -> list[Regression]:
    """Regressions of `summary` against `baseline`, metric by metric."""
    found = []
    base_metrics = baseline.get("metrics", {})
    for name, metric in summary.get("metrics", {}).items():
        base = base_metrics.get(name)
        if base is None:
            continue
        if metric.get("kind") in ("latency", "idle_cpu", "rate"):
            cur, ref = metric.get("ratio"), base.get("ratio")
            if cur is not None and ref is not None and cur > ref + ratio_margin:
                found.append(Regression(name, "last/first ratio", ref, cur, ratio_margin))
        elif metric.get("kind") in ("residue", "growth"):
            cur, ref = metric.get("slope_per_session"), base.get("slope_per_session")
            if cur is not None and ref is not None and cur > max(ref, 0.0) + growth_margin:
                found.append(Regression(name, "growth per session", ref, cur, growth_margin))
        elif metric.get("kind") == "memory":
            cur, ref = metric.get("slope_per_session"), base.get("slope_per_session")
            # Only a trend the analysis itself found real: early allocator growth is noisy.
            margin = MEMORY_MARGIN_BYTES
            if (
                metric.get("practical")
                and cur is not None
                and ref is not None
                and cur > max(ref, 0.0) + margin
            ):
                found.append(Regression(name, "bytes per session", ref, cur, margin))
    return found
