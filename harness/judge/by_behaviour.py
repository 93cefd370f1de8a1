"""Attribution of a run's signals to the behaviours of its waves (attribution.py does the
statistics): which signals are regressed, how large an effect must be, and what a named
behaviour does to the signal's verdict.

Level signals (per-client gauges, level gauges, fds, threads, every census group, and
histogram means, such as the prompt tokens per LLM request that a shared memory grows) are
attributed always: a behaviour that grows one fails the run even where another resets it
(the saw-tooth a fixed mix hides), and the reset is named. Memory and latency are noisy and
warm up; they are attributed only where their own rule has already failed, to say which
behaviour did it.
"""

from __future__ import annotations

import numpy as np

from harness.judge.attribution import Design, Fit, design_of_counts, fade, fit, name_effects, resets
from harness.judge.onset import onset
from harness.judge.rules import DEGRADED, LEAK, Config, MetricResult
from harness.judge.series import Series
from harness.judge.signal import Signal
from harness.rundir.columns import Columns

MIB = 2**20


def as_array(values: Series | list[float | None]) -> np.ndarray:
    """A series as floats, NaN where a cycle has no figure."""
    if isinstance(values, np.ndarray):
        return values.astype(float, copy=False)
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def deltas(values: Series | list[float | None], warmup: int) -> np.ndarray:
    """Each post-warm-up cycle's change from the cycle before (NaN where either is missing)."""
    arr = as_array(values)
    before = arr[warmup - 1 : -1] if warmup >= 1 else np.concatenate([[np.nan], arr[:-1]])
    return arr[warmup:] - before


def describe(f: Fit) -> str:
    parts = [f"{f.effects[b].rate:+.3g} per {b} session (95% CI {f.effects[b].ci[0]:.3g}..{f.effects[b].ci[1]:.3g})"
             for b in f.named]
    text = "; ".join(parts)
    if f.probe is None and parts:
        text += " (each with its share of the probe's own turn: no probe-only waves since the onset to tell it apart)"
    if f.clears:
        text += f"; reset by {', '.join(f.clears)}"
    return text


def attribute(
    samples: Columns, warmup: int, metrics: dict[str, MetricResult], config: Config,
    signals: tuple[dict[str, Series], dict[str, Series]],
) -> tuple[str | None, dict[str, Fit]]:
    """Attribute this run's `signals` (always attributed, attributed where their own rule failed:
    kinds.py says which); returns why it could not (or None) and the fits that named anything.
    Fills `by_behaviour` of the metrics and adds the leaks only it found."""
    names, counts = samples.compositions()
    ran = counts[warmup:].any(axis=0)  # the behaviours of the post-warm-up waves
    before = counts[warmup - 1] if warmup >= 1 and len(samples) >= warmup else None
    if before is not None and np.any(before[~ran] > 0):
        before = None  # the wave before ran a behaviour no later wave did: it repeats nothing
    order = sorted(np.flatnonzero(ran), key=lambda i: names[i])
    design = design_of_counts([names[i] for i in order], counts[warmup:][:, order],
                              None if before is None else before[order])
    if design.gap is not None:
        return str(design.gap), {}
    hard, soft = signals
    fits: list[Fit] = []
    min_total: dict[str, float] = {}
    used: dict[str, Design] = {}  # the design each fit used: the whole run's, or since the onset

    for name, values in [*hard.items(), *soft.items()]:
        change = deltas(values, warmup)
        began = onset(as_array(values[warmup:])) if name in hard else None  # a leak that began mid-run: its waves since
        used[name] = design.since(began) if began else design
        result = fit(name, change, used[name])
        if result is None and began:
            used[name] = design
            result = fit(name, change, design)
        if result is not None:
            fits.append(result)
            min_total[name] = minimum(name, values) if name in soft or is_mean(name) else 1.0
    name_effects(fits, config.alpha, min_total)
    for f in fits:
        if not f.named:
            continue
        values = hard[f.name] if f.name in hard else soft[f.name]
        bounded = f.name in metrics and metrics[f.name].bounded is not None  # rose, then stopped
        change = deltas(values, warmup)
        fade(f, change, used[f.name], bounded)
        if f.name in hard:  # a reset is of counted state; memory and latency wander
            resets(f, as_array(values[warmup:]), change, used[f.name])
    for f in fits:
        if f.faded and not f.named and f.name in metrics and metrics[f.name].bounded is None:
            metrics[f.name].reason = (metrics[f.name].reason + "; " if metrics[f.name].reason else "") + (
                f"grew with {', '.join(f.faded)} early in the run, not in its later half: no leak")
    named = {f.name: f for f in fits if f.named or f.probe_named}
    for f in named.values():
        apply(f, metrics, hard=f.name in hard)
    return None, named


def is_mean(name: str) -> bool:
    """A histogram's mean per cycle: what one request carried, a level of the state behind it
    (a shared memory sent whole with every prompt), with no natural unit."""
    return Signal.parse(name).derived == "mean_per_cycle"


def minimum(name: str, values: Series) -> float:
    """How large a noisy signal's effect over the run must be to be named."""
    if name == "memory.rss":
        return 1.0 * MIB
    finite = np.abs(values[~np.isnan(values)])
    return max(1e-9, 0.1 * float(np.median(finite))) if len(finite) else 1.0


def apply(f: Fit, metrics: dict[str, MetricResult], hard: bool) -> None:
    """Record the named effects on the signal's metric; a counter that a behaviour grows fails."""
    metric = metrics.get(f.name)
    if metric is None:  # a census group (or gauge) its own rule did not keep
        if not f.named:
            return
        kind = "census" if Signal.parse(f.name).source == "census" else "growth"
        metric = metrics[f.name] = MetricResult(f.name, kind)
    metric.by_behaviour = {b: f.effects[b].named(with_probe=f.probe is None) for b in f.named}
    metric.reset_by = list(f.clears) if f.named else []
    if f.probe_named and f.probe is not None:
        metric.probe = f.probe.named()
    if not f.named:
        return
    if metric.verdict not in (LEAK, DEGRADED) and hard:
        metric.verdict, metric.practical = LEAK, True
        metric.reason = (f"{Signal.parse(f.name).label} grows {describe(f)}"
                         + (": a leak the standard mix hides" if f.clears else ""))
    else:
        metric.reason += f"; by behaviour: {describe(f)}"


