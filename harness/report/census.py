"""What the census saw inside the server, for summary.md and report.html: the groups that
grew (the judge's findings), the garbage gc.collect() freed each cycle (not a leak), the
growing allocation lines (--inspect=alloc), and what the census cost."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.judge.rules import MetricResult
from harness.judge.series import columns_of
from harness.judge.verdict import Judgement

TOP_GARBAGE = 8


@dataclass
class CensusOverview:
    note: str | None  # on in which process, or why there is none
    censuses: int = 0  # cycles with a census
    groups: int = 0  # groups tracked after warm-up
    grew: list[MetricResult] = field(default_factory=list)
    garbage: list[tuple[str, float]] = field(default_factory=list)  # type, median per cycle
    garbage_total: float = 0.0
    garbage_kinds: int = 0  # types seen in the garbage; `garbage` holds the commonest
    garbage_typed: int = 0  # censuses that counted the garbage by type
    took_ms: float | None = None  # median
    took_max_ms: float | None = None
    loop_max_ms: float | None = None
    skipped_max: int = 0
    alloc: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: str | None = None  # how often, and why, the census failed (judge/instruments.py)

    def lines(self) -> list[str]:
        """Plain sentences, for summary.md and report.html alike."""
        failed = [f"The census failed: {self.failed}."] if self.failed else []
        if not self.censuses:
            return [*([self.note] if self.note and not self.failed else []), *failed] or ["no census"]
        out = [*failed, f"{self.censuses} censuses; {self.groups} groups tracked after warm-up "
               "(tasks by coroutine and those holding a closed connection, objects by type, container entries, "
               "threads); "
               f"{len(self.grew) or 'none'} grew."]
        if self.garbage:
            kinds = ", ".join(f"{name} {n:g}" for name, n in self.garbage)
            more = ", ..." if self.garbage_kinds > len(self.garbage) else ""
            out.append(f"Garbage, not leaks: each cycle gc.collect() freed about {self.garbage_total:g} "
                       f"unreachable objects (of the types counted, in the {self.garbage_typed} censuses "
                       f"that typed it: {kinds}{more}).")
        costs = []
        if self.took_ms is not None and self.took_max_ms is not None:  # a census line may not say
            costs.append(f"{self.took_ms:.1f} ms median, {self.took_max_ms:.1f} ms at most")
        if self.loop_max_ms is not None:
            costs.append(f"the event loop answered within {self.loop_max_ms:.1f} ms")
        if self.skipped_max:
            costs.append(f"up to {self.skipped_max} objects were skipped at the census deadline")
        if costs:
            out.append(f"Census cost: {'; '.join(costs)}.")
        out += [f"Census note: {note}" for note in self.notes]
        return out


def overview(j: Judgement) -> CensusOverview | None:
    """None when the run neither had a census nor has anything to say about one."""
    target = j.run.meta.target if j.run.meta else None
    note = target.census_note if target else None
    post = columns_of(j.run.samples)[j.analysis.warmup:]
    present = post.has("census")
    if not present.any() and not note:
        return None
    result = CensusOverview(note, censuses=int(present.sum()), groups=j.analysis.census_groups)
    result.failed = next((f.describe() for f in j.analysis.instruments if f.instrument == "census"), None)
    result.grew = [m for m in j.analysis.failing() if m.kind == "census"]
    if not present.any():
        return result
    typed = [post.census_garbage[i] for i in sorted(post.census_garbage)]  # a census types it now and then
    names = {name for garbage in typed for name in garbage}
    medians = {name: float(np.median([garbage.get(name, 0.0) for garbage in typed])) for name in names}
    common = sorted(((n, v) for n, v in medians.items() if v > 0), key=lambda item: (-item[1], item[0]))
    result.garbage, result.garbage_kinds, result.garbage_typed = common[:TOP_GARBAGE], len(common), len(typed)
    result.garbage_total = float(np.median(np.nan_to_num(post.column("census.garbage_total")[present])))
    took = post.column("census.took_ms")[present]
    took = took[~np.isnan(took)]
    if len(took):
        result.took_ms, result.took_max_ms = float(np.median(took)), float(took.max())
    loops = post.column("census.loop_ms")[present]
    result.loop_max_ms = float(np.nanmax(loops)) if not np.isnan(loops).all() else None
    result.skipped_max = int(np.max(np.nan_to_num(post.column("census.skipped")[present])))
    result.alloc = post.census_alloc[max(post.census_alloc)] if post.census_alloc else []
    # A note that gives figures ("heap snapshot of 7.0 MB live in 350 ms") is said once, as the
    # last census said it, not once per cycle its figures changed.
    latest = {re.sub(r"\d+(?:\.\d+)?", "#", n): n for i in sorted(post.census_notes) for n in post.census_notes[i]}
    result.notes = list(latest.values())
    return result


def alloc_line(line: dict[str, Any]) -> str:
    size = float(line.get("size_diff", 0))
    return f"{line.get('site', '?')}: {size / 1024:+.1f} KiB in {int(line.get('count_diff', 0)):+d} blocks"
