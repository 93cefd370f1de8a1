"""Figures of a run: latency.png, resources.png, memory.png, and compare overlays.

Headless (Agg). Every figure is titled with its verdict and has labelled axes with units.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from harness.judge.analysis import Analysis, MetricResult
from harness.judge.series import LATENCY_SERIES, Samples, columns_of, rss_series, series
from harness.judge.signal import Signal

COLORS = {"pass": "tab:green", "leak": "tab:red", "degraded": "tab:orange", "inconclusive": "tab:gray",
          "confounded": "tab:purple"}


def cycles_of(samples: Samples) -> np.ndarray:
    return columns_of(samples).cycle


def as_array(values: list[float | None]) -> np.ndarray:
    return np.asarray(values, dtype=float)  # None becomes nan


def values(samples: Samples, name: str) -> np.ndarray:
    return as_array(series(samples, name))


def lay_out(fig: Any, top: float = 0.75, bottom: float = 0.6, left: float = 0.85, right: float = 0.3,
            gap_h: float = 0.85, gap_w: float = 0.8) -> None:
    """Margins and gaps fixed in inches. tight_layout measures every tick label of every
    panel first, which took a third of the reports' time at the end of each run."""
    width, height = fig.get_size_inches()
    rows, cols = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    axes_h = (height - top - bottom - gap_h * (rows - 1)) / rows
    axes_w = (width - left - right - gap_w * (cols - 1)) / cols
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        hspace=gap_h / axes_h, wspace=gap_w / axes_w)


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


def machine_panel(ax: Any, samples: Samples, x: np.ndarray) -> None:
    """The control series: the fixed workload and loopback timings (ms), other processes' cores."""
    for name, label in (("control.cpu_ms", "fixed workload (ms)"), ("control.rtt_ms", "loopback round trip (ms)")):
        y = values(samples, name)
        if not np.all(np.isnan(y)):
            ax.plot(x, y, marker=".", linewidth=1, label=label)
    ax.set_ylabel("ms")
    ax.grid(alpha=0.3)
    others = values(samples, "control.others_cpu")
    if not np.all(np.isnan(others)):
        right = ax.twinx()
        right.plot(x, others, color="0.4", marker=".", linewidth=1, label="other processes (cores)")
        right.set_ylabel("cores busy elsewhere")
        right.legend(fontsize=8, loc="upper right")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("the machine: control series timed next to the probe")


def latency_figure(samples: Samples, analysis: Analysis, path: Path) -> None:
    samples = columns_of(samples)
    x = cycles_of(samples)
    controlled = bool(samples.has("control").any())
    fig, axes = plt.subplots(3 if controlled else 2, 1, figsize=(10, 9.5 if controlled else 7), sharex=True)
    probe_ax, wave_ax = axes[0], axes[1]
    verdicts = {k: m.verdict for k, m in analysis.metrics.items() if m.kind == "latency"}
    if controlled:
        machine_panel(axes[2], samples, x)
    for ax in axes:
        for change in analysis.machine:
            ax.axvline(change.at - 0.5, color=COLORS["confounded"], linestyle=":", linewidth=1.5)
    for ax, source in ((probe_ax, "probe"), (wave_ax, "wave")):
        shade_warmup(ax, analysis.warmup)
        for name in LATENCY_SERIES:
            if Signal.parse(name).source != source:
                continue
            y = values(samples, name)
            if np.all(np.isnan(y)):
                continue
            label = Signal.parse(name).figure + f" [{verdicts.get(name, 'n/a')}]"
            ax.plot(x, y, marker="o", markersize=3, linewidth=1, label=label)
            if name in ("probe.reply_ms", "wave.reply.p95"):
                trend(ax, x, analysis.metrics.get(name), analysis.warmup, y)
        ax.set_ylabel("latency (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    probe_ax.set_title("probe: one fresh client alone on the quiet server after each wave")
    wave_ax.set_title("wave sessions: p50 / p95 per cycle")
    axes[-1].set_xlabel("cycle" + ("; dotted: the machine changed" if analysis.machine else ""))
    worst = overall_of(verdicts)
    fig.suptitle(f"Reply latency vs cycle: {worst.upper()}", color=COLORS[worst], fontweight="bold")
    lay_out(fig, right=0.85 if controlled else 0.3, gap_h=0.5)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def overall_of(verdicts: dict[str, str]) -> str:
    for level in ("leak", "degraded", "confounded"):
        if level in verdicts.values():
            return level
    return "pass" if verdicts else "inconclusive"


def split_flat(samples: Samples, metrics: list[MetricResult]) -> tuple[list[MetricResult], list[str]]:
    """The resources worth a panel (a series that moved, or one that did not pass), and the
    others, each as 'name level': a flat line at 0 says no more than its name and level do,
    and each panel took a twentieth of a second to draw at the end of every run."""
    drawn, flat = [], []
    for metric in metrics:
        y = values(samples, metric.name)
        y = y[~np.isnan(y)]
        if metric.verdict != "pass" or not len(y) or y.min() != y.max():
            drawn.append(metric)
        else:
            flat.append(f"{metric.name} {y[0]:g}")
    return drawn, flat


def resources_figure(samples: Samples, analysis: Analysis, path: Path) -> None:
    samples = columns_of(samples)
    metrics = [m for m in analysis.metrics.values() if m.kind in ("residue", "growth", "idle_cpu", "bound")]
    drawn, flat = split_flat(samples, metrics)
    note = textwrap.wrap(f"flat throughout, and pass: {', '.join(flat)}", 150) if flat else []
    x = cycles_of(samples)
    cols = 4
    rows = math.ceil(len(drawn) / cols)
    footer = 0.25 * len(note) + 0.6
    worst = overall_of({m.name: m.verdict for m in metrics})
    title = {"t": f"Server resources after each wave: {worst.upper()}", "color": COLORS[worst], "fontweight": "bold"}
    if rows:
        fig, axes = plt.subplots(rows, cols, figsize=(14, 2.6 * rows + 0.2 + footer), squeeze=False)
        for ax in axes.flat[len(drawn):]:
            ax.axis("off")
        for ax, metric in zip(axes.flat, drawn, strict=False):
            name = metric.name
            y = values(samples, name)
            color = COLORS[metric.verdict]
            shade_warmup(ax, analysis.warmup)
            ax.plot(x, y, color=color, marker=".", linewidth=1)
            # A fixed title height (y=1.02) and 4 ticks an axis: with many panels, placing titles
            # around tick labels and making ticks were most of the figure's time.
            ax.set_title(f"{name}: {metric.verdict}", fontsize=9, color=color, y=1.02)
            ax.set_xlabel("cycle", fontsize=8)
            ax.set_ylabel("cores" if "cpu" in name else "count after quiesce", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.locator_params(nbins=4)
            ax.grid(alpha=0.3)
        fig.suptitle(**title)
        lay_out(fig, bottom=footer)
    else:  # nothing moved: the title and the list
        fig = plt.figure(figsize=(14, 0.75 + 0.2 * max(1, len(note))))
        fig.suptitle(**title, y=1 - 0.1 / fig.get_size_inches()[1], va="top")
        note = note or ["no resource series"]
    if note:
        fig.text(0.5 / 14, 0.15 / fig.get_size_inches()[1], "\n".join(note), fontsize=9, va="bottom")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def memory_figure(samples: Samples, analysis: Analysis, path: Path) -> None:
    samples = columns_of(samples)
    metric = analysis.metrics.get("memory.rss")
    x = cycles_of(samples)
    y = as_array(rss_series(samples))
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
    lay_out(fig, top=0.45)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def compare_figure(runs: list[tuple[str, Samples]], path: Path) -> None:
    """Overlay several runs: probe latency, live asyncio tasks and RSS against cycle."""
    panels = [
        ("probe.reply_ms", "probe reply latency (ms)", 1.0),
        ("chat_asyncio_tasks", "live asyncio tasks after quiesce", 1.0),
        ("process.rss_bytes", "resident memory (MiB)", 2**20),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (figure, label, scale) in zip(axes, panels, strict=True):
        for name, samples in [(name, columns_of(samples)) for name, samples in runs]:
            y = values(samples, figure) / scale
            if not np.all(np.isnan(y)):
                ax.plot(cycles_of(samples), y, marker=".", linewidth=1, label=name)
        ax.set_xlabel("cycle")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Runs compared", fontweight="bold")
    lay_out(fig, top=0.6, gap_w=0.9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


FIGURES = {"latency.png": latency_figure, "resources.png": resources_figure, "memory.png": memory_figure}


def drawn_from(analysis: Analysis) -> tuple[object, ...]:
    """What the figures above read of an analysis: two analyses equal in this draw the same
    figures from the same samples (report/ahead.py keeps figures drawn early by it). A figure
    that reads more of an analysis must say so here."""
    metrics = tuple((m.name, m.kind, m.verdict, m.slope_per_cycle, m.slope_per_session)
                    for m in analysis.metrics.values())
    return analysis.warmup, tuple(repr(change.to_dict()) for change in analysis.machine), metrics


def render_all(samples: Samples, analysis: Analysis, run_dir: Path) -> list[Path]:
    samples = columns_of(samples)
    paths = []
    for name, draw in FIGURES.items():
        draw(samples, analysis, run_dir / name)
        paths.append(run_dir / name)
    return paths
