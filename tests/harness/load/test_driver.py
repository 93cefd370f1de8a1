"""The cycle driver's own logic, with a stand-in server: each cycle's phases, and the drain
check's waiting (how long, for which levels). The wave, sampler and probe it is handed are
small objects here; the real ones are exercised end to end in tests/harness/commands."""

from __future__ import annotations

import time
from pathlib import Path

from harness.load.design import WaveDesign
from harness.load.driver import CycleDriver, WaveResult
from harness.observe.sampler import Observation
from harness.rundir.records import PHASES, Probe, Sessions
from harness.rundir.store import DRAIN_FILE, SampleLog, parse_lines


class HeldServer:
    """A server that keeps each client's state `hold` seconds after it leaves (a reconnect
    grace; `hold=None` keeps it for ever), plus `pool` entries made for the first client."""

    def __init__(self, hold: float | None, pool: int = 0) -> None:
        self.hold, self.pool, self.left, self.seen = hold, pool, [], 0

    def run_wave(self, cycle: int, behaviours: list[str]) -> WaveResult:
        self.left += [time.monotonic()] * len(behaviours)
        self.seen += len(behaviours)
        return WaveResult(Sessions(len(behaviours), len(behaviours)))

    def wait_quiet(self) -> tuple[bool, float]:
        return True, 0.0

    def sample(self, cycle: bool = True) -> Observation:
        now = time.monotonic()
        held = sum(1 for t in self.left if self.hold is None or now - t < self.hold)
        return Observation({"held": float(held), "pool": float(self.pool if self.seen else 0)}, None,
                           seconds={"process": 0.0, "scrape": 0.0, "census": 0.0})


def drive(tmp_path: Path, server: HeldServer, drain: float, cycles: int = 6) -> list:
    driver = CycleDriver(cycles=cycles, design=WaveDesign("clean_close", 3, 1), run_wave=server.run_wave,
                         sampler=server, probe=lambda: Probe(ok=True, reply_ms=1.0), log=SampleLog(tmp_path),
                         drain=drain, drain_log=SampleLog(tmp_path, DRAIN_FILE))
    assert driver.run().state == "finished"
    samples, _ = parse_lines(tmp_path / "samples.jsonl", (tmp_path / "samples.jsonl").read_bytes(), 1)
    assert [s.cycle for s in samples] == list(range(1, cycles + 1))
    assert all(set(s.phases) == set(PHASES) for s in samples)
    return parse_lines(tmp_path / DRAIN_FILE, (tmp_path / DRAIN_FILE).read_bytes(), 1)[0]


def test_state_held_a_while_is_waited_for_until_it_is_back_to_its_level_before_the_first_client(tmp_path):
    drained = drive(tmp_path, HeldServer(hold=0.6), drain=3.0)
    assert drained[-1].server["held"] == 0.0, [s.server for s in drained]
    assert 0.5 < (drained[-1].drain_after_s or 0) < 2.0, [s.drain_after_s for s in drained]


def test_levels_that_never_moved_after_the_warm_up_are_not_waited_for(tmp_path):
    """A pool made for the first client and state released at once: one drain sample."""
    drained = drive(tmp_path, HeldServer(hold=0.0, pool=4), drain=3.0)
    assert len(drained) == 1 and drained[0].server == {"held": 0.0, "pool": 4.0}


def test_state_never_released_is_sampled_until_the_drain_time_is_up(tmp_path):
    started = time.monotonic()
    drained = drive(tmp_path, HeldServer(hold=None), drain=0.8)
    assert time.monotonic() - started < 5.0
    assert len(drained) >= 2 and all(s.server["held"] == 18.0 for s in drained)
    assert (drained[-1].drain_after_s or 0) >= 0.8 - 0.3


def test_a_warning_of_the_sample_before_the_first_wave_is_said_with_the_first_cycle(tmp_path):
    """The sampler warns once (a metrics URL of garbage): that first sample is the one taken
    before the first client, and its warning must still reach a cycle's line."""
    server = HeldServer(hold=0.0)
    first = server.sample

    def sample(cycle: bool = True) -> Observation:
        observation = first(cycle)
        if not getattr(server, "warned", False):
            server.warned = True
            observation.warnings = ["metrics did not return parseable figures"]
        return observation

    server.sample = sample  # type: ignore[method-assign]
    drive(tmp_path, server, drain=1.0)
    samples, _ = parse_lines(tmp_path / "samples.jsonl", (tmp_path / "samples.jsonl").read_bytes(), 1)
    assert samples[0].warnings == ["metrics did not return parseable figures"]
    assert all(not s.warnings for s in samples[1:])


class StaggeredServer(HeldServer):
    """Each wave half a second after the one before, each client's state held `hold` seconds
    after it left: released wave by wave, in turn (as Engine.IO's ping tasks time out)."""

    def run_wave(self, cycle: int, behaviours: list[str]) -> WaveResult:
        time.sleep(0.5)
        return super().run_wave(cycle, behaviours)


def test_past_the_drain_time_a_level_still_falling_is_waited_for_until_it_is_back(tmp_path):
    drained = drive(tmp_path, StaggeredServer(hold=4.0), drain=1.0)
    assert drained[-1].server["held"] == 0.0, [(s.drain_after_s, s.server["held"]) for s in drained]
    assert 2.0 < (drained[-1].drain_after_s or 0) < 8.0


class JitteringLeak(HeldServer):
    """State never released, its count jittering by one from sample to sample."""

    def sample(self, cycle: bool = True) -> Observation:
        observation = super().sample(cycle)
        self.flip = not getattr(self, "flip", False)
        observation.server["held"] += 1.0 if self.flip else 0.0
        return observation


def test_a_leak_whose_count_jitters_is_not_waited_for_past_the_drain_time(tmp_path):
    started = time.monotonic()
    drained = drive(tmp_path, JitteringLeak(hold=None), drain=1.0)
    assert time.monotonic() - started < 8.0  # the drain stopped near its 2 s window, not the 60 s cap
    assert all(s.server["held"] >= 18.0 for s in drained)
