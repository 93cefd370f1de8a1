"""The machine's speed told from the server's: change points of the control series (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.judge.analysis import CONFOUNDED, DEGRADED, LEAK, PASS, analyze
from harness.judge.confound import changes_of, pettitt
from harness.judge.verdict import EXIT_CODES
from tests.harness.judge.synthetic import make_lines

STEP_AT = 25  # t of the first busy cycle; its cycle number is t + 1


def busy_from(t0: int, value: float = 1.0, quiet: float = 0.02):
    return lambda t: value if t >= t0 else quiet


def test_pettitt_finds_a_step_where_it_is() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[rng.normal(10, 0.5, 30), rng.normal(13, 0.5, 20)]
    at, p = pettitt(y)
    assert at == 30 and p < 1e-6


def test_pettitt_sees_no_step_in_noise() -> None:
    rng = np.random.default_rng(2)
    assert pettitt(rng.normal(10, 1, 50))[1] > 0.05


def test_a_step_is_told_from_a_drift() -> None:
    cycles = np.arange(1, 51, dtype=float)
    rng = np.random.default_rng(3)
    step = np.r_[np.full(25, 0.02), np.full(25, 1.0)] + rng.normal(0, 0.02, 50)
    drift = np.linspace(0.0, 2.0, 50) + rng.normal(0, 0.02, 50)
    [found] = changes_of("others_cpu", cycles, step, 0.01)
    assert (found.at, found.shape) == (26, "step")
    assert changes_of("others_cpu", cycles, drift, 0.01)[0].shape == "drift"


def test_a_small_change_of_the_machine_does_not_count() -> None:
    """0.1 cores more elsewhere is noise of a shared machine, however significant."""
    cycles = np.arange(1, 51, dtype=float)
    assert changes_of("others_cpu", cycles, np.r_[np.zeros(25), np.full(25, 0.1)], 0.01) == []


def stepped(t: int) -> float:
    """A latency x1.4 from STEP_AT on: the waves', and the probe's where the slower machine
    slows a lone client too."""
    return 20.0 * (1.4 if t >= STEP_AT else 1.0)


def test_wave_latency_step_with_the_machine_is_confounded() -> None:
    """A machine that got slower from mid-run makes the waves' and the probe's latency x1.4.
    The control series steps at the same cycle: confounded, exit 3."""
    lines = make_lines(wave=stepped, probe=stepped, noise=0.01, seed=4,
                       control={"others_cpu": busy_from(STEP_AT), "cpu_ms": lambda t: 1.0})
    result = analyze(lines)
    assert result.metrics["wave.reply.p95"].verdict == CONFOUNDED
    assert result.verdict == CONFOUNDED and EXIT_CODES[result.verdict] == 3
    [change] = result.machine
    assert change.at == STEP_AT + 1 and change.figure == "others_cpu" and change.shape == "step"
    assert "cycle 26" in result.metrics["wave.reply.p95"].reason


def test_without_the_control_the_same_step_is_degraded() -> None:
    """What the control is for: the same series with a steady machine is called degraded."""
    lines = make_lines(wave=stepped, probe=stepped, noise=0.01, seed=4)
    result = analyze(lines)
    assert result.metrics["wave.reply.p95"].verdict == DEGRADED and result.machine == []
    assert result.metrics["probe.reply_ms"].verdict == DEGRADED


@pytest.mark.parametrize("probe_rise", [1.0, 1.03])
def test_a_wave_latency_the_probe_does_not_bear_out_is_the_machines(probe_rise: float) -> None:
    """CI's false alarm: the waves' p95 x1.4 (+24 ms over 10 sessions) with the machine's
    control steady, while the probe, alone on the server, stays flat or rises less than the
    +2.4 ms that work added per request would cost it: not the server's, a pass that says why."""
    lines = make_lines(wave=stepped, probe=lambda t: 20.0 * (probe_rise if t >= STEP_AT else 1.0),
                       noise=0.01, seed=4)
    result = analyze(lines)
    wave = result.metrics["wave.reply.p95"]
    assert wave.verdict == PASS and result.verdict == PASS and result.machine == []
    assert wave.ratio == pytest.approx(1.4, abs=0.05)
    assert "not the server's: the probe, alone on the server, went from 20 to" in wave.reason
    assert "the machine under load" in wave.reason
    assert wave.reason in result.machine_lines()  # said on the terminal, in summary.md and report.html


def test_a_wave_latency_the_probe_bears_out_stands() -> None:
    """A server slowing by 0.2 ms a cycle per request: the probe +6 ms, and the waves, queued
    behind each other's extra work, +30 ms (less than 10 sessions x 6 ms): both degraded."""
    lines = make_lines(wave=lambda t: 20.0 + 0.35 * t, probe=lambda t: 20.0 + 0.2 * t, noise=0.01, seed=7)
    result = analyze(lines)
    assert result.metrics["probe.reply_ms"].verdict == DEGRADED
    assert result.metrics["wave.reply.p95"].verdict == DEGRADED and result.verdict == DEGRADED


def test_a_drift_within_a_steady_stretch_stands() -> None:
    """A latency leak grows before and after the machine's step: still degraded."""
    lines = make_lines(probe=lambda t: 20.0 * (1 + 0.04 * t), noise=0.01, seed=5,
                       control={"others_cpu": busy_from(STEP_AT)})
    result = analyze(lines)
    assert result.metrics["probe.reply_ms"].verdict == DEGRADED
    assert "at constant machine speed" in result.metrics["probe.reply_ms"].reason
    assert result.verdict == DEGRADED


def test_a_counter_leak_stands_whatever_the_machine_did() -> None:
    lines = make_lines(wave=stepped, probe=stepped, noise=0.01, seed=4,
                       per_client={"chat_audio_buffers": lambda t: t},
                       control={"others_cpu": busy_from(STEP_AT)})
    result = analyze(lines)
    assert result.metrics["wave.reply.p95"].verdict == CONFOUNDED
    assert result.verdict == LEAK


@pytest.mark.parametrize("figure, quiet, busy", [("cpu_ms", 1.0, 1.6), ("rtt_ms", 0.05, 0.1)])
def test_the_timed_controls_count_too(figure: str, quiet: float, busy: float) -> None:
    lines = make_lines(wave=stepped, probe=stepped, noise=0.01, seed=4,
                       control={figure: busy_from(STEP_AT, busy, quiet)})
    assert analyze(lines).verdict == CONFOUNDED


def test_a_constant_hog_changes_nothing() -> None:
    """A machine busy from start to end is steady: no change, the fixed server passes."""
    lines = make_lines(noise=0.01, seed=6, control={"others_cpu": lambda t: 1.0, "cpu_ms": lambda t: 1.5})
    result = analyze(lines)
    assert result.machine == [] and result.verdict == PASS
