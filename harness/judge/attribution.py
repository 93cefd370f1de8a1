"""Which client behaviour leaks: each signal's change per wave regressed on the wave's
behaviour counts.

Only cycles whose wave ran the same behaviours as the wave before are used: there a
signal's change is what those sessions left behind, dy_t = sum_b beta_b * n_(t,b) + gamma + e_t,
while anything that merely settles with the current wave (sockets not yet freed) cancels,
and so does a reset by another behaviour (it happens where the composition changes). The
design's blocks give each behaviour such cycles, and its runs of probe-only waves give
gamma, what the probe's own turn leaves each cycle: its own term, so a behaviour is never
blamed for what the probe does. Least squares with heteroscedasticity-robust (HC3)
intervals, never narrower than the pooled ones; a behaviour whose effect is positive and
significant after Holm is named. A leak that one behaviour causes and another clears (a
saw-tooth, flat under a fixed mix) is named as the first behaviour's. Pure: numbers in,
effects out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from harness.judge.rules import Named, holm

MIN_DEGREES_OF_FREEDOM = 4
MIN_PROBE_CYCLES = 2
CONFIDENCE = 0.95
RESET_P = 0.05  # a reset is said, never failed on: one test per behaviour of a leak already named


@dataclass
class Effect:
    """What one session of a behaviour (or the probe, per cycle) changes a signal by."""

    rate: float
    ci: tuple[float, float]
    p_greater: float  # one-sided: the effect is above 0
    p_less: float
    total: float  # the effect summed over the run (rate x sessions)

    def named(self, with_probe: bool = False) -> Named:
        return Named(self.rate, self.ci, with_probe)


@dataclass
class Fit:
    """A signal's effects by behaviour, and the probe's."""

    name: str
    effects: dict[str, Effect]
    probe: Effect | None  # None: no probe-only waves, each behaviour's effect carries its share
    named: list[str] = field(default_factory=list)  # positive, significant, large enough
    clears: list[str] = field(default_factory=list)  # negative and significant
    probe_named: bool = False
    faded: list[str] = field(default_factory=list)  # named over the run, gone in its later half


def fade(f: Fit, deltas: np.ndarray, design: Design, bounded: bool = False) -> None:
    """Move to `faded` the named behaviours whose effect no longer shows in the run's later
    half: a leak accumulates round after round, a cache that filled stops growing however
    much its filling cost early on. A behaviour's late waves that repeat their wave (its
    block's) are compared with its fitted rate: nearer 0 than the rate, it has faded. One
    with no such wave in the later half keeps its name (nothing shows it stopped), unless the
    signal itself stopped growing there (`bounded`): the later half's standard mixes ran
    every behaviour, and the level did not move."""
    n = len(design.counts)
    late = np.arange(n) >= n // 2
    for b in list(f.named):
        i = design.behaviours.index(b)
        rows = late & design.steady & (design.counts[:, i] > 0) & np.isfinite(deltas)
        if not rows.any():
            if bounded:
                f.named.remove(b)
                f.faded.append(b)
            continue
        others = sum(f.effects[o].rate * design.counts[rows, j]
                     for j, o in enumerate(design.behaviours) if o != b) + (f.probe.rate if f.probe else 0.0)
        late_rate = float(np.mean((deltas[rows] - others) / design.counts[rows, i]))
        if late_rate < f.effects[b].rate / 2:
            f.named.remove(b)
            f.faded.append(b)


def resets(f: Fit, levels: np.ndarray, changes: np.ndarray, design: Design) -> None:
    """Add to `clears` the behaviours that reset a named leak, given its `levels` and their
    `changes` per post-warm-up cycle (a page session's new history clears a shared memory the
    chatting sessions grow). A reading that names, never fails, by
    either of two signs among the waves that do not grow it (probe-only ones, and those of
    behaviours not named):
    - its repeated waves change the level less than the others do (one-sided Mann-Whitney on
      the changes, p < RESET_P): they hold back what the probe's own turn adds;
    - its waves keep the level below every other such wave's, and the level had stood higher
      before its first block (so it is not merely early in a run that grows): a mean per
      request, which mixes the turns before and after a reset within one wave, shows it so."""
    from scipy import stats  # imported here: see rules.py's note

    if not f.named:
        return
    sizes = design.counts.sum(axis=1)
    alone = {b: np.isfinite(levels) & (design.counts[:, i] > 0) & (sizes == design.counts[:, i])
             for i, b in enumerate(design.behaviours)}
    quiet = np.isfinite(levels) & (sizes == 0)
    for b in design.behaviours:
        if b not in f.named:
            quiet |= alone[b]
    for b in design.behaviours:
        if b in f.named or b in f.clears or alone[b].sum() < 2:
            continue
        others = quiet & ~alone[b]
        steady = design.steady & np.isfinite(changes)
        mine, theirs = changes[alone[b] & steady], changes[others & steady]
        held_back = (len(mine) >= 2 and len(theirs) >= 2 and np.median(theirs) > 0
                     and np.mean(mine) <= np.median(theirs) / 2
                     and stats.mannwhitneyu(mine, theirs, alternative="less").pvalue < RESET_P)
        first, top = int(np.argmax(alone[b])), float(np.max(levels[alone[b]]))
        later = others.copy()
        later[: first + 1] = False
        stood_higher = first > 0 and float(np.nanmax(levels[:first])) > top  # not merely early in a rise
        # Below the others by more than its own waves spread: not one of several near the floor.
        spread = top - float(np.min(levels[alone[b]]))
        kept_low = later.any() and stood_higher and float(np.min(levels[others])) - top > spread
        if held_back or kept_low:
            f.clears.append(b)


@dataclass(frozen=True)
class Gap:
    """Why a run's waves cannot be attributed to behaviours: `reason`, and whether a longer
    run would do (`too_short`) or nothing would (one behaviour in every wave)."""

    reason: str
    too_short: bool = True

    def __str__(self) -> str:
        return f"too short to attribute: {self.reason}" if self.too_short else self.reason


@dataclass
class Design:
    """The post-warm-up waves as the regression sees them."""

    behaviours: list[str]
    counts: np.ndarray  # cycles x behaviours: each wave's sessions
    steady: np.ndarray  # the cycles whose wave ran what the wave before ran
    gap: Gap | None  # why this run cannot attribute, or None
    probe_apart: bool = True  # False: no probe-only waves to tell the probe's turn from the sessions'

    def since(self, first: int) -> Design:
        """The same waves, with only those from index `first` on used (a leak's onset), and only
        the behaviours that ran alone in them (the others cannot be told from there). Without
        probe-only waves among them, the probe's turn has no term of its own: with every wave
        the same size, it cannot be told from the sessions', and each behaviour's effect then
        carries its share of it (not a false certainty that the probe left nothing)."""
        steady = self.steady.copy()
        steady[:first] = False
        keep = [i for i in range(len(self.behaviours)) if np.any(self.counts[steady, i] > 0)]
        resting = int(np.sum(steady & (self.counts.sum(axis=1) == 0)))
        return Design([self.behaviours[i] for i in keep], self.counts[:, keep], steady, self.gap,
                      probe_apart=resting >= MIN_PROBE_CYCLES)

    def matrix(self) -> np.ndarray:
        if not self.probe_apart:
            return self.counts[self.steady]
        return np.column_stack([self.counts, np.ones(len(self.counts))])[self.steady]

    @cached_property
    def groups(self) -> np.ndarray:
        """For each row of `matrix()`, the index of its group of like waves (same make-up)."""
        return np.unique(self.matrix(), axis=0, return_inverse=True)[1].ravel()


def design_of(compositions: list[dict[str, int]], before: dict[str, int] | None = None) -> Design:
    """The count matrix of these waves (`before`: the wave before the first), and whether
    it is estimable."""
    names = sorted({b for c in compositions for b in c})
    counts = np.asarray([[c.get(b, 0) for b in names] for c in compositions], dtype=float).reshape(
        len(compositions), len(names))
    known = before is not None and set(before) <= set(names)
    return design_of_counts(names, counts, np.asarray([before.get(b, 0) for b in names], dtype=float)
                            if known and before is not None else None)


def design_of_counts(names: list[str], counts: np.ndarray, before: np.ndarray | None = None) -> Design:
    """`design_of` on a count matrix already made (cycles x `names`, each wave's sessions);
    `before` is the wave before the first, over the same names (None: unknown, or one that ran
    another behaviour)."""
    previous = np.vstack([before if before is not None else np.full(len(names), np.nan), counts[:-1]]) \
        if len(counts) else counts
    steady = np.all(counts == previous, axis=1) if len(names) else np.ones(len(counts), dtype=bool)
    if len(counts) and before is None:
        steady[0] = False
    # A make-up that repeats only once (the first wave after a warm-up of standard mixes) is
    # fitted by itself: its one row carries no evidence and, with a leverage near 1, would set
    # every behaviour's HC3 interval by its own residual.
    if len(counts) and names:
        kind = np.unique(counts, axis=0, return_inverse=True)[1].ravel()
        repeats = np.bincount(kind[steady], minlength=int(kind.max()) + 1)
        steady &= repeats[kind] >= 2
    design = Design(names, counts, steady, None)
    if not names:
        design.gap = Gap("no wave recorded its behaviours: attribution is moot", too_short=False)
    elif len(names) < 2:
        design.gap = Gap(f"'{names[0]}' alone in every wave: attribution to behaviours is moot", too_short=False)
    else:
        running = counts[steady] > 0
        alone = {names[int(np.argmax(row))] for row in running if row.sum() == 1}
        missing = [b for b in names if b not in alone]
        resting = int(np.sum(~running.any(axis=1)))
        x = design.matrix()
        if missing:
            design.gap = Gap(f"{', '.join(missing)} never ran alone twice in a row")
        elif resting < MIN_PROBE_CYCLES:
            # One such cycle pins the probe's term exactly: a task that happened to be there in
            # it would be taken as the probe's and pass, with no error, to every behaviour.
            design.gap = Gap(f"{resting} probe-only cycle(s) after another; "
                             f"the probe's own term needs {MIN_PROBE_CYCLES}")
        elif np.linalg.matrix_rank(x) < x.shape[1] or len(x) - x.shape[1] < MIN_DEGREES_OF_FREEDOM:
            design.gap = Gap(f"{len(x)} cycles that repeat their wave, for {len(names)} "
                             "behaviours and the probe")
    return design


def fit(name: str, deltas: np.ndarray, design: Design) -> Fit | None:
    """The effects of each behaviour on `deltas` (NaN where a cycle has no figure)."""
    from scipy import stats  # imported here: see rules.py's note

    x_all = design.matrix()
    y_all = deltas[design.steady]
    keep = np.isfinite(y_all)
    y, x = y_all[keep], x_all[keep]
    k = x.shape[1]
    if len(y) - k < MIN_DEGREES_OF_FREEDOM or np.linalg.matrix_rank(x) < k:
        return None
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    residuals = y - x @ beta
    leverage = np.clip(np.einsum("ij,jk,ik->i", x, xtx_inv, x), 0.0, 0.99)
    meat = (x * (residuals / (1.0 - leverage))[:, None] ** 2).T @ x
    robust = np.diag(xtx_inv @ meat @ xtx_inv)
    df = len(y) - k
    # The larger of HC3 and a pooled variance: HC3 alone calls a behaviour whose few cycles
    # happen to fit exactly certain, however noisy the rest of the run is. The pooled figure
    # leaves out the group of like waves (a behaviour's block, the probe-only waves) whose
    # residuals spread most: one noisy block (a page session's resets) must not take the
    # power to name every other behaviour.
    pooled = np.diag(xtx_inv) * group_variance(design.groups[keep], residuals) * len(y) / df
    scale = float(np.max(np.abs(y))) if len(y) else 0.0
    se = np.sqrt(np.clip(np.maximum(robust, pooled), 0.0, None)) + 1e-9 * (scale + 1.0)
    crit = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))
    t = beta / se
    sessions = design.counts.sum(axis=0)  # the whole run's: what the leak amounts to
    totals = [*sessions, float(len(design.counts))][:k]

    def effect(i: int) -> Effect:
        return Effect(float(beta[i]), (float(beta[i] - crit * se[i]), float(beta[i] + crit * se[i])),
                      float(stats.t.sf(t[i], df)), float(stats.t.cdf(t[i], df)), float(beta[i] * totals[i]))

    probe = effect(k - 1) if design.probe_apart else None
    return Fit(name, {b: effect(i) for i, b in enumerate(design.behaviours)}, probe)


def group_variance(group: np.ndarray, residuals: np.ndarray) -> float:
    """The mean squared residual of the run, less the group of like rows (`group`: each row's
    group) whose residuals spread most, where there are others: one noisy block does not set
    every behaviour's floor, and a spread that several blocks share (a cache that some blocks
    refill and others find full) still does."""
    sizes = np.bincount(group)
    sums = np.bincount(group, weights=residuals**2)
    counted = sizes >= 2
    if counted.sum() < 3:
        return float(np.mean(residuals**2))
    worst = int(np.argmax(np.where(counted, sums / np.maximum(sizes, 1), -1.0)))
    return float((sums.sum() - sums[worst]) / (sizes.sum() - sizes[worst]))


def name_effects(fits: list[Fit], alpha: float, min_total: dict[str, float]) -> None:
    """Name, over every fit together (Holm), the behaviours whose effect is significant and
    amounts to at least `min_total[fit.name]` over the run (a whole unit of a counter)."""
    tests: list[tuple[Fit, str, str, float]] = []
    for f in fits:
        for b, e in f.effects.items():
            tests += [(f, b, "up", e.p_greater), (f, b, "down", e.p_less)]
        if f.probe is not None:
            tests += [(f, "probe", "up", f.probe.p_greater)]
    for (f, b, way, _), adjusted in zip(tests, holm([t[3] for t in tests]), strict=True):
        if adjusted >= alpha:
            continue
        e = f.probe if b == "probe" and f.probe is not None else f.effects[b]
        if abs(e.total) < min_total.get(f.name, 1.0):
            continue
        if b == "probe":
            f.probe_named = True
        elif way == "up":
            f.named.append(b)
        else:
            f.clears.append(b)
    for f in fits:
        f.named.sort(key=lambda b: -f.effects[b].rate)
