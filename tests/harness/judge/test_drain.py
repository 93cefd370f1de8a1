"""The drain check: a level held a while after the last wave and then released is no leak;
one still up after the drain stays a leak and says what --drain would tell (pure, no I/O)."""

from __future__ import annotations

from harness.judge.analysis import LEAK, PASS, analyze
from harness.rundir.records import Census, CycleSample, Sessions
from tests.harness.judge.synthetic import make_lines


def drained(values: list[tuple[float, float]], name: str = "app_sessions") -> list[CycleSample]:
    """Drain samples: (seconds after the last wave, the level then)."""
    return [CycleSample(cycle=50, sessions=Sessions(), server={name: v}, drain_after_s=after) for after, v in values]


def growing() -> list[CycleSample]:
    return make_lines(per_client={"app_sessions": lambda t: 5 * t})


def test_a_level_released_during_the_drain_is_no_leak() -> None:
    """A level that grows over the run, falls past its early floor (25) 2.1 s after the last wave
    and reaches 0 at 2.7 s: it was held until 2.7 s, the first time it reached its lowest."""
    assert analyze(growing()).metrics["app_sessions"].verdict == LEAK
    result = analyze(growing(), drain=drained([(0.6, 200.0), (1.3, 90.0), (2.1, 5.0), (2.7, 0.0)]))
    metric = result.metrics["app_sessions"]
    assert metric.verdict == PASS and result.verdict == PASS
    assert metric.drain == {"released_after_s": 2.7, "level": 0.0, "early": 25.0}
    assert "held, then released" in metric.reason and "2.7 s after the last wave" in metric.reason


def test_a_level_that_does_not_fall_stays_a_leak() -> None:
    result = analyze(growing(), drain=drained([(1.0, 245.0), (3.0, 245.0), (5.0, 245.0)]))
    metric = result.metrics["app_sessions"]
    assert metric.verdict == LEAK
    assert metric.drain == {"idle_s": 5.0, "level": 245.0, "early": 25.0, "needs_s": None}
    assert "it did not fall at all" in metric.reason


def test_a_level_falling_slowly_says_what_drain_would_tell() -> None:
    """From 245 to 225 in 5 s: back to 25 after about 55 s at that pace."""
    result = analyze(growing(), drain=drained([(1.0, 240.0), (5.0, 225.0)]))
    metric = result.metrics["app_sessions"]
    assert metric.verdict == LEAK and metric.drain is not None and metric.drain["needs_s"] == 55.0
    assert "--drain 55 would tell" in metric.reason


def test_a_level_a_behaviour_reset_before_the_end_is_not_released_by_time() -> None:
    """Low at the last cycle already (a reset, not the idle): the drain shows no release."""
    lines = growing()
    lines[-1].server["app_sessions"] = 0.0
    result = analyze(lines, drain=drained([(1.0, 0.0)]))
    metric = result.metrics["app_sessions"]
    assert metric.drain is None or "released_after_s" not in metric.drain


def test_what_behaviours_added_and_the_drain_saw_released_is_no_behaviours_leak() -> None:
    """Clean closes add 2 each to a level that the run's waves never let fall: attribution names
    clean_close; the level is back at 0 2 s after the last wave: no leak, and no behaviour named."""
    from tests.harness.judge.test_attribution import run_of

    def level(state, composition):
        state["value"] += 2 * composition.get("clean_close", 0)

    samples = run_of(level)
    assert analyze(samples).metrics["shared_memory"].by_behaviour  # named, without the drain
    result = analyze(samples, drain=drained([(1.0, 40.0), (2.0, 0.0)], name="shared_memory"))
    metric = result.metrics["shared_memory"]
    assert metric.verdict == PASS and metric.by_behaviour == {} and metric.reset_by == []
    assert "held, then released" in metric.reason


SLEEPER = "tasks:Watcher.watch @ app.py:9"


def sleepers(wakes: float) -> tuple[list[CycleSample], list[CycleSample]]:
    """A task per session that sleeps on a long timer: its group grows all run, and a drain
    sample 5 s after the last wave finds every one of them asleep, the last waking in `wakes` s."""
    lines = make_lines()
    for t, line in enumerate(lines):
        line.census = Census(groups={SLEEPER: 11.0 * t})
    drain = [CycleSample(cycle=50, sessions=Sessions(), drain_after_s=5.0,
                         census=Census(groups={SLEEPER: 539.0}, wakes={SLEEPER: wakes}))]
    return lines, drain


def test_tasks_asleep_past_what_the_drain_waits_for_are_said_to_be() -> None:
    """Tasks that all wake in an hour: the drain could not wait that long; the leak stands, and
    says when they would wake, not that the idle was too short."""
    lines, drain = sleepers(3590.0)
    metric = analyze(lines, drain=drain).metrics[f"census.{SLEEPER}"]
    assert metric.verdict == LEAK and metric.drain is not None
    assert metric.drain["wakes_in_s"] == 3590.0
    assert "sleep on a timer that wakes the last of them 3590 s later" in metric.reason
    assert "a hold longer than" not in metric.reason


def test_tasks_that_sleep_again_on_a_short_timer_are_not_called_asleep() -> None:
    """Within the drain's cap the driver waited for the timer; still up means they woke and slept
    again (a periodic loop): the usual account."""
    lines, drain = sleepers(3.0)
    metric = analyze(lines, drain=drain).metrics[f"census.{SLEEPER}"]
    assert metric.verdict == LEAK and metric.drain is not None and "wakes_in_s" not in metric.drain
    assert "it did not fall at all: a leak, or a hold longer than 5 s" in metric.reason
