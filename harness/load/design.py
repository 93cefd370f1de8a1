"""The wave design: which behaviour each session of each wave runs.

With one fixed mix in every wave, the behaviours' effects cannot be told apart (their counts
are collinear) and one behaviour's side effect can undo another's leak (a page session that
resets a memory every clean close grows). So the default run, after its warm-up of standard
mixes, goes in rounds: every behaviour runs alone for `BLOCK_WAVES` consecutive waves, each
block after one standard-mix wave, plus three rest waves of no session (the probe alone, so its
own effect has a term of its own); the blocks' order is shuffled per round from a recorded
seed (judge/attribution.py reads the waves that repeat the wave before). Pure: the driver,
the Locust master and `harness run` all compute the same plan.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from harness.judge.attribution import design_of
from harness.judge.power import points_needed
from harness.judge.rules import warmup_of
from harness.options import BEHAVIOURS, MIXED

# The standard mix, in fixed proportions: session k of a mix wave runs MIX[k % len(MIX)].
MIX = (
    "clean_close", "abrupt_drop", "midreply_close", "audio_drop", "interrupt_close",
    "page_session", "reconnect_storm", "clean_close", "midreply_close", "page_session",
)
BLOCK_WAVES = 3
REST = "rest"
REST_WAVES = 3  # two of them repeat the wave before: the probe's term rests on more than one cycle
# The waves' own latency and rates are compared over the standard-mix waves alone; a design
# leaving fewer than this many after warm-up would leave those trend tests unable to reach
# Holm p < 0.01 over a bundled run's ~20 signals (judge/power.py), so it is not used.
MIN_MIX_WAVES = points_needed(40, 0.01)


def mix(users: int, behaviours: tuple[str, ...] = BEHAVIOURS) -> list[str]:
    """A standard-mix wave: MIX's proportions among the behaviours the protocol expresses."""
    kept = [b for b in MIX if b in behaviours]
    return [kept[k % len(kept)] for k in range(users)]


@dataclass(frozen=True)
class WaveDesign:
    """The plan of a run: `wave(cycle)` names the behaviour of each of its sessions."""

    scenario: str
    users: int
    warmup: int
    seed: int = 0
    blocks: bool = True  # False: the standard mix in every wave (a run too short for blocks)
    behaviours: tuple[str, ...] = BEHAVIOURS  # what the protocol expresses (protocols/__init__.py)

    @property
    def attributes(self) -> bool:
        """Whether behaviours vary between waves (only the mixed scenario)."""
        return self.scenario == MIXED and self.blocks

    def round_of(self, index: int) -> list[str]:
        """Round `index` (0-based), one entry per wave: a behaviour, 'mix' or 'rest'."""
        units = [REST, *self.behaviours]
        random.Random(f"{self.seed}:{index}").shuffle(units)
        waves: list[str] = []
        for unit in units:
            waves += [REST] * REST_WAVES if unit == REST else ["mix", *[unit] * BLOCK_WAVES]
        return waves

    @property
    def round_length(self) -> int:
        return REST_WAVES + len(self.behaviours) * (1 + BLOCK_WAVES)

    def kind(self, cycle: int) -> str:
        """'mix', 'rest' or the behaviour that runs alone in this cycle (1-based)."""
        if self.scenario != MIXED:
            return self.scenario
        if not self.blocks or cycle <= self.warmup:
            return "mix"
        position = cycle - self.warmup - 1
        return self.round_of(position // self.round_length)[position % self.round_length]

    def wave(self, cycle: int) -> list[str]:
        """The behaviour of each session of this cycle's wave."""
        kind = self.kind(cycle)
        if kind == "mix":
            return mix(self.users, self.behaviours)
        if kind == REST:
            return []
        return [kind] * self.users

    def composition(self, cycle: int) -> dict[str, int]:
        return dict(Counter(self.wave(cycle)))

    def attribution_gap(self, cycles: int) -> str | None:
        """Why a run of `cycles` cycles cannot attribute its leaks to behaviours, or None."""
        if not self.attributes:
            return None
        post = [self.composition(c) for c in range(self.warmup + 1, cycles + 1)]
        before = self.composition(self.warmup) if self.warmup else None
        gap = design_of(post, before).gap
        if gap:
            return gap.reason
        mixes = sum(1 for c in range(self.warmup + 1, cycles + 1) if self.kind(c) == "mix")
        if mixes < MIN_MIX_WAVES:  # the waves' own latency and rates are judged on these alone
            return f"{mixes} standard-mix waves after warm-up, and the waves' trend tests need {MIN_MIX_WAVES}"
        return None


def cycles_to_attribute(scenario: str, users: int, seed: int, warmup: int | None,
                        behaviours: tuple[str, ...] = BEHAVIOURS) -> int:
    """The fewest cycles of a run (its warm-up following --cycles) whose leaks are attributable."""
    cycles = 2
    while cycles < 200:
        design = WaveDesign(scenario, users, warmup_of(warmup, cycles), seed, behaviours=behaviours)
        if design.attribution_gap(cycles) is None:
            break
        cycles += 1
    return cycles


def plan(scenario: str, users: int, cycles: int, warmup: int | None, seed: int,
         behaviours: tuple[str, ...] = BEHAVIOURS) -> WaveDesign:
    """The design of a run of `cycles` planned cycles (0: until stopped). A run too short for
    every behaviour's block runs the standard mix in every wave, as its detection needs."""
    design = WaveDesign(scenario, users, warmup_of(warmup, cycles), seed, behaviours=behaviours)
    if scenario == MIXED and cycles > 0 and design.attribution_gap(cycles) is not None:
        return WaveDesign(scenario, users, design.warmup, seed, blocks=False, behaviours=behaviours)
    return design


def design_note(scenario: str, users: int, cycles: int, warmup: int | None, seed: int,
                behaviours: tuple[str, ...] = BEHAVIOURS) -> str:
    """What the run's design is, said once at its start; and whether it can attribute."""
    if scenario != MIXED:
        return f"'{scenario}' alone in every wave: attribution to behaviours is moot"
    design = plan(scenario, users, cycles, warmup, seed, behaviours)
    if not design.blocks:
        needed = cycles_to_attribute(scenario, users, seed, warmup, behaviours)
        return (f"{cycles} cycles are too short for the wave design (it needs {needed} to attribute leaks to "
                f"behaviours): every wave runs the standard mix, where a leak one behaviour causes and another "
                f"clears can hide; --cycles {needed} or more runs each behaviour alone in turn")
    return (f"wave design (seed {seed}): each behaviour alone for {BLOCK_WAVES} waves after a standard mix, "
            f"{REST_WAVES} probe-only waves per round of {design.round_length}")
