"""Tell the machine's speed from the server's: change points of the control series.

Latency measured on a shared machine moves when the machine does. The control series
(observe/control.py: a fixed workload, a loopback round trip, the cores busy elsewhere) is
measured each cycle next to the probe. Here we find where it changed, with Pettitt's rank
test for one change point applied by binary segmentation (as Apache Otava and MongoDB's
performance CI segment a series with E-divisive means; Pettitt is its rank-based
single-point form, which scipy's ranks give in O(n log n) without another dependency).
Each failing latency signal is then re-judged within the stretches of constant machine
speed: a rise seen only across a change of the machine is "confounded"; a rise seen within
a stretch stands, because a leak drifts while a busy neighbour steps.

Before that, a wave's latency must be corroborated by the probe's (`corroborate`): a server
that does more work per request makes a lone client wait for it too, while a machine that
lost a core slows the waves (the server and the load generator contend) and not the probe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from harness.judge.rules import CONFOUNDED, DEGRADED, PASS, Config, MetricResult, mann_kendall_p, shift_rule
from harness.judge.signal import Signal

MAX_CHANGES = 3
MIN_STRETCH = 3  # cycles on each side of a change point
MIN_JUDGED = 6  # cycles a stretch needs before a latency signal is judged within it
# How much the machine must change to count, per control figure: a ratio of medians for the
# timings, cores for the load of other processes.
MIN_RATIO = {"cpu_ms": 1.25, "rtt_ms": 1.5}
MIN_CORES = 0.3
DRIFT_ALPHA = 0.01  # a side of the change that trends this significantly makes it a drift, not a step
PROBE_OF = {"reply": "probe.reply_ms", "first-token": "probe.first_token_ms"}  # a wave's step -> the probe's
LABELS = {"cpu_ms": "the fixed workload", "rtt_ms": "the loopback round trip", "others_cpu": "other processes' CPU"}


@dataclass
class MachineChange:
    """Where the machine's speed changed: `at` is the first cycle after the change."""

    at: int
    figure: str
    before: float
    after: float
    p_value: float
    shape: str  # "step" (flat on each side) or "drift" (it keeps moving)

    def describe(self) -> str:
        unit = " cores" if self.figure == "others_cpu" else " ms"
        size = (f"{self.after - self.before:+.2f}{unit}" if self.figure == "others_cpu"
                else f"x{self.after / max(self.before, 1e-9):.2f}")
        return (f"the machine changed at cycle {self.at}: {LABELS[self.figure]} {self.before:.3g} -> "
                f"{self.after:.3g}{unit} ({size}, a {self.shape}, Pettitt p={self.p_value:.2g})")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def pettitt(y: np.ndarray) -> tuple[int, float]:
    """Pettitt's test: (index of the first point after the most likely change, two-sided p)."""
    from scipy import stats  # imported here: see rules.py's note

    n = len(y)
    ranks = stats.rankdata(y)
    t = np.arange(1, n)
    u = 2 * np.cumsum(ranks)[:-1] - t * (n + 1)
    k = int(np.argmax(np.abs(u)))
    big_k = float(abs(u[k]))
    p = min(1.0, 2.0 * np.exp(-6.0 * big_k**2 / (n**3 + n**2)))
    return k + 1, p


def practical(figure: str, before: float, after: float) -> bool:
    if figure == "others_cpu":
        return abs(after - before) >= MIN_CORES
    low, high = sorted((max(before, 1e-9), max(after, 1e-9)))
    return high / low >= MIN_RATIO[figure]


def changes_of(figure: str, cycles: np.ndarray, y: np.ndarray, alpha: float) -> list[MachineChange]:
    """Binary segmentation: the most likely change, then again on each side, while significant."""
    found: list[MachineChange] = []
    stack = [(0, len(y))]
    while stack and len(found) < MAX_CHANGES:
        lo, hi = stack.pop()
        part = y[lo:hi]
        if len(part) < 2 * MIN_STRETCH or np.all(part == part[0]):
            continue
        k, p = pettitt(part)
        k = min(max(k, MIN_STRETCH), len(part) - MIN_STRETCH)
        before, after = float(np.median(part[:k])), float(np.median(part[k:]))
        if p >= alpha or not practical(figure, before, after):
            continue
        flat = all(mann_kendall_p(side) >= DRIFT_ALPHA and mann_kendall_p(-side) >= DRIFT_ALPHA
                   for side in (part[:k], part[k:]) if len(side) >= 3)
        found.append(MachineChange(int(cycles[lo + k]), figure, before, after, p, "step" if flat else "drift"))
        stack += [(lo, lo + k), (lo + k, hi)]
    return found


def machine_changes(control: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> list[MachineChange]:
    """Every change of the machine, by figure -> (cycles, values), in cycle order; where two
    figures changed within 2 cycles of each other, the more significant change is kept."""
    found = [c for figure, (cycles, y) in control.items() for c in changes_of(figure, cycles, y, alpha)]
    found.sort(key=lambda c: c.p_value)
    kept: list[MachineChange] = []
    for change in found:
        if all(abs(change.at - other.at) > 2 for other in kept):
            kept.append(change)
    return sorted(kept, key=lambda c: c.at)


def stretches(cycles: np.ndarray, changes: list[MachineChange]) -> list[np.ndarray]:
    """Masks over `cycles` of the stretches between the machine's changes."""
    edges = [-np.inf, *sorted(c.at for c in changes), np.inf]
    return [(cycles >= lo) & (cycles < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def confound(
    metric: MetricResult, cycles: np.ndarray, y: np.ndarray, changes: list[MachineChange], config: Config
) -> MetricResult:
    """Re-judge a degraded latency signal within the stretches of constant machine speed.
    Returns the metric, marked confounded when no stretch shows the rise by itself."""
    if metric.verdict != DEGRADED or not changes:
        return metric
    for mask in stretches(cycles, changes):
        if mask.sum() < MIN_JUDGED:
            continue
        within = shift_rule(metric.name, metric.kind, y[mask], config.min_latency_ratio, unit=metric.unit)
        if within.practical and (within.p_value or 1.0) < config.machine_alpha:
            first, last = int(cycles[mask][0]), int(cycles[mask][-1])
            metric.reason += f"; it rises within cycles {first}-{last} too, at constant machine speed"
            return metric
    metric.verdict = CONFOUNDED
    metric.reason += (f"; only across a change of the machine ({changes[0].describe()}), not within a "
                      f"stretch of constant speed: not the server's")
    return metric


def corroborate(metrics: dict[str, MetricResult], sessions: float, alpha: float) -> None:
    """Clear a degraded wave latency that the probe does not bear out. Extra work per request
    costs a lone client (the probe, alone on the quiet server) what it costs each request; a
    session in a wave waits for it at most once per session of the wave. So the probe's rise
    must be significant (at `alpha`, by itself) and at least the wave's rise over the wave's
    sessions. A rise only under load, with the probe flat, is the machine's: the server and the
    load generator contending for fewer cores than before."""
    for name, metric in metrics.items():
        signal = Signal.parse(name)
        if metric.verdict != DEGRADED or signal.source != "wave":
            continue
        probe = metrics.get(PROBE_OF.get(signal.figure.rpartition(".")[0], ""))
        if probe is None or None in (probe.first_median, probe.last_median, metric.first_median, metric.last_median):
            continue  # nothing to tell by: the wave's verdict stands
        waves, alone = metric.last_median - metric.first_median, probe.last_median - probe.first_median
        p = probe.p_value if probe.p_value is not None else 1.0
        if alone > 0 and alone * max(sessions, 1.0) >= waves and p < alpha:
            continue
        metric.verdict, metric.practical, metric.under_load = PASS, False, True
        metric.reason += (f"; not the server's: the probe, alone on the server, went from {probe.first_median:.3g} "
                          f"to {probe.last_median:.3g} ms ({alone:+.3g} ms, p={p:.2g}), where "
                          f"work the server added per request would cost at least {waves / max(sessions, 1.0):+.3g} ms "
                          f"(the waves' {waves:+.3g} ms over {sessions:g} sessions): the machine under load")
