"""Attribution: each signal's change per repeated wave regressed on the wave's behaviour counts."""

from __future__ import annotations

import numpy as np

from harness.judge.analysis import LEAK, PASS, analyze
from harness.load.design import WaveDesign
from harness.rundir.records import CycleSample, Probe, Sessions

CYCLES, USERS, WARMUP = 60, 10, 5


def run_of(level: callable, seed: int = 3) -> list[CycleSample]:  # type: ignore[valid-type]
    """A run of the default design whose gauge `level(state, composition)` evolves per wave."""
    design = WaveDesign("mixed", USERS, WARMUP, seed)
    state = {"value": 0.0}
    samples = []
    for cycle in range(1, CYCLES + 1):
        composition = design.composition(cycle)
        level(state, composition)
        samples.append(CycleSample(
            cycle=cycle, sessions=Sessions(sum(composition.values()), sum(composition.values())),
            probe=Probe(ok=True, reply_ms=20.0, first_token_ms=10.0), composition=composition,
            server={"chat_clients": 0.0, "shared_memory": state["value"], "sockets_settling": state.get("s", 0.0)},
        ))
    return samples


def test_a_leak_one_behaviour_causes_and_another_clears_fails_and_names_the_cause():
    """The masking saw-tooth: clean closes grow a shared memory, page sessions reset it."""
    def level(state, composition):
        if composition.get("page_session"):
            state["value"] = 0.0
        state["value"] += 2 * composition.get("clean_close", 0) + 2  # the probe's own turn too

    a = analyze(run_of(level))
    metric = a.metrics["shared_memory"]
    assert a.attribution is None and metric.verdict == LEAK
    assert list(metric.by_behaviour) == ["clean_close"]
    assert abs(metric.by_behaviour["clean_close"]["per_session"] - 2) < 0.1
    assert "clean_close" in metric.reason and "page_session" not in metric.by_behaviour


def test_what_the_probe_leaves_each_cycle_is_the_probes_not_a_behaviours():
    """A memory only the probe's own turns grow: the probe's term is named, no behaviour is."""
    def level(state, composition):
        state["value"] += 2

    metric = analyze(run_of(level)).metrics["shared_memory"]
    assert not metric.by_behaviour
    assert metric.probe is not None and abs(metric.probe["per_cycle"] - 2) < 1e-6


def test_what_only_settles_with_the_current_wave_is_not_a_leak():
    """A socket per session still closing at sample time, gone a wave later: nothing named."""
    def level(state, composition):
        state["s"] = 0.1 * sum(composition.values())

    a = analyze(run_of(level))
    assert a.metrics["sockets_settling"].verdict == PASS and not a.metrics["sockets_settling"].by_behaviour
    assert a.verdict == PASS


def test_a_task_seen_once_in_a_probe_only_wave_names_no_behaviour():
    """A connection still closing at one probe-only wave's census, gone by the next: the
    probe's term is not pinned on it, so no behaviour is named (seen with two workers)."""
    def level(state, composition):
        rests = state["rests"] = state.get("rests", 0) + (not composition)
        state["value"] = 1.0 if rests == 1 and not composition else 0.0

    a = analyze(run_of(level))
    assert not a.attributed and a.verdict == PASS, [m.reason for m in a.failing()]


def test_noise_on_a_clean_server_names_no_behaviour():
    """Counters that jitter by one now and then, with no trend: no behaviour is named in 20 runs."""
    named = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)

        def level(state, composition, rng=rng):
            state["value"] = float(rng.integers(0, 2))

        a = analyze(run_of(level, seed=seed))
        named += bool(a.attributed)
    assert named == 0


def test_a_fixed_mix_cannot_attribute_and_says_why():
    """Samples whose waves all ran one behaviour: attribution is moot, not guessed."""
    samples = run_of(lambda state, composition: None)
    for sample in samples:
        sample.composition = {"clean_close": USERS}
    assert "moot" in (analyze(samples).attribution or "")
