"""Verdicts from samples: pure functions, no I/O, no matplotlib.

This module picks the series out of the samples (series.py) and applies the rules of rules.py.
Each kind of signal has its own rule (README "How verdicts are made"):
- residue: per-client gauges must be back to 0 after quiesce; a value that stays above 0
  in every one of the last cycles is a leak.
- growth: level counters (asyncio tasks, fds, threads, CLOSE_WAIT, unknown gauges) leak
  when the floor of every post-warm-up window is at least 1 above the one before
  (CPython's -R rule, on window minima so a transient task does not count).
- census: each group the census agent counts inside the server (tasks by coroutine, objects
  by type, container entries, threads) under the growth rule; only groups that grow are kept.
  Tasks that hold a closed connection (orphans) are residue: they must be back to 0.
- memory: Theil-Sen slope with its CI, Mann-Kendall trend test, a minimum practical size
  (bytes per session and in total) and persistence (the later half still grows).
- latency and idle CPU: last window vs first window, one-sided Mann-Whitney AND a minimum
  ratio; a wave's latency only where the lone probe's rose with it (confound.corroborate).
The p-values of all trend tests are Holm-corrected together. Then a degraded latency that
rose only across a change of the machine (confound.py) is confounded, and a signal the
run's length cannot judge (power.py) keeps the run from passing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.judge.by_behaviour import attribute
from harness.judge.confound import MachineChange, confound, corroborate, machine_changes
from harness.judge.drain import check_drain
from harness.judge.instruments import InstrumentFailures, instrument_failures
from harness.judge.kinds import Evidence, attributable, judge_kinds
from harness.judge.power import TooShort, too_short
from harness.judge.rules import (
    CONFOUNDED,
    DEGRADED,
    INCONCLUSIVE,
    LEAK,
    PASS,
    Config,
    MetricResult,
    holm,
    warmup_of,
)
from harness.judge.series import (
    CONTROL_SERIES,
    Samples,
    columns_of,
    points,
    rate_series,
)
from harness.judge.signal import Signal, own_bundled_figure
from harness.rundir.columns import Columns
from harness.rundir.records import RunStatus


@dataclass
class Analysis:
    verdict: str
    reasons: list[str]
    cycles: int
    warmup: int
    sessions_per_cycle: float
    signals: list[str]
    metrics: dict[str, MetricResult] = field(default_factory=dict)
    sessions: int = 0  # attempted over the whole run
    failures: dict[str, int] = field(default_factory=dict)  # failed sessions by reason, whole run
    census_groups: int = 0  # groups the census tracked; only those that grew are in `metrics`
    attribution: str | None = None  # why leaks could not be attributed to behaviours, or None
    attributed: list[str] = field(default_factory=list)  # the signals whose behaviours were named
    machine: list[MachineChange] = field(default_factory=list)  # where the machine's speed changed
    too_short: list[TooShort] = field(default_factory=list)  # signals this run was too short to judge
    instruments: list[InstrumentFailures] = field(default_factory=list)  # the census or scrapes that failed

    def failing(self) -> list[MetricResult]:
        return [m for m in self.metrics.values() if m.verdict in (LEAK, DEGRADED)]

    def bounded(self) -> list[MetricResult]:
        """Retained but no leak, said so, not failed: levels that rose and then stopped (caches
        that filled), and levels held a while and released after the last wave (the drain check)."""
        return [m for m in self.metrics.values()
                if m.verdict == PASS and (m.bounded is not None or (m.drain or {}).get("released_after_s") is not None)]

    def confounded(self) -> list[MetricResult]:
        return [m for m in self.metrics.values() if m.verdict == CONFOUNDED]

    def other_reasons(self) -> list[str]:
        """The reasons this run cannot pass, less the failed instruments (said on their own)."""
        said = {failures.describe() for failures in self.instruments}
        return [reason for reason in self.reasons if reason not in said]

    def machine_lines(self) -> list[str]:
        """Where the machine's speed changed, and the verdicts that change took from the server;
        then the waves' latency rises the probe did not bear out."""
        lines = [change.describe() for change in self.machine]
        touched = [m.name for m in self.confounded()]
        if touched:
            lines.append(f"confounded by it, not the server's: {', '.join(touched)}")
        return lines + [m.reason for m in self.under_load()]

    def under_load(self) -> list[MetricResult]:
        """The waves' latency rises the probe did not bear out (confound.corroborate)."""
        return [m for m in self.metrics.values() if m.under_load]

    def ordered(self) -> list[MetricResult]:
        """Every metric, leaks first, then degraded, confounded, inconclusive, pass; by name within."""
        severity = {LEAK: 0, DEGRADED: 1, CONFOUNDED: 2, INCONCLUSIVE: 3, PASS: 4}
        return sorted(self.metrics.values(), key=lambda m: (severity[m.verdict], m.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "cycles": self.cycles,
            "warmup": self.warmup,
            "sessions_per_cycle": self.sessions_per_cycle,
            "signals": self.signals,
            "caught_by": [m.name for m in self.failing()],
            "sessions": self.sessions,
            "session_failures": self.failures,
            "census_groups": self.census_groups,
            "attribution": self.attribution or "by behaviour",
            "machine": [change.to_dict() for change in self.machine],
            "too_short": [str(short) for short in self.too_short],
            "instruments_failed": [failures.to_dict() for failures in self.instruments],
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
        }


def analyze(
    samples: Samples,
    config: Config | None = None,
    status: RunStatus | None = None,
    drain: Samples | None = None,
) -> Analysis:
    """Judge one run from its samples (and the driver's status, and the drain check's samples,
    if any), as columns (series.py): a live run's samples are turned into them here."""
    config = config or Config()
    samples = columns_of(samples)
    cycles = len(samples)
    # A run stopped early, or judged live, keeps the warm-up of the run that was planned.
    planned = (status.cycles_asked if status else None) or config.planned_cycles or cycles
    warmup = warmup_of(config.warmup, planned)
    post = samples[warmup:]
    attempted = post.column("sessions.attempted")
    per_session = float(np.mean(attempted)) if len(attempted) else 0.0
    reasons = vacuity_reasons(samples, post, config, status)
    instruments = instrument_failures(samples, warmup, config.min_post_warmup_cycles)
    reasons += [failures.describe() for failures in instruments if not failures.enough]
    analysis = Analysis(PASS, reasons, cycles, warmup, per_session, signals=[],
                        sessions=int(np.sum(samples.column("sessions.attempted"))), failures=failure_tally(samples),
                        instruments=instruments)
    if len(post) < config.min_post_warmup_cycles:
        analysis.verdict = INCONCLUSIVE
        return analysis

    evidence = Evidence(samples, warmup, per_session, config, standard_waves(samples, warmup))
    metrics = judge_kinds(evidence)
    analysis.census_groups = evidence.census_groups
    lengths, latency = evidence.lengths, evidence.latency

    tested = [m for m in metrics.values() if m.p_value is not None]
    for metric, adjusted in zip(tested, holm([m.p_value or 1.0 for m in tested]), strict=True):
        metric.p_adjusted = adjusted
        if metric.practical and adjusted < config.alpha:
            metric.verdict = DEGRADED if metric.kind == "latency" else LEAK
        elif metric.practical:
            metric.reason += f"; not significant (Holm p={adjusted:.3g} >= {config.alpha})"
    standard = evidence.standard  # the waves whose own latency is judged, and how many sessions each ran
    wave_sessions = float(np.median(samples.column("sessions.attempted")[standard])) if standard.any() else per_session
    corroborate(metrics, wave_sessions, config.machine_alpha)
    analysis.machine = machine_changes({Signal.parse(name).figure: points(post, name) for name in CONTROL_SERIES},
                                       config.machine_alpha)
    spinning = metrics.get("process.idle_cpu")
    if spinning is None or spinning.verdict == PASS:  # a server spinning while idle slows the control too
        for name, (cycles_of, y) in latency.items():
            confound(metrics[name], cycles_of, y, analysis.machine, config)
    analysis.too_short = too_short(metrics, lengths, len(post), config)
    analysis.attribution, fits = attribute(samples, warmup, metrics, config, attributable(evidence, metrics))
    check_drain(metrics, post, columns_of(drain or []), config.growth_windows)
    analysis.attributed = sorted(fits)
    analysis.metrics = metrics
    analysis.signals = available_signals(post)
    analysis.verdict = overall(analysis)
    return analysis


def standard_waves(samples: Columns, warmup: int) -> np.ndarray:
    """Which cycles ran the run's most common post-warm-up wave (the standard mix, or the one
    behaviour of a --scenario run): only those waves' own latencies and rates are comparable.
    Of two as common, the one that ran first."""
    _, counts = samples.compositions()
    post = counts[warmup:]
    standard = np.zeros(len(samples), dtype=bool)
    if not len(post):
        return standard
    _, first, which, times = np.unique(post, axis=0, return_index=True, return_inverse=True, return_counts=True)
    modal = min(np.flatnonzero(times == times.max()), key=lambda k: first[k])
    standard[warmup:] = which.ravel() == modal
    return standard


def vacuity_reasons(samples: Columns, post: Columns, config: Config, status: RunStatus | None) -> list[str]:
    """Why this run cannot count as a pass, whatever its metrics say."""
    reasons = []
    ended = [f"run ended early ({status.state}): {status.message}"] if status and not status.ended_well else []
    if not len(samples):
        return ["no cycle was sampled", *ended]
    if len(post) < config.min_post_warmup_cycles:
        reasons.append(
            f"only {len(post)} cycles after a warm-up of {len(samples) - len(post)}; "
            f"need {config.min_post_warmup_cycles}"
        )
    attempted, failed = samples.column("sessions.attempted"), samples.column("sessions.failed")
    bad = np.flatnonzero((attempted > 0) & (failed > config.max_failed_fraction * attempted))
    if len(bad):
        i = int(bad[0])
        top = ", ".join(f"{k} x{v}" for k, v in sorted(samples.failures.get(i, {}).items()))
        reasons.append(f"cycle {int(samples.cycle[i])}: {int(failed[i])} of {int(attempted[i])} sessions failed "
                       f"({top})")
    probes_ok = int(np.sum(samples.column("probe.ok", 0.0) > 0))
    if probes_ok == 0:
        errors: set[str | None] = set(samples.probe_errors.values())
        if len(samples.probe_errors) < len(samples):
            errors.add(None)
        reasons.append(f"no probe completed a reply ({'; '.join(sorted(map(str, errors)))})")
    elif probes_ok < len(samples) / 2:
        reasons.append(f"the probe failed in {len(samples) - probes_ok} of {len(samples)} cycles")
    return reasons + ended


def failure_tally(samples: Columns) -> dict[str, int]:
    """Failed sessions by reason over the whole run, most frequent first."""
    tally: Counter[str] = Counter()
    for failures in samples.failures.values():
        tally.update(failures)
    return dict(tally.most_common())


def overall(analysis: Analysis) -> str:
    kinds = {m.verdict for m in analysis.metrics.values()}
    if analysis.reasons:
        # Hard evidence of a leak stands even in a run that ended early; nothing else does.
        hard = any(
            m.verdict == LEAK and m.kind in ("residue", "growth", "bound", "census")
            for m in analysis.metrics.values()
        )
        return LEAK if hard else INCONCLUSIVE
    for verdict in (LEAK, DEGRADED, CONFOUNDED):
        if verdict in kinds:
            return verdict
    return INCONCLUSIVE if analysis.too_short else PASS  # a test that could not fire is no evidence


def available_signals(samples: Columns) -> list[str]:
    """Which kinds of evidence this run had (a server without counters has fewer)."""
    signals = []
    first = [name for name in samples.section("server") if not np.isnan(samples.figures[name][0])]
    if any(own_bundled_figure(n) for n in first):
        signals.append("server counters")
    elif first:
        signals.append("server metrics")
    if any(Signal.parse(name).derived == "mean_per_cycle" for name in rate_series(samples[:2])):
        signals.append("histograms (e.g. LLM prompt tokens)")
    if samples.has("process")[0]:
        signals += ["memory", "fds", "threads", "tcp states", "idle cpu"]
    if np.any(samples.column("probe.ok", 0.0) > 0):
        signals.append("probe latency")
    if any(not np.isnan(samples.figure(f"wave.reply.{stat}")).all() for stat in ("p50", "p95", "max", "count")):
        signals.append("wave latency")
    if samples.section("page"):
        signals.append("page figures")
    return signals
