"""When a leak began: a level that was flat and then grew, told by a hinge fit. Pure.

A leak that starts mid-run (after a cache fills, after the 150th session, after a timer
first fires) looks, over the whole run, like a weaker leak than it is: its growth is spread
over cycles where it did not grow. The hinge y = a + b * max(0, t - k) is fitted for every
k; an onset is said where the best hinge explains the series far better than a straight
line does and the series before it was flat. Attribution then fits only the waves after it.
"""

from __future__ import annotations

import numpy as np

MIN_BEFORE = 3  # points before the onset (a flat stretch must be seen)
MIN_AFTER = 6  # points after it (a growth must be seen, and attributed)
BENT = 0.25  # the hinge leaves at most this share of the straight line's squared error
FLAT = 0.2  # the slope before the onset is at most this share of the slope after it
ALPHA = 0.01  # or the hinge's extra parameter is significant at this, over all corners tried


def bent(hinge_sse: float, line_sse: float, n: int, corners: int) -> bool:
    """Whether the hinge explains the series better than a line by more than chance: its
    share of the line's error is small (BENT), or its one more parameter is significant (F
    test, Bonferroni over the corners tried). The second holds where the growth after the
    onset is uneven (probe-only waves pause it) and leaves both fits a large error."""
    if hinge_sse <= BENT * line_sse:
        return True
    if hinge_sse <= 0 or n <= 3:
        return hinge_sse < line_sse
    from scipy import stats  # imported here: see rules.py's note

    f = (line_sse - hinge_sse) / (hinge_sse / (n - 3))
    return float(stats.f.sf(f, 1, n - 3)) < ALPHA / corners


def onset(y: np.ndarray) -> int | None:
    """The index of the first point that grew after a flat stretch, or None when the level
    grew from the start, did not grow, or bends the other way (a cache that filled)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < MIN_BEFORE + MIN_AFTER or not np.all(np.isfinite(y)):
        return None
    t = np.arange(n, dtype=float)
    line = np.polyfit(t, y, 1)
    line_sse = float(np.sum((y - np.polyval(line, t)) ** 2))
    if line[0] <= 0 or line_sse <= 0:
        return None
    # Every hinge at once, from suffix sums (O(n), not a matrix of hinges by points): over the
    # points after k, x = t - k, so sum x, sum x^2 and sum xy follow from sums of 1, t, t^2, y, ty.
    ks = np.arange(MIN_BEFORE, n - MIN_AFTER + 1)
    after = ks + 1  # the first point after each hinge's corner

    def suffix(v: np.ndarray) -> np.ndarray:
        return np.concatenate([np.cumsum(v[::-1])[::-1], [0.0]])[after]

    count, sum_t, sum_tt = suffix(np.ones(n)), suffix(t), suffix(t * t)
    sum_y, sum_ty = suffix(y), suffix(t * y)
    sx = sum_t - ks * count
    sxx = sum_tt - 2 * ks * sum_t + ks * ks * count - sx * sx / n
    sxy = sum_ty - ks * sum_y - sx * y.sum() / n
    slope = sxy / np.maximum(sxx, 1e-12)
    yc = y - y.mean()
    sse = float(yc @ yc) - slope * sxy
    best = int(np.argmin(sse))
    k = int(ks[best])
    if slope[best] <= 0 or not bent(float(sse[best]), line_sse, n, len(ks)):
        return None
    before = np.polyfit(t[: k + 1], y[: k + 1], 1)[0] if k >= 1 else 0.0
    if abs(before) > FLAT * slope[best]:
        return None
    # The hinge's corner lags a growth that pauses now and then (probe-only waves): the onset is
    # the first point from which the level never came back to the flat stretch's.
    flat = y[: k + 1]
    level = float(np.median(flat))
    tolerance = 3 * 1.4826 * float(np.median(np.abs(flat - level)))
    above = np.minimum.accumulate((y > level + tolerance)[::-1])[::-1]  # from here on, always above
    if not above.any():
        return k + 1
    # A corner pulled early by uneven growth after it has flat points after it: then the first
    # point that left the flat stretch for good is the onset, not the corner.
    if y[k + 1] <= level + tolerance:
        return int(np.argmax(above))
    return min(k + 1, int(np.argmax(above)))
