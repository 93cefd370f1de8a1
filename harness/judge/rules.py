"""The verdict rules, one function per kind of signal (see analysis.py for which series
each is applied to). Pure: numbers in, a MetricResult out; scipy for the statistics.

scipy.stats is imported in the functions that use it, here and in the judge's other modules:
it takes a second to load, and the Locust process, which reaches the judge through the wave
design (load/design.py), never needs it, so its boot and the run's first wave do not wait."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from harness.judge.onset import onset
from harness.judge.signal import Signal

PASS, LEAK, DEGRADED, INCONCLUSIVE = "pass", "leak", "degraded", "inconclusive"
CONFOUNDED = "confounded"  # a latency change that came with a change of the machine (confound.py)


@dataclass
class Config:
    """Thresholds of the verdicts; every default is documented in the README."""

    warmup: int | None = None
    planned_cycles: int | None = None  # of a live run, whose default warm-up follows what was planned
    alpha: float = 0.01
    min_latency_ratio: float = 1.25
    min_memory_bytes_per_session: float = 8 * 1024
    min_memory_late_bytes: float = 2 * 2**20
    min_memory_cycles: int = 20
    min_idle_cpu: float = 0.05
    residue_cycles: int = 3
    growth_windows: int = 3
    max_failed_fraction: float = 0.5
    min_post_warmup_cycles: int = 4
    # Finding a change of the machine only spares the server a latency verdict that does not
    # also show within a stretch of constant speed, so it is tested more leniently (Pettitt's
    # p is conservative, and a step near the run's ends gives it few cycles on one side) and
    # not made stricter by early stop's repeated looks (which divide `alpha`). The probe's rise
    # that must bear out a wave's latency (confound.corroborate) is tested at it too.
    machine_alpha: float = 0.05


def default_warmup(cycles: int) -> int:
    """A tenth of the run, at least 1 and at most 5 cycles."""
    return max(1, min(5, cycles // 10))


def warmup_of(warmup: int | None, cycles: int) -> int:
    """The warm-up a run of `cycles` planned cycles is judged with (`--warmup`, else the default)."""
    return warmup if warmup is not None else default_warmup(cycles)


@dataclass
class Named:
    """What one session of a behaviour (or the probe's own turn, per cycle) leaves behind, as
    attribution named it (by_behaviour.py), with its 95% interval."""

    rate: float
    ci: tuple[float, float]
    with_probe: bool = False  # the rate carries its share of the probe's own turn (no probe-only
    # waves since a leak's onset to tell it apart)

    def to_dict(self, unit: str) -> dict[str, Any]:
        """As summary.json writes it: {unit: rate, "ci": [low, high]}, and "with_probe": true."""
        return {unit: self.rate, "ci": [self.ci[0], self.ci[1]]} | ({"with_probe": True} if self.with_probe else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any], unit: str) -> Named:
        low, high = data["ci"]
        return cls(float(data[unit]), (float(low), float(high)), bool(data.get("with_probe", False)))


@dataclass
class MetricResult:
    name: str
    kind: str
    verdict: str = PASS
    reason: str = ""
    unit: str = ""
    slope_per_cycle: float | None = None
    slope_per_session: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    first_median: float | None = None
    last_median: float | None = None
    ratio: float | None = None
    practical: bool = False  # the effect is large enough to matter, before the p-value
    by_behaviour: dict[str, Named] = field(default_factory=dict)  # the behaviours named, per session
    probe: Named | None = None  # the probe's own effect per cycle, if named
    reset_by: list[str] = field(default_factory=list)  # behaviours whose waves bring it back down (by_behaviour.py)
    # A level that rose, then stopped: {"low": l, "high": h, "from_cycle": c}: it stayed within
    # [l, h] from cycle c on (a cache or pool that filled); no leak, and said so.
    bounded: dict[str, float] | None = None
    # The drain check (drain.py): {"released_after_s", "level", "early"} for a level that was held
    # and released after the last wave; {"idle_s", "level", "early", "needs_s"} for one still up.
    drain: dict[str, float | None] | None = None
    onset_cycle: int | None = None  # a leak that began mid-run: the first cycle it grew (onset.py)
    under_load: bool = False  # a wave's latency rise the probe did not bear out (confound.corroborate)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.ci is not None:
            data["ci"] = list(self.ci)
        data["by_behaviour"] = {b: named.to_dict("per_session") for b, named in self.by_behaviour.items()}
        data["probe"] = self.probe.to_dict("per_cycle") if self.probe else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        """A metric of a saved summary.json (a baseline); unknown fields are ignored."""
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known})
        if result.ci is not None:
            result.ci = (float(result.ci[0]), float(result.ci[1]))
        named = data.get("by_behaviour") or {}
        result.by_behaviour = {b: Named.from_dict(d, "per_session") for b, d in named.items()}
        result.probe = Named.from_dict(data["probe"], "per_cycle") if data.get("probe") else None
        return result


# -- the rules -------------------------------------------------------------------


MAX_PAIRS = 200_000  # Theil-Sen over all pairs up to ~630 cycles; a bounded random sample beyond


def theil_sen(y: np.ndarray) -> tuple[float, float, float]:
    """Slope per cycle with its 95% CI: scipy's Theil-Sen over all pairs of a short series;
    over `MAX_PAIRS` pairs drawn at random (fixed seed) for a long one, with the same
    rank-based (Sen) interval read as quantiles, so a soak run is judged in O(n) memory."""
    from scipy import stats

    n = len(y)
    x = np.arange(n, dtype=float)
    if n * (n - 1) // 2 <= MAX_PAIRS:
        result = stats.theilslopes(y, x, alpha=0.95)
        return float(result.slope), float(result.low_slope), float(result.high_slope)
    rng = np.random.default_rng(n)
    i, j = rng.integers(0, n, MAX_PAIRS), rng.integers(0, n, MAX_PAIRS)
    i, j = np.minimum(i, j), np.maximum(i, j)
    keep = i < j
    slopes = np.sort((y[j[keep]] - y[i[keep]]) / (j[keep] - i[keep]))
    pairs = n * (n - 1) / 2
    spread = stats.norm.ppf(0.975) * np.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    low, high = np.quantile(slopes, [max(0.0, (pairs - spread) / 2 / pairs), min(1.0, (pairs + spread) / 2 / pairs)])
    return float(np.median(slopes)), float(low), float(high)


def mann_kendall_p(y: np.ndarray) -> float:
    """One-sided p-value of an increasing monotone trend."""
    from scipy import stats

    if np.all(y == y[0]):
        return 1.0
    tau = stats.kendalltau(np.arange(len(y)), y, alternative="greater")
    return float(tau.pvalue) if np.isfinite(tau.pvalue) else 1.0


def windows(y: np.ndarray, count: int) -> list[np.ndarray]:
    return [w for w in np.array_split(y, count) if len(w)]


def residue_rule(name: str, y: np.ndarray, per_session: float, config: Config) -> MetricResult:
    result = MetricResult(name, "residue")
    slope, low, high = theil_sen(y)
    result.slope_per_cycle, result.ci = slope, (low, high)
    result.slope_per_session = slope / per_session if per_session else None
    result.first_median, result.last_median = float(y[0]), float(y[-1])
    tail = y[-config.residue_cycles :]
    if np.all(tail > 0):
        result.verdict = LEAK
        result.practical = True
        grows = f", growing {result.slope_per_session:.3g} per session" if slope > 0 else ""
        result.reason = (
            f"{name} stays at {tail[-1]:g} after quiesce (should be 0) in the last "
            f"{len(tail)} cycles{grows}"
        )
    return result


def bound_rule(name: str, y: np.ndarray, bound: float, config: Config) -> MetricResult:
    """A figure that must stay at or below `bound`: above it in each of the last cycles
    is a leak (the page's subscriptions, sockets per tab, handled per received)."""
    result = MetricResult(name, "bound")
    result.first_median, result.last_median = float(y[0]), float(y[-1])
    tail = y[-config.residue_cycles :]
    if np.all(tail > bound + 1e-9):
        result.verdict = LEAK
        result.practical = True
        result.reason = f"{name} is {tail[-1]:g} in the last {len(tail)} cycles (must stay at most {bound:g})"
    return result


def jitter(y: np.ndarray) -> float:
    """How much the figure wanders from one cycle to the next around its own trend (the median
    distance of its changes from their median change): 0 for an exact count that holds still
    and for a steady leak alike; a few for V8's count of arrays, which comes and goes."""
    if len(y) < 2:
        return 0.0
    changes = np.diff(y)
    return float(np.median(np.abs(changes - np.median(changes))))


def rising_floors(y: np.ndarray, count: int, noise: float = 0.0) -> tuple[list[float], bool]:
    """The floors of `count` windows of y, and whether each is above the one before by at least 1
    and by more than `noise` (CPython's -R rule, on minima so a passing task is not counted; a
    figure that jitters by a few each cycle, as V8's count of arrays does, must rise by more
    than its jitter for a window's floor to say it grew: settling by one or two does not)."""
    floors = [float(w.min()) for w in windows(y, min(count, len(y)))]
    deltas = np.diff(floors)
    return floors, bool(len(deltas)) and bool(np.all(deltas >= 1)) and bool(np.all(deltas > noise))


def growth_rule(
    name: str, y: np.ndarray, per_session: float, config: Config, cycles: np.ndarray | None = None
) -> MetricResult:
    """A leak grows for as long as the run goes: its floors rise in every window of the run, and
    again in every window of the run's later half. A level that rose and then stopped (a cache,
    pool or LRU that filled to its cap, however slowly) is bounded, and said so with where."""
    result = MetricResult(name, "growth")
    slope, low, high = theil_sen(y)
    result.slope_per_cycle, result.ci = slope, (low, high)
    result.slope_per_session = slope / per_session if per_session else None
    noise = jitter(y)
    floors, rising = rising_floors(y, config.growth_windows, noise)
    result.first_median, result.last_median = floors[0], floors[-1]
    if floors[-1] < floors[0] + 1:  # never grew
        return result
    late = y[len(y) // 2 :]
    if len(late) >= config.growth_windows and not rising_floors(late, config.growth_windows, noise)[1]:
        stayed = windows(late, config.growth_windows)[-1]  # where it stayed, at the end of the run
        low, high = float(stayed.min()), float(stayed.max())
        settled = int(np.argmax(np.minimum.accumulate(y[::-1])[::-1] >= low))  # never below it from here on
        at = int(cycles[settled]) if cycles is not None and len(cycles) == len(y) else settled + 1
        result.bounded = {"low": low, "high": high, "from_cycle": at}
        level = f"{low:g}" if low == high else f"{low:g}-{high:g}"
        label = Signal.parse(name).label
        result.reason = (f"{label} rose ({floors[0]:g} -> {floors[-1]:g}), then stopped growing: bounded at "
                         f"{level} from cycle {at} on (a cache or pool that filled is no leak)")
        return result
    if not rising:
        return result
    result.verdict = LEAK
    result.practical = True
    result.reason = (
        f"{name} floor rose in every window ({' -> '.join(f'{f:g}' for f in floors)}): "
        f"{result.slope_per_session:.3g} per session"
    )
    began(result, y, per_session, cycles)
    return result


def began(result: MetricResult, y: np.ndarray, per_session: float, cycles: np.ndarray | None) -> None:
    """Say when a leak that was flat at first began to grow (onset.py); its rate is the one
    since then, not one spread over cycles where it did not grow."""
    at = onset(y)
    if at is None:
        return
    result.onset_cycle = int(cycles[at]) if cycles is not None and len(cycles) == len(y) else at + 1
    slope, low, high = theil_sen(y[at:])
    result.slope_per_cycle, result.ci = slope, (low, high)
    result.slope_per_session = slope / per_session if per_session else None
    result.reason += began_text(result)


def began_text(result: MetricResult) -> str:
    """"; began at cycle 15, flat before", for a leak with an onset; else nothing."""
    return f"; began at cycle {result.onset_cycle}, flat before" if result.onset_cycle is not None else ""


def census_rule(
    name: str, y: np.ndarray, per_session: float, config: Config, cycles: np.ndarray | None = None
) -> MetricResult:
    """A group the census counts inside the server: the growth rule, said in the server's terms.
    Counts are taken after a full collection (gc.collect(), or V8's before its heap snapshot), so
    what grows is retained, not garbage waiting."""
    result = growth_rule(name, y, per_session, config, cycles)
    result.kind = "census"
    if result.verdict == LEAK:
        rate = result.slope_per_session if result.slope_per_session is not None else result.slope_per_cycle or 0.0
        unit = " per session" if result.slope_per_session is not None else " per cycle"
        signal = Signal.parse(name)
        objects = signal.census_kind == "objects"
        retained = "; retained: still there after a full garbage collection" if objects else ""
        result.reason = (
            f"{signal.label}: {rate:+.2f}{unit} "
            f"({result.first_median:g} -> {result.last_median:g}){retained}{began_text(result)}"
        )
    return result


def orphan_rule(name: str, y: np.ndarray, per_session: float, config: Config) -> MetricResult:
    """Tasks that still hold a closed connection after quiesce work for a client that has gone
    (the seed's conversation task that disconnect did not cancel). Like a per-client gauge, their
    count must be back to 0 once the clients have left: above 0 in each of the last cycles is a
    leak, whether or not it has grown yet (a hold that is released later is the drain check's)."""
    result = residue_rule(name, y, per_session, config)
    result.kind = "census"
    if result.verdict == LEAK:
        tail = y[-config.residue_cycles:]
        grows = (f", growing {result.slope_per_session:+.2f} per session"
                 if result.slope_per_session is not None and (result.slope_per_cycle or 0) > 0 else "")
        result.reason = (f"{Signal.parse(name).label}: {tail[-1]:g} after quiesce in each of the last "
                         f"{len(tail)} cycles (should be 0: their clients have left){grows}")
    return result


def memory_rule(name: str, y: np.ndarray, per_session: float, config: Config) -> MetricResult:
    """A leak keeps growing; allocator warm-up front-loads its growth and levels off.
    So the rate that counts is the later half's, it must be large in its own right, and the
    later half's floor must rise window after window (a single step is not a leak), with each
    window's largest one-wave rise taken out (`without_steps`)."""
    result = MetricResult(name, "memory", unit="bytes")
    if len(y) < config.min_memory_cycles:
        result.verdict = INCONCLUSIVE
        result.reason = (
            f"{len(y)} cycles after warm-up are too few to tell allocator warm-up from a "
            f"leak; memory is judged from {config.min_memory_cycles}"
        )
        return result
    slope, low, high = theil_sen(y)
    result.first_median, result.last_median = float(np.median(y[:3])), float(np.median(y[-3:]))
    result.p_value = mann_kendall_p(y)
    late = y[len(y) // 2 :]
    late_slope, late_low, late_high = theil_sen(late) if len(late) >= 3 else (0.0, 0.0, 0.0)
    result.slope_per_cycle, result.ci = late_slope, (late_low, late_high)
    result.slope_per_session = late_slope / per_session if per_session else late_slope
    # What is judged is the growth that does not hang on one wave a window; what is reported
    # is the later half's own rate.
    late = without_steps(late, config.growth_windows)
    kept_slope, kept_low, _ = theil_sen(late) if len(late) >= 3 else (0.0, 0.0, 0.0)
    kept_per_session = kept_slope / per_session if per_session else kept_slope
    late_total = kept_slope * (len(late) - 1)
    # A leak keeps growing through the later half: the floor of each of its windows (the least
    # the memory was there) sits above the one before, by at least a quarter of the largest
    # such rise. One step (an arena the allocator took once, a cache that filled), on a slow
    # creep or none, does not: a window's median straddles a step inside it and would rise
    # twice for it.
    rises = np.diff([float(np.min(w)) for w in windows(late, config.growth_windows)])
    persists = len(rises) >= 1 and float(rises.min()) > 0 and float(rises.min()) >= float(rises.max()) / 4
    result.practical = bool(
        low > 0
        and kept_low > 0
        and persists
        and kept_per_session >= config.min_memory_bytes_per_session
        and late_total >= config.min_memory_late_bytes
    )
    if result.practical:
        result.reason = (
            f"{name} still grows {result.slope_per_session / 1024:.1f} KiB per session in the "
            f"later half of the run ({late_total / 2**20:.1f} MiB there, not counting each "
            f"window's largest one-wave step; whole run {slope * (len(y) - 1) / 2**20:.1f} MiB)"
        )
    return result


def without_steps(y: np.ndarray, count: int) -> np.ndarray:
    """`y` with the largest one-wave rise of each of its `count` windows taken out.

    A leak is kept per session, so it adds again in every wave of a behaviour that leaks, and
    each behaviour runs for several waves in a row (design.py's blocks). The allocator's
    high-water mark instead steps in one wave: the first wave of a block whose concurrent
    buffers set a new peak takes fresh arenas, which a fragmented heap does not give back, and
    the block's next waves fit in them. Measured on aiohttp servers: +3.3, +0.1, +0.6 MiB over
    one block of audio-dropping waves, +2.4, 0, +0.1 over the next. So a leak still grows
    without its largest step in each window, and the allocator's steps do not."""
    rises = np.diff(y)
    for part in np.array_split(np.arange(len(rises)), count):
        if len(part):
            top = part[np.argmax(rises[part])]
            rises[top] = min(rises[top], 0.0)
    return np.concatenate([y[:1], y[0] + np.cumsum(rises)])


def shift_rule(
    name: str, kind: str, y: np.ndarray, min_ratio: float, floor: float = 0.0, unit: str = "ms"
) -> MetricResult:
    """Last window vs first window: a minimum ratio, and a significant rise (window
    Mann-Whitney or whole-run Mann-Kendall)."""
    result = MetricResult(name, kind, unit=unit)
    slope, low, high = theil_sen(y)
    result.slope_per_cycle, result.ci = slope, (low, high)
    size = max(3, len(y) // 3)
    first, last = y[:size], y[-size:]
    result.first_median, result.last_median = float(np.median(first)), float(np.median(last))
    base = max(result.first_median, 1e-9)
    result.ratio = result.last_median / base
    if np.all(first == first[0]) and np.all(last == first[0]):
        result.p_value = 1.0
    else:
        # Two tests, Bonferroni-combined: the windows' Mann-Whitney, and a Mann-Kendall trend
        # over the whole series, whose power fits a short run (6 cycles a window cannot
        # reach p < 1/924, which Holm over a dozen signals lifts above alpha).
        from scipy import stats

        windows_p = float(stats.mannwhitneyu(first, last, alternative="less").pvalue)
        result.p_value = min(1.0, 2 * min(windows_p, mann_kendall_p(y)))
    result.practical = result.ratio >= min_ratio and result.last_median >= floor
    if result.practical:
        result.reason = (
            f"{name} went from {result.first_median:.3g} to {result.last_median:.3g}{' ' + unit if unit else ''} "
            f"(x{result.ratio:.2f}; trend {slope:+.3g}{' ' + unit if unit else ''}/cycle)"
        )
    return result


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


# -- the whole run -------------------------------------------------------------------
