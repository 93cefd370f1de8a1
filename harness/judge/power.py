"""Power: what a run of a given length can judge at all, known before it starts.

A rank test's smallest p-value is fixed by the number of cycles: a Mann-Kendall trend over
n cycles cannot go below 1/n! (scipy's exact test, no ties), the windows' Mann-Whitney not
below 1/C(2w, w), and Holm over m signals multiplies the smallest p by m. A rule whose best
p stays above alpha cannot find anything, and a run that leans on it is too short, not
healthy: its signal is named "too short to judge", with the cycles it would need.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import exp, factorial, lgamma

import numpy as np

from harness.judge.rules import INCONCLUSIVE, Config, MetricResult, warmup_of

PLANNED_SIGNALS = 12  # signals a bundled-server run tests with a p-value, for the note before a run
MAX_CYCLES = 100_000


@lru_cache(maxsize=256)
def best_p(n: int) -> float:
    """The smallest p the shift rule can give over n cycles (a perfectly monotone series)."""
    if n < 3:
        return 1.0
    size = max(3, n // 3)
    windows = exp(2 * lgamma(size + 1) - lgamma(2 * size + 1)) if 2 * size <= n else 1.0  # 1 / C(2w, w)
    trend = 1 / factorial(n)  # Mann-Kendall's exact p, as scipy gives it (test_power checks)
    return min(1.0, 2 * min(windows, trend))


def points_needed(signals: int, alpha: float) -> int:
    """The fewest cycles over which the shift rule can reach Holm p < alpha among `signals`."""
    n = 3
    while best_p(n) * signals >= alpha and n < 200:
        n += 1
    return n


def cycles_needed(post: int, warmup: int | None) -> int:
    """The fewest planned cycles that leave `post` cycles after the warm-up."""
    cycles = post
    while cycles - warmup_of(warmup, cycles) < post and cycles < MAX_CYCLES:
        cycles += 1
    return cycles


@dataclass(frozen=True)
class TooShort:
    """A signal this run was too short to judge: the cycles a run needs for it, and why."""

    signal: str
    needs: int  # planned cycles
    why: str

    def __str__(self) -> str:
        return f"too short to judge {self.signal}: needs {self.needs} cycles ({self.why})"


def too_short(metrics: dict[str, MetricResult], lengths: dict[str, int], post: int, config: Config) -> list[TooShort]:
    """The signals this run could not judge for its length, each with the cycles it needs.
    `lengths` holds how many cycles each tested signal was judged over."""
    out = []
    memory = metrics.get("memory.rss")
    if memory is not None and memory.verdict == INCONCLUSIVE:
        need = cycles_needed(config.min_memory_cycles, config.warmup)
        out.append(TooShort("memory.rss", need,
                            f"{post} after warm-up, memory is judged from {config.min_memory_cycles}"))
    tested = [m for m in metrics.values() if m.p_value is not None]
    for metric in tested:
        n = lengths.get(metric.name, post)
        if best_p(n) * len(tested) >= config.alpha:
            need = points_needed(len(tested), config.alpha)
            scale = max(1.0, post / max(n, 1))  # a signal judged on some waves only needs more cycles
            cycles = cycles_needed(int(np.ceil(need * scale)), config.warmup)
            out.append(TooShort(metric.name, cycles, f"judged over {n}; its best p, x{len(tested)} signals, "
                                                     f"cannot go below alpha {config.alpha:g}"))
    return out


def plan_note(cycles: int, config: Config | None = None, signals: int = PLANNED_SIGNALS) -> str:
    """Before a run: which rules its length can reach, and the smallest effect each will call."""
    config = config or Config()
    warmup = warmup_of(config.warmup, cycles)
    post = cycles - warmup
    lines = []
    if post < config.min_post_warmup_cycles:
        return f"{cycles} cycles are too few to judge anything: {config.min_post_warmup_cycles} after warm-up needed"
    if best_p(post) * signals < config.alpha:
        lines.append(f"latency and rate trends from x{config.min_latency_ratio:g} (Holm over ~{signals} signals)")
    else:
        need = cycles_needed(points_needed(signals, config.alpha), config.warmup)
        lines.append(f"too short to judge latency trends: needs {need} cycles")
    if post >= config.min_memory_cycles:
        lines.append(f"memory from {config.min_memory_bytes_per_session / 1024:g} KiB per session and "
                     f"{config.min_memory_late_bytes / 2**20:g} MiB in the later half")
    else:
        need = cycles_needed(config.min_memory_cycles, config.warmup)
        lines.append(f"too short to judge memory: needs {need} cycles")
    lines.append(f"counters from 1 left per cycle over the last {config.residue_cycles}")
    return f"{cycles} cycles ({warmup} warm-up) can judge: " + "; ".join(lines)
