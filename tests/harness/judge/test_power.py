"""What a run's length can judge: a rule that cannot fire is never a silent pass (pure)."""

from __future__ import annotations

import math

import numpy as np

from harness.judge.analysis import INCONCLUSIVE, LEAK, PASS, analyze
from harness.judge.power import TooShort, best_p, cycles_needed, plan_note, points_needed
from harness.judge.rules import Config, mann_kendall_p
from tests.harness.judge.synthetic import make_lines


def test_best_p_is_the_exact_floor_of_the_rank_tests() -> None:
    """Mann-Kendall over 6 cycles cannot go below 1/6! (doubled for the two tests combined)."""
    assert best_p(6) == 2 / 720
    assert best_p(40) < 1e-12
    assert all(best_p(n) >= best_p(n + 1) for n in range(3, 40))


def test_the_floor_of_the_trend_test_is_scipys_own() -> None:
    """power.py says 1 / n! without calling scipy (the Locust process, which plans the waves
    with it, never loads scipy.stats): that is the p scipy gives a perfectly monotone series."""
    for n in range(3, 120):
        p = mann_kendall_p(np.arange(n, dtype=float))
        assert best_p(n) <= 2 * p * (1 + 1e-9)
        assert math.isclose(1 / math.factorial(n), p, rel_tol=1e-9, abs_tol=1e-300)


def test_the_cycles_a_rule_needs_follow_alpha_and_signals() -> None:
    assert points_needed(12, 0.01) == 7  # 12 x 2/720 = 0.033: 6 is not enough, 7 is
    assert best_p(points_needed(12, 0.01)) * 12 < 0.01 <= best_p(points_needed(12, 0.01) - 1) * 12
    assert points_needed(12, 1e-6) > points_needed(12, 0.01)
    assert cycles_needed(20, None) == 22  # a 22-cycle run keeps 20 after its warm-up of 2


def test_a_short_clean_run_is_too_short_not_pass() -> None:
    result = analyze(make_lines(cycles=12))
    assert result.verdict == INCONCLUSIVE and result.failing() == []
    assert result.too_short == [TooShort("memory.rss", 22, "11 after warm-up, memory is judged from 20")]
    assert result.to_dict()["too_short"] == [
        "too short to judge memory.rss: needs 22 cycles (11 after warm-up, memory is judged from 20)"
    ]


def test_a_short_run_that_already_failed_fails() -> None:
    result = analyze(make_lines(cycles=12, tasks=lambda t: 2 + 3 * t))
    assert result.verdict == LEAK and result.too_short


def test_long_enough_clean_run_passes() -> None:
    result = analyze(make_lines(cycles=22))
    assert result.too_short == [] and result.verdict == PASS


def test_a_signal_judged_over_too_few_cycles_is_named() -> None:
    """At alpha 1e-6, 9 cycles after warm-up cannot reach significance at all (2/9! x signals)."""
    result = analyze(make_lines(cycles=10), Config(alpha=1e-6))
    short = [s for s in result.too_short if s.signal == "probe.reply_ms"]
    assert short and result.verdict == INCONCLUSIVE
    needed = short[0].needs  # the cycles it says would do: they do, one fewer does not
    judged = [analyze(make_lines(cycles=n), Config(alpha=1e-6)).too_short for n in (needed - 1, needed)]
    assert any(s.signal == "probe.reply_ms" for s in judged[0])
    assert not any(s.signal == "probe.reply_ms" for s in judged[1])


def test_the_note_before_a_run_says_what_it_can_judge() -> None:
    assert "too short to judge memory: needs 22 cycles" in plan_note(10)
    note = plan_note(50)
    assert "memory from 8 KiB per session" in note and "too short" not in note
    assert "too few to judge anything" in plan_note(4)
