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
from harness.load.client import ChatClient, SessionError
from harness.load.design import WaveDesign
from harness.observe.control import ControlMeter
from harness.observe.sampler import Sampler
from harness.rundir.records import CycleSample, Probe, RunStatus, Sessions, StepLatency
from harness.rundir.store import SampleLog

logger = logging.getLogger("harness.load.driver")

PROBE_TEXT = "Probe: please reply as usual."


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


def run_probe(url: str, timeout: float = 10.0) -> Probe:
    """One fresh client, one fixed text turn, alone on the quiet server."""
    client = ChatClient(url, timeout=timeout)
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
        self.done = 0

    def run_cycle(self, cycle: int) -> CycleSample:
        started = time.time()
        behaviours = self.design.wave(cycle)
        wave = self.run_wave(cycle, behaviours)
        if self.stop_requested():
            raise Stopped
        wave_s = time.time() - started
        quiet, waited = self.sampler.wait_quiet()
        observation = self.sampler.sample()
        probe, control = self.control.around(self.probe) if self.control else (self.probe(), None)
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
            warnings=observation.warnings,
            page=dict(wave.figures),
            census=observation.census,
            control=control,
            instruments_failed=observation.failed,
        )

    def run(self) -> RunStatus:
        """Run every cycle; returns how the run ended."""
        cycle = 0
        try:
            for cycle in range(1, self.cycles + 1):
                if self.stop_requested():
                    return self.status("stopped", f"stopped after {self.done} cycles")
                sample = self.run_cycle(cycle)
                self.log.append(sample)
                self.done = cycle
                if self.on_cycle is not None:
                    self.on_cycle(sample)
        except Stopped:
            return self.status("stopped", f"stopped during cycle {cycle}")
        except TargetError as exc:
            return self.status("server-died", f"cycle {cycle}: {exc}")
        except WorkerLost as exc:
            return self.status("worker-died", str(exc))
        return self.status("finished", f"{self.done} cycles")

    def status(self, state: str, message: str) -> RunStatus:
        logger.info("driver %s: %s", state, message)
        return RunStatus(state, message, cycles_done=self.done, cycles_asked=self.cycles, users=self.design.users)
