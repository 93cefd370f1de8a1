"""The cycle driver: wave, quiesce, sample, probe; one `CycleSample` per cycle.

Locust-free: the Locust hooks (hooks.py) or the page sessions (page.py) hand it a
`run_wave` function, so the same driver serves `harness run`, the Locust web UI,
master/worker runs and the browser.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.errors import TargetError, WorkerLost
from harness.judge.series import IGNORED
from harness.load.client import SessionError
from harness.load.design import WaveDesign
from harness.load.protocols import OLV, Protocol
from harness.observe.control import ControlMeter
from harness.observe.sampler import Sampler
from harness.options import DRAIN_FALLING_MAX_S, REPLY_TIMEOUT_S
from harness.rundir.records import CycleSample, Probe, RunStatus, Sessions, StepLatency
from harness.rundir.store import SampleLog

logger = logging.getLogger("harness.load.driver")

PROBE_TEXT = "Probe: please reply as usual."
DRAIN_INTERVAL_S = 0.25  # between drain samples, on top of the sample's own idle-CPU window
DRAIN_FALL_WINDOW_S = 2.0  # "still falling": below where it was this long ago,
DRAIN_FALL_SHARE = 0.05  # by this share of what it held above its idle level
CUMULATIVE = ("_total", "_created", "_count", "_sum", "_bucket")


def levels(sample: CycleSample) -> dict[str, float]:
    """The figures of a sample that retained state shows in, by their series names: server
    gauges (less the process figures psutil reports better), the census's groups of the server's
    own code and its tasks, entries and threads, fds and threads. (Library object counts and
    virtual memory wander and are left out.)"""
    out = {name: value for name, value in sample.server.items()
           if name not in IGNORED and not name.split("{")[0].endswith(CUMULATIVE)}
    if sample.census is not None:
        own = {f"objects:{t}" for t in sample.census.own_types}
        out |= {f"census.{group}": n for group, n in sample.census.groups.items()
                if not group.startswith("objects:") or group in own}
    if sample.process is not None:
        out |= {"process.open_fds": sample.process.open_fds, "process.threads": sample.process.threads}
    return out


@dataclass
class WaveResult:
    """What the U sessions of one wave did, and their timed steps."""

    sessions: Sessions = field(default_factory=Sessions)
    steps: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)  # client-side figures (the page's)

    def merge(self, other: WaveResult) -> None:
        self.sessions.merge(other.sessions)
        for name, values in other.steps.items():
            self.steps.setdefault(name, []).extend(values)

    def to_dict(self) -> dict[str, Any]:
        """For Locust's messages between a worker and the master."""
        return {"sessions": asdict(self.sessions), "steps": {k: list(v) for k, v in self.steps.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaveResult:
        return cls(Sessions(**data["sessions"]), {k: list(v) for k, v in data.get("steps", {}).items()})


def summarize(values: list[float]) -> StepLatency | None:
    """p50, p95 and max of a wave's step latencies, in ms."""
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    return StepLatency(
        p50=round(float(np.percentile(arr, 50)), 3),
        p95=round(float(np.percentile(arr, 95)), 3),
        max=round(float(arr.max()), 3),
        count=int(arr.size),
    )


def run_probe(url: str, timeout: float = REPLY_TIMEOUT_S, protocol: Protocol = OLV) -> Probe:
    """One fresh client, one fixed text turn, alone on the quiet server."""
    client = protocol.session(url, timeout, None)
    try:
        connect_ms = client.connect()
        timing = client.turn(PROBE_TEXT)
        return Probe(
            ok=True,
            connect_ms=round(connect_ms, 3),
            first_token_ms=round(timing.first_token_ms or 0.0, 3),
            reply_ms=round(timing.reply_ms or 0.0, 3),
        )
    except SessionError as exc:
        return Probe(ok=False, error=str(exc))
    finally:
        client.close()


def falling(history: list[tuple[float, dict[str, float]]], held: list[str], since: float,
            idle: dict[str, float]) -> bool:
    """Whether any held level is being released: now below where it stood at `since` by at
    least DRAIN_FALL_SHARE of what it then held above its idle level (and by a whole unit), so a
    count that jitters by one on a leak does not keep the drain going."""
    if len(history) < 2 or history[0][0] > since:
        return True  # too early to tell: keep sampling
    before = next(figures for at, figures in reversed(history) if at <= since)
    now = history[-1][1]
    for name in held:
        if name in before:
            drop, above = before[name] - now.get(name, 0.0), before[name] - idle.get(name, 0.0)
            if drop >= max(1.0, DRAIN_FALL_SHARE * above):
                return True
    return False


def asleep(sample: CycleSample, held: list[str]) -> dict[str, float]:
    """The held census groups whose tasks all sleep until a timer: seconds until the last wakes."""
    wakes = sample.census.wakes if sample.census is not None else {}
    return {name: wakes[name.removeprefix("census.")] for name in held if name.removeprefix("census.") in wakes}


class Stopped(Exception):
    """The run was asked to stop mid-wave; the partial cycle is not written."""


class CycleDriver:
    """Runs `cycles` waves as the design plans them, sampling and probing after each."""

    def __init__(
        self,
        *,
        cycles: int,
        design: WaveDesign,
        run_wave: Callable[[int, list[str]], WaveResult],
        sampler: Sampler,
        probe: Callable[[], Probe],
        log: SampleLog,
        on_cycle: Callable[[CycleSample], None] | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        control: ControlMeter | None = None,
        drain: float = 0.0,
        drain_log: SampleLog | None = None,
    ) -> None:
        self.cycles = cycles
        self.design = design
        self.run_wave = run_wave
        self.sampler = sampler
        self.probe = probe
        self.log = log
        self.on_cycle = on_cycle
        self.stop_requested = stop_requested
        self.control = control
        self.drain_s = drain
        self.drain_log = drain_log
        self.done = 0
        self.idle: dict[str, float] = {}  # each level before the first client
        self.span: dict[str, tuple[float, float]] = {}  # each level's (lowest, highest) after warm-up
        self.moved: set[str] = set()  # the levels whose span is not a point
        self.carried: list[str] = []  # warnings of the sample before the first wave
        self.last: CycleSample | None = None

    def run_cycle(self, cycle: int) -> CycleSample:
        started = time.time()
        behaviours = self.design.wave(cycle)
        wave = self.run_wave(cycle, behaviours)
        if self.stop_requested():
            raise Stopped
        wave_s = time.time() - started
        quiet, waited = self.sampler.wait_quiet()
        observation = self.sampler.sample()
        carried, self.carried = self.carried, []  # said once, with this cycle
        probed = time.monotonic()
        probe, control = self.control.around(self.probe) if self.control else (self.probe(), None)
        phases = {"wave": round(wave_s, 4), "quiesce": round(waited, 4), **observation.seconds,
                  "probe": round(time.monotonic() - probed, 4)}
        return CycleSample(
            cycle=cycle,
            time=round(started, 3),
            wave_s=round(wave_s, 3),
            sessions=wave.sessions,
            composition=dict(sorted(Counter(behaviours).items())),
            latency={name: summarize(values) for name, values in sorted(wave.steps.items())},
            quiesce_ok=quiet,
            quiesce_waited_s=round(waited, 3),
            probe=probe,
            server=observation.server,
            process=observation.process,
            warnings=[*carried, *observation.warnings],
            page=dict(wave.figures),
            census=observation.census,
            control=control,
            instruments_failed=observation.failed,
            phases=phases,
        )

    def run(self) -> RunStatus:
        """Run every cycle; returns how the run ended."""
        cycle = 0
        self.sample_idle()
        try:
            for cycle in range(1, self.cycles + 1):
                if self.stop_requested():
                    return self.status("stopped", f"stopped after {self.done} cycles")
                sample = self.run_cycle(cycle)
                self.log.append(sample)
                self.done = cycle
                self.remember(sample)
                if self.on_cycle is not None:
                    self.on_cycle(sample)
            self.drain()
        except Stopped:
            return self.status("stopped", f"stopped during cycle {cycle}")
        except TargetError as exc:
            return self.status("server-died", f"cycle {cycle}: {exc}")
        except WorkerLost as exc:
            return self.status("worker-died", str(exc))
        return self.status("finished", f"{self.done} cycles")

    def remember(self, sample: CycleSample) -> None:
        """Keep the last sample, and which levels moved after the warm-up (what the drain waits for)."""
        self.last = sample
        if sample.cycle <= self.design.warmup:
            return
        for name, value in levels(sample).items():
            low, high = self.span.get(name, (value, value))
            self.span[name] = (min(low, value), max(high, value))
            if high > low:
                self.moved.add(name)

    def sample_idle(self) -> None:
        """Levels before the first client, where the drain check waits for held state to return."""
        if self.drain_s <= 0 or self.drain_log is None:
            return
        try:
            observation = self.sampler.sample(cycle=False)
        except TargetError as exc:
            logger.warning("no sample before the first wave: %s", exc)
            return
        self.idle = levels(CycleSample(cycle=0, sessions=Sessions(), server=observation.server,
                                       process=observation.process, census=observation.census))
        self.carried = list(observation.warnings)  # the first cycle's line says what this sample warned of

    def drain(self) -> None:
        """After the last wave, idle and re-sample until every level that moved under load and
        is above where it was before the first client is back there, or `drain_s` pass. State
        held for a while (a reconnect grace, a lazy sweep) is released then, however flat it
        looked until its hold ran out; a leak is not. Past `drain_s`, a held level that is
        still falling (each session's state timing out in turn, as Engine.IO's ping tasks do
        after 25 s) is waited for, up to DRAIN_FALLING_MAX_S in all; one that stands still is
        not, unless it is a group of tasks that all sleep until a timer wakes them (the census
        says when: Engine.IO's ping tasks, a reconnect grace's asyncio.sleep): what they hold is
        theirs to release when they wake, so the drain waits until then, if that is within
        DRAIN_FALLING_MAX_S. Levels that never moved after the warm-up (a pool made for the
        first client) are not waited for. The judge reads drain.jsonl (judge/drain.py)."""
        if self.drain_s <= 0 or self.drain_log is None or self.last is None:
            return
        ended = self.last.time + self.last.wave_s  # when the last wave's sessions had all left
        started = time.monotonic()
        deadline, cap = started + self.drain_s, started + max(self.drain_s, DRAIN_FALLING_MAX_S)
        history: list[tuple[float, dict[str, float]]] = [(started, levels(self.last))]
        waits: dict[str, float] = {}  # held tasks groups asleep on timers -> when they all woke
        taken = 0
        while not self.stop_requested():
            held = [name for name, value in levels(self.last).items()
                    if name in self.moved and value > self.idle.get(name, 0.0)]
            if not held and taken:
                break
            now = time.monotonic()
            # Each group is waited for once: tasks that sleep again when they wake (a periodic
            # loop's) do not hold the drain open by sleeping on.
            # A timer that rings past the cap (a task asleep for an hour) is not waited for at all.
            for name, wake in asleep(self.last, held).items():
                if name not in waits:
                    waits[name] = now + wake + DRAIN_INTERVAL_S
                    if waits[name] <= cap:
                        deadline = max(deadline, waits[name])
            if now >= deadline and (now >= cap or not falling(history, held, now - DRAIN_FALL_WINDOW_S, self.idle)):
                break
            time.sleep(DRAIN_INTERVAL_S)
            try:
                observation = self.sampler.sample(cycle=False)
            except TargetError as exc:  # every cycle is in; the judge goes on what the drain had
                logger.warning("drain check stopped: %s", exc)
                break
            self.last = CycleSample(cycle=self.done, sessions=Sessions(), time=round(time.time(), 3),
                                    server=observation.server, process=observation.process,
                                    census=observation.census, instruments_failed=observation.failed,
                                    drain_after_s=round(time.time() - ended, 3))
            self.drain_log.append(self.last)
            history.append((time.monotonic(), levels(self.last)))
            taken += 1
        logger.info("drain: %d samples over %.1f s after the last wave", taken, self.last.drain_after_s or 0.0)

    def status(self, state: str, message: str) -> RunStatus:
        logger.info("driver %s: %s", state, message)
        return RunStatus(state, message, cycles_done=self.done, cycles_asked=self.cycles, users=self.design.users)
