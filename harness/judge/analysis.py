"""Verdicts from samples: pure functions, no I/O, no matplotlib.

This module picks the series out of the sample lines and applies the rules of rules.py.
Each kind of signal has its own rule (README "How verdicts are made"):
- residue: per-client gauges must be back to 0 after quiesce; a value that stays above 0
  in every one of the last cycles is a leak.
- growth: level counters (asyncio tasks, fds, threads, CLOSE_WAIT, unknown gauges) leak
  when the floor of every post-warm-up window is at least 1 above the one before
  (CPython's -R rule, on window minima so a transient task does not count).
- memory: Theil-Sen slope with its CI, Mann-Kendall trend test, a minimum practical size
  (bytes per session and in total) and persistence (the later half still grows).
- latency and idle CPU: last window vs first window, one-sided Mann-Whitney AND a minimum
  ratio.
The p-values of all trend tests are Holm-corrected together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.judge.rules import (
    DEGRADED,
    INCONCLUSIVE,
    LEAK,
    PASS,
    Config,
    MetricResult,
    bound_rule,
    default_warmup,
    growth_rule,
    holm,
    memory_rule,
    residue_rule,
    shift_rule,
)

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
    ("probe.reply_ms", ("probe", "reply_ms")),
    ("probe.first_token_ms", ("probe", "first_token_ms")),
    ("wave.reply.p50", ("latency", "reply", "p50")),
    ("wave.reply.p95", ("latency", "reply", "p95")),
    ("wave.first-token.p50", ("latency", "first-token", "p50")),
    ("wave.first-token.p95", ("latency", "first-token", "p95")),
)
PROCESS_LEVELS = ("open_fds", "threads", "close_wait")
# Figures the chat page reports (--scenario page) and the most each may be.
PAGE_BOUNDS = {
    "subscriptions_message": 1.0,
    "subscriptions_state": 1.0,
    "sockets_open_per_tab": 1.0,
    "handled_per_received": 1.0,
}


@dataclass
class Analysis:
    verdict: str
    reasons: list[str]
    cycles: int
    warmup: int
    sessions_per_cycle: float
    signals: list[str]
    metrics: dict[str, MetricResult] = field(default_factory=dict)

    def failing(self) -> list[MetricResult]:
        return [m for m in self.metrics.values() if m.verdict in (LEAK, DEGRADED)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "cycles": self.cycles,
            "warmup": self.warmup,
            "sessions_per_cycle": self.sessions_per_cycle,
            "signals": self.signals,
            "caught_by": [m.name for m in self.failing()],
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
        }


# -- series extraction ---------------------------------------------------------------


def dig(line: dict[str, Any], path: tuple[str, ...]) -> float | None:
    node: Any = line
    for key in path:
        if not isinstance(node, dict) or node.get(key) is None:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) else None


def series(lines: list[dict[str, Any]], path: tuple[str, ...]) -> list[float | None]:
    return [dig(line, path) for line in lines]


def rate_series(lines: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Per-cycle increments of counters (`*_total`) and per-cycle means of histograms
    (`X_sum` / `X_count`): cumulative figures judged by what each cycle added."""
    names: dict[str, None] = {}
    for line in lines:
        names.update(dict.fromkeys(line.get("server", {})))
    out: dict[str, list[float | None]] = {}

    def diffs(name: str) -> list[float | None]:
        values = series(lines, ("server", name))
        return [
            None if a is None or b is None or b < a else b - a
            for a, b in zip([None, *values[:-1]], values, strict=True)
        ]

    for name in names:
        if name.split("{")[0].endswith("_total") and name not in IGNORED_COUNTERS:
            out[f"{name}:per_cycle"] = diffs(name)
        elif name.endswith("_sum") and name.removesuffix("_sum") + "_count" in names:
            base = name.removesuffix("_sum")
            sums, counts = diffs(name), diffs(base + "_count")
            out[f"{base}:mean_per_cycle"] = [
                s / c if s is not None and c else None for s, c in zip(sums, counts, strict=True)
            ]
    return out


def counter_names(lines: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(per-client gauges, level gauges) present in the server's figures."""
    names: dict[str, None] = {}
    for line in lines:
        names.update(dict.fromkeys(line.get("server", {})))
    per_client = [n for n in names if n in PER_CLIENT_GAUGES]
    levels = [
        n for n in names
        if n not in PER_CLIENT_GAUGES and n not in IGNORED
        and not n.split("{")[0].endswith(("_total", "_created", "_count", "_sum", "_bucket"))
    ]
    return per_client, levels


def clean(values: list[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=float)


def analyze(
    lines: list[dict[str, Any]], config: Config | None = None, status: dict[str, Any] | None = None
) -> Analysis:
    """Judge one run from its sample lines (and the driver's status, if any)."""
    config = config or Config()
    cycles = len(lines)
    planned = int((status or {}).get("cycles_asked") or cycles)  # a run stopped early keeps its warm-up
    warmup = config.warmup if config.warmup is not None else default_warmup(planned)
    post = lines[warmup:]
    attempted = [line["sessions"]["attempted"] for line in post] or [0]
    per_session = float(np.mean(attempted))
    reasons = vacuity_reasons(lines, post, config, status)
    analysis = Analysis(PASS, reasons, cycles, warmup, per_session, signals=[])
    if len(post) < config.min_post_warmup_cycles:
        analysis.verdict = INCONCLUSIVE
        return analysis

    per_client, levels = counter_names(post)
    metrics: dict[str, MetricResult] = {}
    for name in per_client:
        y = clean(series(post, ("server", name)))
        if len(y):
            metrics[name] = residue_rule(name, y, per_session, config)
    for name in levels:
        y = clean(series(post, ("server", name)))
        if len(y) >= 2:
            metrics[name] = growth_rule(name, y, per_session, config)
    for name in PROCESS_LEVELS:
        y = clean(series(post, ("process", name)))
        if len(y) >= 2:
            metrics[f"process.{name}"] = growth_rule(f"process.{name}", y, per_session, config)
    for name, bound in PAGE_BOUNDS.items():
        y = clean(series(post, ("page", name)))
        if len(y):
            metrics[f"page.{name}"] = bound_rule(f"page.{name}", y, bound, config)
    rss = clean(series(post, ("process", "rss_bytes")))
    if len(rss) < 3:
        rss = clean(series(post, ("server", "process_resident_memory_bytes")))
    if len(rss) >= 3:
        metrics["memory.rss"] = memory_rule("memory.rss", rss, per_session, config)
    for name, values in rate_series(lines).items():
        y = clean(values[warmup:])
        if len(y) >= 6:
            metrics[name] = shift_rule(name, "rate", y, config.min_latency_ratio, unit="")
    idle = clean(series(post, ("process", "idle_cpu")))
    if len(idle) >= 6:
        metrics["process.idle_cpu"] = shift_rule(
            "process.idle_cpu", "idle_cpu", idle, 2.0, floor=config.min_idle_cpu, unit="cores"
        )
    for name, path in LATENCY_SERIES:
        y = clean(series(post, path))
        if len(y) >= 6:
            metrics[name] = shift_rule(name, "latency", y, config.min_latency_ratio)

    tested = [m for m in metrics.values() if m.p_value is not None]
    for metric, adjusted in zip(tested, holm([m.p_value or 1.0 for m in tested]), strict=True):
        metric.p_adjusted = adjusted
        if metric.practical and adjusted < config.alpha:
            metric.verdict = DEGRADED if metric.kind == "latency" else LEAK
        elif metric.practical:
            metric.reason += f"; not significant (Holm p={adjusted:.3g} >= {config.alpha})"
    analysis.metrics = metrics
    analysis.signals = available_signals(post)
    analysis.verdict = overall(analysis, status)
    return analysis


def vacuity_reasons(
    lines: list[dict[str, Any]],
    post: list[dict[str, Any]],
    config: Config,
    status: dict[str, Any] | None,
) -> list[str]:
    """Why this run cannot count as a pass, whatever its metrics say."""
    reasons = []
    if not lines:
        return ["no cycle was sampled"]
    if len(post) < config.min_post_warmup_cycles:
        reasons.append(
            f"only {len(post)} cycles after a warm-up of {len(lines) - len(post)}; "
            f"need {config.min_post_warmup_cycles}"
        )
    for line in lines:
        s = line["sessions"]
        if s["attempted"] and s["failed"] > config.max_failed_fraction * s["attempted"]:
            top = ", ".join(f"{k} x{v}" for k, v in sorted(s["failures"].items()))
            reasons.append(
                f"cycle {line['cycle']}: {s['failed']} of {s['attempted']} sessions failed ({top})"
            )
            break
    probes_ok = sum(1 for line in lines if line.get("probe", {}).get("ok"))
    if probes_ok == 0:
        errors = {line["probe"].get("error") for line in lines if line.get("probe")}
        reasons.append(f"no probe completed a reply ({'; '.join(sorted(map(str, errors)))})")
    elif probes_ok < len(lines) / 2:
        reasons.append(f"the probe failed in {len(lines) - probes_ok} of {len(lines)} cycles")
    if status and status.get("state") not in (None, "finished", "decided"):
        reasons.append(f"run ended early ({status.get('state')}): {status.get('message')}")
    return reasons


def overall(analysis: Analysis, status: dict[str, Any] | None) -> str:
    kinds = {m.verdict for m in analysis.metrics.values()}
    if analysis.reasons:
        # Hard evidence of a leak stands even in a run that ended early; nothing else does.
        hard = any(
            m.verdict == LEAK and m.kind in ("residue", "growth", "bound")
            for m in analysis.metrics.values()
        )
        return LEAK if hard else INCONCLUSIVE
    if LEAK in kinds:
        return LEAK
    if DEGRADED in kinds:
        return DEGRADED
    return PASS


def available_signals(lines: list[dict[str, Any]]) -> list[str]:
    """Which kinds of evidence this run had (a server without counters has fewer)."""
    signals = []
    first = lines[0]
    if any(n.startswith("chat_") for n in first.get("server", {})):
        signals.append("server counters")
    elif first.get("server"):
        signals.append("server metrics")
    if any(":mean_per_cycle" in name for name in rate_series(lines[:2])):
        signals.append("histograms (e.g. LLM prompt tokens)")
    if first.get("process"):
        signals += ["memory", "fds", "threads", "tcp states", "idle cpu"]
    if any(line.get("probe", {}).get("ok") for line in lines):
        signals.append("probe latency")
    if any(line.get("latency", {}).get("reply") for line in lines):
        signals.append("wave latency")
    if any(line.get("page") for line in lines):
        signals.append("page figures")
    return signals
