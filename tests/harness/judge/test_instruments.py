"""A failed instrument is never evidence of health: the judge counts its failures, judges
what it did give, and keeps the run from passing when it gave too little (pure, no I/O)."""

from __future__ import annotations

from harness.judge.analysis import INCONCLUSIVE, LEAK, PASS, analyze
from harness.rundir.records import Census, CycleSample
from tests.harness.judge.synthetic import make_lines

ERROR = "the census agent answered HTTP 500: TypeError: bad operand"


def with_census(lines: list[CycleSample], failing: set[int], entries=lambda t: 3.0) -> list[CycleSample]:
    """A census in every cycle (0-based) but those in `failing`, which record why not."""
    for t, sample in enumerate(lines):
        if t in failing:
            sample.instruments_failed = {"census": ERROR}
        else:
            sample.census = Census(groups={"entries:Rooms.members": entries(t), "objects:app.Room": 2.0})
    return lines


def test_a_census_that_never_answered_leaves_a_clean_run_inconclusive() -> None:
    """Every cycle's census failed: no pass, and the reason names the instrument and its error."""
    result = analyze(with_census(make_lines(), failing=set(range(50))))
    assert result.verdict == INCONCLUSIVE
    [failures] = result.instruments
    assert (failures.instrument, failures.failed, failures.cycles, failures.enough) == ("census", 50, 50, False)
    assert failures.error == ERROR
    assert result.reasons == [failures.describe()]
    assert failures.describe().startswith(f"census failed in 50 of 50 cycles: {ERROR}")


def test_a_census_that_failed_in_some_cycles_is_judged_on_the_rest() -> None:
    """Three failed censuses: the run still passes, and says on how many cycles it judged."""
    result = analyze(with_census(make_lines(), failing={7, 20, 33}))
    assert result.verdict == PASS, result.reasons
    [failures] = result.instruments
    assert (failures.failed, failures.enough, failures.judged) == (3, True, 42)
    assert result.reasons == []
    assert "judged on the 42 cycles after warm-up that had it" in failures.describe()


def test_a_census_leak_is_found_through_the_gaps() -> None:
    """A growing container is still caught when some of its censuses failed."""
    lines = with_census(make_lines(), failing={10, 11, 30}, entries=lambda t: 10.0 * t)
    result = analyze(lines)
    assert result.verdict == LEAK
    assert "census.entries:Rooms.members" in {m.name for m in result.failing()}


def test_a_hard_leak_stands_though_the_census_failed() -> None:
    """A per-client gauge left behind is evidence enough, whatever the census did."""
    lines = with_census(make_lines(per_client={"chat_heartbeats": lambda t: t + 1}), failing=set(range(50)))
    assert analyze(lines).verdict == LEAK


def test_failures_round_trip_through_samples_jsonl() -> None:
    sample = with_census(make_lines(cycles=1), failing={0})[0]
    again = CycleSample.from_json(sample.to_json())
    assert again.instruments_failed == {"census": ERROR} and again.census is None
    assert "instruments_failed" not in make_lines(cycles=1)[0].to_dict()
