"""When a leak began: the hinge fit of onset.py on shapes a run can take (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.judge.onset import onset


def test_a_level_flat_then_growing_has_its_onset() -> None:
    y = np.array([3.0] * 12 + [3.0 + 11 * i for i in range(1, 34)])
    assert onset(y) == 12


def test_with_noise_the_onset_is_found_near_where_it_was() -> None:
    rng = np.random.default_rng(1)
    y = np.array([5.0] * 20 + [5.0 + 2 * i for i in range(1, 26)]) + rng.integers(-1, 2, 45)
    k = onset(y)
    assert k is not None and 17 <= k <= 22, k


@pytest.mark.parametrize("shape", [
    [2.0 * i for i in range(45)],  # grows from the start: no onset to speak of
    [min(240.0, 10.0 * i) for i in range(45)],  # a cache that fills, then stays full
    [4.0] * 45,  # flat
    [float(i % 3) for i in range(45)],  # jitter
    [100.0 - i for i in range(45)],  # falls
])
def test_no_onset_where_there_is_none(shape: list[float]) -> None:
    assert onset(np.array(shape)) is None


def test_too_short_or_gapped_has_none() -> None:
    assert onset(np.array([0.0, 0.0, 0.0, 5.0, 10.0])) is None
    assert onset(np.array([0.0] * 10 + [np.nan] + [float(i) for i in range(20)])) is None


def test_an_onset_before_uneven_growth_is_found_where_the_level_left_its_flat_stretch() -> None:
    """A CI run (seed 852656): flat for 8 cycles, then about 11 a cycle, paused by two runs of
    probe-only waves. The pauses leave the hinge half the line's error, not a quarter, and
    pull its corner two points early; the extra parameter is still significant, and the
    onset is the first point that left the flat stretch for good."""
    y = np.array([
        0, 0, 0, 0, 0, 0, 0, 0, 10, 21, 32, 43, 54, 65, 76, 87, 98, 109, 120, 131, 142, 153, 164, 175, 176,
        177, 178, 189, 200, 211, 222, 223, 224, 225, 236, 247, 258, 269, 280, 291, 302, 313, 324, 335, 346
    ], dtype=float)
    assert onset(y) == 8
