"""Series out of samples: each metric name resolves to one figure per cycle.

Names: a server figure as the server calls it (`chat_asyncio_tasks`), `process.<field>`,
`page.<figure>`, `probe.<field>`, `wave.<step>.<stat>`, `census.<group>`, and the derived
`<counter>:per_cycle` / `<histogram>:mean_per_cycle`. Plots, the Leaks tab and the rules
all read samples through `series`, as columns (rundir/columns.py, the one place that knows
where a figure sits in a sample); the names are parsed by signal.py.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from harness.judge.signal import figure_kind, histogram_of
from harness.rundir.columns import Columns
from harness.rundir.records import Control, CycleSample

Series = np.ndarray  # one figure per cycle, NaN where a cycle has none

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

CONTROL_SERIES = tuple(f"control.{f.name}" for f in fields(Control))

Samples = list[CycleSample] | Columns  # a live run's samples, or a saved run's columns


def columns_of(samples: Samples) -> Columns:
    """The columns of these samples (themselves, if they are columns already)."""
    return samples if isinstance(samples, Columns) else Columns.of(samples)


def series(samples: Samples, name: str) -> np.ndarray:
    """The figure `name` in each cycle, NaN where a cycle has none."""
    return columns_of(samples).figure(name)


def listed(values: np.ndarray) -> list[float | None]:
    """A series as JSON holds it: None where a cycle has no figure."""
    return [None if v != v else v for v in values.tolist()]


def rss_series(samples: Samples) -> np.ndarray:
    """Resident memory: psutil's, else the server's own Prometheus figure."""
    columns = columns_of(samples)
    rss = columns.figure("process.rss_bytes")
    if np.count_nonzero(~np.isnan(rss)) < 3:
        return columns.figure("process_resident_memory_bytes")
    return rss


def server_names(samples: Samples) -> list[str]:
    """Every server figure seen in these samples, in order of first appearance."""
    return list(columns_of(samples).section("server"))


def rate_series(samples: Samples) -> dict[str, np.ndarray]:
    """Per-cycle increments of counters (`*_total`) and per-cycle means of histograms
    (`X_sum` / `X_count`): cumulative figures judged by what each cycle added."""
    columns = columns_of(samples)
    names = columns.section("server")
    out: dict[str, np.ndarray] = {}

    def diffs(name: str) -> np.ndarray:
        values = columns.figure(name)
        change = np.diff(values, prepend=np.nan)
        change[change < 0] = np.nan  # a counter that went back: its process restarted
        return change

    for name in names:
        if figure_kind(name) == "counter" and name not in IGNORED_COUNTERS:
            out[f"{name}:per_cycle"] = diffs(name)
        elif (base := histogram_of(name)) and base + "_count" in names:
            sums, counts = diffs(name), diffs(base + "_count")
            with np.errstate(divide="ignore", invalid="ignore"):
                out[f"{base}:mean_per_cycle"] = np.where(counts > 0, sums / counts, np.nan)
    return out


def counter_names(samples: Samples) -> tuple[list[str], list[str]]:
    """(per-client gauges, level gauges) present in the server's figures."""
    names = server_names(samples)
    per_client = [n for n in names if n in PER_CLIENT_GAUGES]
    levels = [
        n for n in names
        if n not in PER_CLIENT_GAUGES and n not in IGNORED and figure_kind(n) == "gauge"
    ]
    return per_client, levels


def census_names(samples: Samples) -> list[str]:
    """Every group any census of these samples counted, as series names (`census.<group>`)."""
    return [f"census.{group}" for group in columns_of(samples).section("census")]


def points(samples: Samples, name: str, keep: np.ndarray | list[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cycle numbers, values) of the samples that have figure `name` (and are kept)."""
    columns = columns_of(samples)
    values = columns.figure(name)
    has = ~np.isnan(values)
    if keep is not None:
        has &= np.asarray(keep, dtype=bool)
    return columns.cycle[has], values[has]


def clean(values: np.ndarray | list[float | None]) -> np.ndarray:
    """The figures of a series, without the cycles that had none."""
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=float) if isinstance(values, list) else values
    return arr[~np.isnan(arr)]
