"""The kinds of signal, as one table: which signals of a run each kind holds, the rule that
judges one, and whether attribution reads it (always, only where its own rule failed, or
never). `analyze` loops over `KINDS`; a new kind is one new entry. Pure.

Attribution "always": a level of state (a per-client gauge, a level gauge, fds, threads, a
census group, a histogram's mean per request) is regressed on the waves' behaviours whether
or not its own rule failed: a leak one behaviour causes and another clears is flat under a
fixed mix. "failing": memory and the probe's latency wander, and are attributed only once
their own rule found them growing. "": a rate or a wave's own latency depends on the wave it
was measured in, and a page figure is bounded, not regressed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.judge.rules import (
    DEGRADED,
    LEAK,
    Config,
    MetricResult,
    bound_rule,
    census_rule,
    growth_rule,
    memory_rule,
    orphan_rule,
    residue_rule,
    shift_rule,
)
from harness.judge.series import (
    LATENCY_SERIES,
    PROCESS_LEVELS,
    Series,
    census_names,
    clean,
    columns_of,
    counter_names,
    points,
    rate_series,
    rss_series,
    series,
)
from harness.judge.signal import Signal
from harness.rundir.columns import Columns

# Figures the chat page reports (--scenario page) and the most each may be.
PAGE_BOUNDS = {
    "subscriptions_message": 1.0,
    "subscriptions_state": 1.0,
    "sockets_open_per_tab": 1.0,
    "handled_per_received": 1.0,
}


@dataclass
class Evidence:
    """One run as the kinds judge it, and what their rules leave for the later steps."""

    samples: Columns  # (samples in memory are made columns)
    warmup: int
    per_session: float
    config: Config
    standard: np.ndarray  # the cycles that ran the run's most common wave (analysis.standard_waves)
    lengths: dict[str, int] = field(default_factory=dict)  # cycles each tested signal was judged over
    latency: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # for confound.py
    census_groups: int = 0  # groups the census tracked; only those that grew are kept

    def __post_init__(self) -> None:
        self.samples = columns_of(self.samples)
        self.standard = np.asarray(self.standard, dtype=bool)

    @property
    def post(self) -> Columns:
        return self.samples[self.warmup:]

    @cached_property
    def rates(self) -> dict[str, Series]:
        """The run's counters per cycle and histograms' means, over the whole run."""
        return rate_series(self.samples)


@dataclass(frozen=True)
class Kind:
    """A kind of signal: `names` lists its signals in a run, `rule` judges one (None: too few
    points), `keep` picks which results become metrics, `attributed` says whether attribution
    reads a signal ("always", "failing" or ""), `read` gives its whole-run series."""

    name: str
    names: Callable[[Evidence], list[str]]
    rule: Callable[[Evidence, str], MetricResult | None]
    attributed: Callable[[str], str] = lambda name: ""
    read: Callable[[Evidence, str], Series] = lambda ev, name: series(ev.samples, name)
    keep: Callable[[Evidence, list[MetricResult]], list[MetricResult]] = lambda evidence, results: results


def residue(ev: Evidence, name: str) -> MetricResult | None:
    y = clean(series(ev.post, name))
    return residue_rule(name, y, ev.per_session, ev.config) if len(y) else None


def growth(ev: Evidence, name: str) -> MetricResult | None:
    cycles, y = points(ev.post, name)
    return growth_rule(name, y, ev.per_session, ev.config, cycles) if len(y) >= 2 else None


def census(ev: Evidence, name: str) -> MetricResult | None:
    cycles, y = points(ev.post, name)
    if Signal.parse(name).orphans:
        return orphan_rule(name, y, ev.per_session, ev.config) if len(y) else None
    return census_rule(name, y, ev.per_session, ev.config, cycles)


def census_order(samples: Columns) -> Callable[[MetricResult], tuple[int, bool, float]]:
    """Groups in the server's own code first (its tasks, containers, classes; what its
    developer can act on), then what a call's scope holds (a Node connection handler's
    closure: retained because something above holds the closure), then library objects;
    within each, tasks that hold a closed connection first (they say whose they are), then
    most per session first."""
    own = {f"objects:{t}" for types in set(samples.own_types.values()) for t in types}

    def key(result: MetricResult) -> tuple[int, bool, float]:
        signal = Signal.parse(result.name)
        mine = signal.figure in own or signal.census_kind != "objects"
        rank = (1 if signal.in_a_call else 0) if mine else 2
        return (rank, not signal.orphans, -(result.slope_per_session or result.slope_per_cycle or 0.0))

    return key


def census_kept(ev: Evidence, results: list[MetricResult]) -> list[MetricResult]:
    """Groups that grew, and bounded groups of the server's own code (a library's are noise);
    flat groups stay out: a census tracks hundreds."""
    ev.census_groups = len(results)
    order = census_order(ev.post)
    return sorted((r for r in results if r.verdict == LEAK or (r.bounded is not None and order(r)[0] == 0)),
                  key=order)


def page(ev: Evidence, name: str) -> MetricResult | None:
    y = clean(series(ev.post, name))
    return bound_rule(name, y, PAGE_BOUNDS[Signal.parse(name).figure], ev.config) if len(y) else None


def memory(ev: Evidence, name: str) -> MetricResult | None:
    rss = clean(rss_series(ev.post))
    ev.lengths[name] = len(rss)
    return memory_rule(name, rss, ev.per_session, ev.config) if len(rss) >= 3 else None


def rate(ev: Evidence, name: str) -> MetricResult | None:
    values = ev.rates[name]
    y = clean(values[ev.standard])
    if len(y) < 6:
        return None
    ev.lengths[name] = len(y)
    return shift_rule(name, "rate", y, ev.config.min_latency_ratio, unit="")


def idle_cpu(ev: Evidence, name: str) -> MetricResult | None:
    idle = clean(series(ev.post, name))
    if len(idle) < 6:
        return None
    return shift_rule(name, "idle_cpu", idle, 2.0, floor=ev.config.min_idle_cpu, unit="cores")


def latency(ev: Evidence, name: str) -> MetricResult | None:
    """The probe runs alone, so every cycle's probe is comparable; a wave's own latency only
    among the waves that ran the same behaviours."""
    keep = ev.standard if Signal.parse(name).source == "wave" else np.arange(len(ev.samples)) >= ev.warmup
    cycles, y = points(ev.samples, name, keep)
    if len(y) < 6:
        return None
    ev.latency[name] = cycles, y
    ev.lengths[name] = len(y)
    return shift_rule(name, "latency", y, ev.config.min_latency_ratio)


def mean_always(name: str) -> str:
    return "always" if Signal.parse(name).derived == "mean_per_cycle" else ""


KINDS = (
    Kind("residue", lambda ev: counter_names(ev.post)[0], residue, lambda name: "always"),
    Kind("growth", lambda ev: counter_names(ev.post)[1], growth, lambda name: "always"),
    Kind("census", lambda ev: census_names(ev.post), census, lambda name: "always", keep=census_kept),
    Kind("process", lambda ev: [f"process.{n}" for n in PROCESS_LEVELS], growth, lambda name: "always"),
    Kind("page", lambda ev: [f"page.{n}" for n in PAGE_BOUNDS], page),
    Kind("memory", lambda ev: ["memory.rss"], memory, lambda name: "failing", lambda ev, name: rss_series(ev.samples)),
    Kind("rate", lambda ev: list(ev.rates), rate, mean_always, lambda ev, name: ev.rates[name]),
    Kind("idle_cpu", lambda ev: ["process.idle_cpu"], idle_cpu, lambda name: "failing"),
    Kind("latency", lambda ev: list(LATENCY_SERIES), latency,
         lambda name: "failing" if Signal.parse(name).source == "probe" else ""),
)


def judge_kinds(ev: Evidence) -> dict[str, MetricResult]:
    """Every kind's metrics, in the table's order."""
    metrics: dict[str, MetricResult] = {}
    for kind in KINDS:
        results = [r for name in kind.names(ev) if (r := kind.rule(ev, name)) is not None]
        for result in kind.keep(ev, results):
            metrics[result.name] = result
    return metrics


def attributable(ev: Evidence, metrics: dict[str, MetricResult]) -> tuple[dict[str, Series], dict[str, Series]]:
    """(always attributed, attributed where their own rule failed): name -> whole-run series.
    An always-attributed signal is read whether or not its rule kept it (a flat census group)."""
    hard: dict[str, Series] = {}
    soft: dict[str, Series] = {}
    for kind in KINDS:
        for name in kind.names(ev):
            mode = kind.attributed(name)
            if mode == "always":
                hard[name] = kind.read(ev, name)
            elif mode == "failing" and name in metrics and metrics[name].verdict in (LEAK, DEGRADED):
                soft[name] = kind.read(ev, name)
    return hard, {name: values for name, values in soft.items() if name not in hard}
