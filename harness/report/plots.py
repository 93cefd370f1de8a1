"""Figures of a run: latency.png, resources.png, memory.png, and compare overlays.

Headless (Agg). Every figure is titled with its verdict and has labelled axes with units.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from harness.judge.analysis import LATENCY_SERIES, Analysis, MetricResult, dig

COLORS = {"pass": "tab:green", "leak": "tab:red", "degraded": "tab:orange", "inconclusive": "tab:gray"}


def cycles_of(lines: list[dict[str, Any]]) -> np.ndarray:
    return np.asarray([line["cycle"] for line in lines], dtype=float)


def values(lines: list[dict[str, Any]], path: tuple[str, ...]) -> np.ndarray:
    return np.asarray([np.nan if (v := dig(line, path)) is None else v for line in lines])


def shade_warmup(ax: Any, warmup: int) -> None:
    if warmup:
        ax.axvspan(0.5, warmup + 0.5, color="0.9", label="warm-up", zorder=0)


def trend(ax: Any, x: np.ndarray, metric: MetricResult | None, warmup: int, y: np.ndarray, scale: float = 1.0) -> None:
    """Draw the Theil-Sen line through the post-warm-up part."""
    if metric is None or metric.slope_per_cycle is None:
        return
    post_x, post_y = x[warmup:], y[warmup:]
    keep = ~np.isnan(post_y)
    if keep.sum() < 2:
        return
    post_x, post_y = post_x[keep], post_y[keep]
    intercept = np.median(post_y - metric.slope_per_cycle / scale * (post_x - post_x[0]))
    ax.plot(post_x, intercept + metric.slope_per_cycle / scale * (post_x - post_x[0]), "--",
            color=COLORS[metric.verdict], linewidth=1.2, label=f"trend ({metric.verdict})")


def latency_figure(lines: list[dict[str, Any]], analysis: Analysis, path: Path) -> None:
    x = cycles_of(lines)
    fig, (probe_ax, wave_ax) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    verdicts = {k: m.verdict for k, m in analysis.metrics.items() if m.kind == "latency"}
    for ax, prefix in ((probe_ax, "probe."), (wave_ax, "wave.")):
        shade_warmup(ax, analysis.warmup)
        for name, series_path in LATENCY_SERIES:
            if not name.startswith(prefix):
                continue
            y = values(lines, series_path)
            if np.all(np.isnan(y)):
                continue
            label = name.removeprefix(prefix) + f" [{verdicts.get(name, 'n/a')}]"
            ax.plot(x, y, marker="o", markersize=3, linewidth=1, label=label)
            if name in ("probe.reply_ms", "wave.reply.p95"):
                trend(ax, x, analysis.metrics.get(name), analysis.warmup, y)
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    probe_ax.set_title("probe: one fresh client alone on the quiet server after each wave")
    wave_ax.set_title("wave sessions: p50 / p95 per cycle")
    wave_ax.set_xlabel("cycle")
    worst = overall_of(verdicts)
    fig.suptitle(f"Reply latency vs cycle: {worst.upper()}", color=COLORS[worst], fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def overall_of(verdicts: dict[str, str]) -> str:
    for level in ("leak", "degraded"):
        if level in verdicts.values():
            return level
    return "pass" if verdicts else "inconclusive"


def resources_figure(lines: list[dict[str, Any]], analysis: Analysis, path: Path) -> None:
    metrics = [m for m in analysis.metrics.values() if m.kind in ("residue", "growth", "idle_cpu", "bound")]
    x = cycles_of(lines)
    metrics_paths = [(m, metric_path(m.name), m.name) for m in metrics]
    cols = 4
    rows = max(1, math.ceil(len(metrics_paths) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(14, 2.6 * rows + 0.8), squeeze=False)
    for ax in axes.flat[len(metrics_paths):]:
        ax.axis("off")
    for ax, (metric, series_path, name) in zip(axes.flat, metrics_paths, strict=False):
        y = values(lines, series_path)
        color = COLORS[metric.verdict]
        shade_warmup(ax, analysis.warmup)
        ax.plot(x, y, color=color, marker=".", linewidth=1)
        ax.set_title(f"{name}: {metric.verdict}", fontsize=9, color=color)
        ax.set_xlabel("cycle", fontsize=8)
        ax.set_ylabel("cores" if "cpu" in name else "count after quiesce", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    worst = overall_of({m.name: m.verdict for m in metrics})
    fig.suptitle(f"Server resources after each wave: {worst.upper()}", color=COLORS[worst], fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def metric_path(name: str) -> tuple[str, ...]:
    for section in ("process", "page"):
        if name.startswith(section + "."):
            return (section, name.removeprefix(section + "."))
    return ("server", name)


def memory_figure(lines: list[dict[str, Any]], analysis: Analysis, path: Path) -> None:
    metric = analysis.metrics.get("memory.rss")
    x = cycles_of(lines)
    y = values(lines, ("process", "rss_bytes"))
    if np.all(np.isnan(y)):
        y = values(lines, ("server", "process_resident_memory_bytes"))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    shade_warmup(ax, analysis.warmup)
    ax.plot(x, y / 2**20, marker="o", markersize=3, linewidth=1, label="RSS")
    trend(ax, x, metric, analysis.warmup, y / 2**20, scale=2**20)
    ax.set_xlabel("cycle")
    ax.set_ylabel("resident memory (MiB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    verdict = metric.verdict if metric else "inconclusive"
    detail = ""
    if metric and metric.slope_per_session is not None:
        detail = f" ({metric.slope_per_session / 1024:+.1f} KiB/session)"
    ax.set_title(f"Server memory: {verdict.upper()}{detail}", color=COLORS[verdict], fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare_figure(runs: list[tuple[str, list[dict[str, Any]]]], path: Path) -> None:
    """Overlay several runs: probe latency, live asyncio tasks and RSS against cycle."""
    panels = [
        (("probe", "reply_ms"), "probe reply latency (ms)", 1.0),
        (("server", "chat_asyncio_tasks"), "live asyncio tasks after quiesce", 1.0),
        (("process", "rss_bytes"), "resident memory (MiB)", 2**20),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (series_path, label, scale) in zip(axes, panels, strict=True):
        for name, lines in runs:
            y = values(lines, series_path) / scale
            if not np.all(np.isnan(y)):
                ax.plot(cycles_of(lines), y, marker=".", linewidth=1, label=name)
        ax.set_xlabel("cycle")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Runs compared", fontweight="bold")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_all(lines: list[dict[str, Any]], analysis: Analysis, run_dir: Path) -> list[Path]:
    paths = [run_dir / "latency.png", run_dir / "resources.png", run_dir / "memory.png"]
    latency_figure(lines, analysis, paths[0])
    resources_figure(lines, analysis, paths[1])
    memory_figure(lines, analysis, paths[2])
    return paths
