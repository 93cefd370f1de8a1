"""Retained a while is not leaked: the drain check. After the last wave the driver idles and
re-samples (drain.jsonl); a level that the rules call a leak, and that fell back to its early
level during that idle, was held and released (a reconnect grace, a lazy sweep), not leaked.
One still up is a leak, and the summary says what --drain would have to be to tell. Pure:
samples in, verdicts changed in place."""

from __future__ import annotations

import math

import numpy as np

from harness.judge.rules import LEAK, PASS, MetricResult, windows
from harness.judge.series import clean, series
from harness.judge.signal import Signal
from harness.options import DRAIN_FALLING_MAX_S
from harness.rundir.columns import Columns

DRAINED_KINDS = ("residue", "growth", "census")  # levels; memory rarely goes back to the OS, latency is no state


def early_level(metric: MetricResult, post: Columns, count: int) -> float | None:
    """Where the level was early in the run: 0 for a per-client gauge and for tasks that hold a
    closed connection, else the floor of the first window of the post-warm-up cycles (as the
    growth rule reads it)."""
    if metric.kind == "residue" or Signal.parse(metric.name).orphans:
        return 0.0
    y = clean(series(post, metric.name))
    return float(windows(y, min(count, len(y)))[0].min()) if len(y) else None


def asleep_for(drain: Columns, index: int, name: str) -> float | None:
    """Seconds until the tasks of census group `name` all wake, as the drain sample at `index`
    saw them asleep on loop timers; None for any other series, or tasks not all asleep."""
    if not name.startswith("census.tasks:"):
        return None
    return drain.census_wakes.get(index, {}).get(name.removeprefix("census."))


def check_drain(
    metrics: dict[str, MetricResult], post: Columns, drain: Columns, windows_count: int
) -> None:
    """Clear the leaks that drained; say of the others how long the idle was and what would tell."""
    if not len(drain) or not len(post):
        return
    after = np.nan_to_num(drain.column("drain_after_s"), nan=0.0)
    for metric in metrics.values():
        if metric.kind not in DRAINED_KINDS:
            continue
        values = series(drain, metric.name)
        keep = ~np.isnan(values)
        last = float(series(post[-1:], metric.name)[0])
        early = early_level(metric, post, windows_count)
        if not keep.any() or math.isnan(last) or early is None:
            continue
        times, y = after[keep], values[keep]
        last_seen = int(np.flatnonzero(keep)[-1])
        label = Signal.parse(metric.name).label
        lowest = int(np.argmin(y))  # first time it reached the lowest the idle took it to
        if y[lowest] < last and y[lowest] <= early:  # it fell during the idle, to its early level or below
            held = float(times[lowest])
            metric.drain = {"released_after_s": held, "level": float(y[lowest]), "early": early}
            released = (f"{label} was held, then released: down to {y[lowest]:g} (its early level {early:g}) "
                        f"{held:.1f} s after the last wave; retained a while is no leak")
            if metric.verdict == LEAK:
                metric.verdict, metric.practical, metric.reason = PASS, False, released
            else:
                metric.reason = f"{metric.reason}; {released}" if metric.bounded is not None else released
            # What the waves added was held, not accumulated: no behaviour leaks it.
            metric.by_behaviour, metric.probe, metric.reset_by = {}, None, []
            continue
        if metric.verdict != LEAK:
            continue
        idle = float(times[-1])
        metric.drain = {"idle_s": idle, "level": float(y[-1]), "early": early, "needs_s": None}
        text = f"still {y[-1]:g} after {idle:.1f} s idle (its early level {early:g})"
        fell = last - float(y[-1])
        if fell > 0 and last > early:  # releasing, slowly: at this pace it would be back after
            needs = math.ceil(idle * (last - early) / fell)
            metric.drain["needs_s"] = float(needs)
            text += f"; it is falling, and at this pace would be back after about {needs} s: --drain {needs} would tell"
        elif (wake := asleep_for(drain, last_seen, metric.name)) is not None and idle + wake > DRAIN_FALLING_MAX_S:
            metric.drain["wakes_in_s"] = wake
            text += (f"; it did not fall at all, and its tasks all sleep on a timer that wakes the last of them "
                     f"{wake:.0f} s later: a leak, or a hold that long (the drain waits for timers that ring "
                     f"within {DRAIN_FALLING_MAX_S:.0f} s of the last wave)")
        else:
            text += f"; it did not fall at all: a leak, or a hold longer than {idle:.0f} s (--drain sets the idle)"
        metric.reason += f"; {text}"
