"""The wave design: every behaviour alone in blocks, probe-only pairs, a reproducible order."""

from __future__ import annotations

from harness.load.design import BLOCK_WAVES, MIX, REST_WAVES, WaveDesign, cycles_to_attribute, design_note, plan
from harness.options import BEHAVIOURS


def kinds(design: WaveDesign, cycles: int) -> list[str]:
    return [design.kind(c) for c in range(1, cycles + 1)]


def test_warmup_runs_the_standard_mix_then_every_behaviour_runs_alone_in_a_block():
    """After the warm-up's standard mixes, a round holds one block per behaviour and a run of
    probe-only waves."""
    design = WaveDesign("mixed", 10, warmup=5, seed=7)
    plan = kinds(design, 5 + design.round_length)
    assert plan[:5] == ["mix"] * 5
    round_ = plan[5:]
    for behaviour in BEHAVIOURS:
        start = round_.index(behaviour)
        assert round_[start - 1] == "mix" and round_[start:start + BLOCK_WAVES] == [behaviour] * BLOCK_WAVES
    rest = round_.index("rest")
    assert round_[rest:rest + REST_WAVES] == ["rest"] * REST_WAVES and round_.count("rest") == REST_WAVES
    assert design.wave(1) == list(MIX) and design.composition(6 + round_.index("clean_close")) == {"clean_close": 10}
    assert design.wave(6 + round_.index("rest")) == []


def test_the_order_is_shuffled_per_round_and_reproducible_from_the_seed():
    """Same seed, same plan; another seed or another round, another order of blocks."""
    a, b = WaveDesign("mixed", 10, 5, seed=1), WaveDesign("mixed", 10, 5, seed=2)
    assert kinds(a, 90) == kinds(WaveDesign("mixed", 10, 5, seed=1), 90)
    assert kinds(a, 90) != kinds(b, 90)
    assert a.round_of(0) != a.round_of(1)


def test_one_scenario_runs_alone_and_attribution_is_moot():
    """--scenario X: every wave is X; the start message says attribution is moot."""
    design = WaveDesign("audio_drop", 4, 2)
    assert all(design.wave(c) == ["audio_drop"] * 4 for c in range(1, 30))
    assert design.attribution_gap(50) is None
    assert "moot" in design_note("audio_drop", 4, 50, None, 1)


def test_a_run_too_short_to_attribute_runs_the_mix_and_says_so_at_start():
    """20 cycles cannot reach every block: every wave runs the standard mix (its detection
    needs every behaviour in every window), and the note says so with the cycles that would do."""
    note = design_note("mixed", 10, 20, None, 11)
    needed = cycles_to_attribute("mixed", 10, 11, None)
    assert "too short for the wave design" in note and f"--cycles {needed}" in note
    assert 20 < needed <= 50
    short = plan("mixed", 10, 20, None, 11)
    assert [short.kind(c) for c in range(1, 21)] == ["mix"] * 20
    assert plan("mixed", 10, 50, None, 11).attributes and plan("mixed", 10, 0, None, 11).attributes
    assert "too short" not in design_note("mixed", 10, 50, None, 11)
    assert "too short" not in design_note("mixed", 1, 50, None, 11)  # one session a wave still estimates
