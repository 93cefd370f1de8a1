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
MAX_CANDIDATES = 400  # onsets tried on a long series (evenly spaced)


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
    ks = np.arange(MIN_BEFORE, n - MIN_AFTER + 1)
    if len(ks) > MAX_CANDIDATES:
        ks = np.unique(np.linspace(MIN_BEFORE, n - MIN_AFTER, MAX_CANDIDATES).astype(int))
    x = np.maximum(0.0, t[None, :] - ks[:, None])  # one hinge per row
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    slope = (xc @ yc) / np.maximum(np.sum(xc * xc, axis=1), 1e-12)
    sse = np.sum((yc[None, :] - slope[:, None] * xc) ** 2, axis=1)
    best = int(np.argmin(sse))
    k = int(ks[best])
    if slope[best] <= 0 or sse[best] > BENT * line_sse:
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
    return min(k + 1, int(np.argmax(above))) if above.any() else k + 1
