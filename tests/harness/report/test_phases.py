"""Where a cycle goes: each phase's median, and what the phases do not account for (pure)."""

from __future__ import annotations

from harness.report.summary import progress_line, where_cycles_go
from harness.rundir.records import Census, CycleSample, Probe, Sessions


def test_phases_and_the_rest_of_each_cycle_are_summed_up() -> None:
    phases = {"wave": 0.06, "quiesce": 0.05, "process": 0.1, "scrape": 0.01, "census": 0.03, "probe": 0.02}
    samples = [CycleSample(cycle=c, sessions=Sessions(), time=100.0 + 0.55 * c, phases=phases) for c in range(1, 6)]
    assert where_cycles_go(samples) == ("wave 0.06, quiesce 0.05, process 0.1, scrape 0.01, census 0.03, "
                                        "probe 0.02, other 0.28 of 0.55")


def test_samples_without_phases_say_nothing() -> None:
    assert where_cycles_go([CycleSample(cycle=1, sessions=Sessions(), time=1.0)]) == ""


def test_phases_round_trip_through_a_sample_line() -> None:
    sample = CycleSample(cycle=3, sessions=Sessions(), phases={"wave": 0.061, "census": 0.0312})
    assert CycleSample.from_json(sample.to_json()).phases == {"wave": 0.061, "census": 0.0312}


def test_each_cycles_line_says_what_its_census_cost() -> None:
    probe = Probe(ok=True, reply_ms=20.0)
    counted = CycleSample(cycle=4, sessions=Sessions(), probe=probe, census=Census(took_ms=87.4, gc_ms=52.0))
    assert progress_line(counted, 50).endswith("| census 87 ms")
    assert "census" not in progress_line(CycleSample(cycle=4, sessions=Sessions(), probe=probe), 50)
