"""Series out of samples: each metric name resolves to one figure per cycle.

Names: a server figure as the server calls it (`chat_asyncio_tasks`), `process.<field>`,
`page.<figure>`, `probe.<field>`, `wave.<step>.<stat>`, `census.<group>`, and the derived
`<counter>:per_cycle` / `<histogram>:mean_per_cycle`. Plots, the Leaks tab and the rules
all read samples through `reader` (or `value`, for one sample), so no one else knows where a
figure sits in a sample; the names are parsed by signal.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np

from harness.judge.signal import Signal, figure_kind, histogram_of
from harness.rundir.records import Control, CycleSample, StepLatency

Series = list[float | None]  # one figure per cycle, None where a cycle has none

PER_CLIENT_GAUGES = (
    "chat_clients",
    "chat_contexts",
    "chat_conversation_tasks",
    "chat_audio_buffers",
    "chat_audio_buffer_bytes",
    "chat_heartbeats",
    "chat_message_handler_clients",
    "chat_wake_word_clients",
    "chat_agent_memory_messages",
    "chat_tts_workers",
    "chat_log_handles",
)
# Figures that are counters, constants or duplicates of what psutil reports.
IGNORED = (
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_virtual_memory_bytes",
    "process_max_fds",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_threads",
)
IGNORED_COUNTERS = ("process_cpu_seconds_total",)
LATENCY_SERIES = (
    "probe.reply_ms",
    "probe.first_token_ms",
    "wave.reply.p50",
    "wave.reply.p95",
    "wave.first-token.p50",
    "wave.first-token.p95",
)
PROCESS_LEVELS = ("open_fds", "threads", "close_wait")

_STEP = {f.name for f in fields(StepLatency)}
CONTROL_SERIES = tuple(f"control.{f.name}" for f in fields(Control))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def reader(name: str) -> Callable[[CycleSample], float | None]:
    """How to read the figure `name` out of a sample: resolved once per series, not once per
    sample, so a soak's 100k cycles are read at the cost of one lookup each."""
    signal = Signal.parse(name)
    source, rest = signal.source, signal.figure
    if source == "process":
        return lambda sample: _number(getattr(sample.process, rest)) if sample.process else None
    if source == "probe":
        return lambda sample: _number(getattr(sample.probe, rest))
    if source == "page":
        return lambda sample: sample.page.get(rest)
    if source == "control":
        return lambda sample: _number(getattr(sample.control, rest)) if sample.control else None
    if source == "census":  # a group the census counted; absent from a census: none left
        return lambda sample: sample.census.groups.get(rest, 0.0) if sample.census is not None else None
    if source == "wave":
        step, stat = signal.step, signal.stat
        if stat not in _STEP:
            return lambda sample: None

        def wave(sample: CycleSample) -> float | None:
            latency = sample.latency.get(step)
            return _number(getattr(latency, stat)) if latency else None

        return wave
    return lambda sample: sample.server.get(name)


def value(sample: CycleSample, name: str) -> float | None:
    """The figure `name` in one sample, or None where the sample has none."""
    return reader(name)(sample)


def series(samples: list[CycleSample], name: str) -> list[float | None]:
    read = reader(name)
    return [read(sample) for sample in samples]


def rss_series(samples: list[CycleSample]) -> list[float | None]:
    """Resident memory: psutil's, else the server's own Prometheus figure."""
    rss = series(samples, "process.rss_bytes")
    if sum(v is not None for v in rss) < 3:
        return series(samples, "process_resident_memory_bytes")
    return rss


def server_names(samples: list[CycleSample]) -> list[str]:
    """Every server figure seen in these samples, in order of first appearance."""
    names: dict[str, None] = {}
    for sample in samples:
        names.update(dict.fromkeys(sample.server))
    return list(names)


def rate_series(samples: list[CycleSample]) -> dict[str, list[float | None]]:
    """Per-cycle increments of counters (`*_total`) and per-cycle means of histograms
    (`X_sum` / `X_count`): cumulative figures judged by what each cycle added."""
    names = server_names(samples)
    out: dict[str, list[float | None]] = {}

    def diffs(name: str) -> list[float | None]:
        values = series(samples, name)
        return [
            None if a is None or b is None or b < a else b - a
            for a, b in zip([None, *values[:-1]], values, strict=True)
        ]

    for name in names:
        if figure_kind(name) == "counter" and name not in IGNORED_COUNTERS:
            out[f"{name}:per_cycle"] = diffs(name)
        elif (base := histogram_of(name)) and base + "_count" in names:
            sums, counts = diffs(name), diffs(base + "_count")
            out[f"{base}:mean_per_cycle"] = [
                s / c if s is not None and c else None for s, c in zip(sums, counts, strict=True)
            ]
    return out


def counter_names(samples: list[CycleSample]) -> tuple[list[str], list[str]]:
    """(per-client gauges, level gauges) present in the server's figures."""
    names = server_names(samples)
    per_client = [n for n in names if n in PER_CLIENT_GAUGES]
    levels = [
        n for n in names
        if n not in PER_CLIENT_GAUGES and n not in IGNORED and figure_kind(n) == "gauge"
    ]
    return per_client, levels


def census_names(samples: list[CycleSample]) -> list[str]:
    """Every group any census of these samples counted, as series names (`census.<group>`)."""
    names: dict[str, None] = {}
    for sample in samples:
        if sample.census is not None:
            names.update(dict.fromkeys(f"census.{group}" for group in sample.census.groups))
    return list(names)


def points(samples: list[CycleSample], name: str, keep: list[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cycle numbers, values) of the samples that have figure `name` (and are kept)."""
    read = reader(name)
    pairs = [(s.cycle, v) for i, s in enumerate(samples)
             if (keep is None or keep[i]) and (v := read(s)) is not None]
    return np.asarray([c for c, _ in pairs], dtype=float), np.asarray([v for _, v in pairs], dtype=float)


def clean(values: list[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=float)
