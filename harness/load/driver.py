"""The cycle driver: wave, quiesce, sample, probe; one JSON line per cycle.

Locust-free: the Locust glue (scenarios/common.py) hands it a `run_wave` function, so
the same driver serves `harness run`, the Locust web UI and master/worker runs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import TargetError, WorkerLost
from harness.load.client import ChatClient, SessionError
from harness.observe.sampler import Sampler

logger = logging.getLogger("harness.load.driver")

PROBE_TEXT = "Probe: please reply as usual."
SAMPLES_FILE = "samples.jsonl"
STATUS_FILE = "status.json"


@dataclass
class WaveResult:
    """What the U sessions of one wave did."""

    attempted: int = 0
    completed: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    steps: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)  # client-side figures (the page's)

    def fail(self, reason: str, count: int = 1) -> None:
        """Count `count` sessions that failed for `reason`."""
        self.failed += count
        self.failures[reason] = self.failures.get(reason, 0) + count

    def merge(self, other: WaveResult) -> None:
        self.attempted += other.attempted
        self.completed += other.completed
        for reason, n in other.failures.items():
            self.fail(reason, n)
        for name, values in other.steps.items():
            self.steps.setdefault(name, []).extend(values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "completed": self.completed,
            "failed": self.failed,
            "failures": dict(self.failures),
            "steps": {k: list(v) for k, v in self.steps.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaveResult:
        return cls(
            attempted=int(data["attempted"]),
            completed=int(data["completed"]),
            failed=int(data["failed"]),
            failures=dict(data.get("failures", {})),
            steps={k: list(v) for k, v in data.get("steps", {}).items()},
        )


def summarize(values: list[float]) -> dict[str, float] | None:
    """p50, p95 and max of a wave's step latencies, in ms."""
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
        "count": int(arr.size),
    }


def run_probe(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """One fresh client, one fixed text turn, alone on the quiet server."""
    client = ChatClient(url, timeout=timeout)
    try:
        connect_ms = client.connect()
        timing = client.turn(PROBE_TEXT)
        return {
            "ok": True,
            "connect_ms": round(connect_ms, 3),
            "first_token_ms": round(timing.first_token_ms or 0.0, 3),
            "reply_ms": round(timing.reply_ms or 0.0, 3),
            "error": None,
        }
    except SessionError as exc:
        return {"ok": False, "connect_ms": None, "first_token_ms": None, "reply_ms": None,
                "error": str(exc)}
    finally:
        client.close()


def progress_line(line: dict[str, Any], cycles: int) -> str:
    """One human line per cycle: the sessions, the probe, live tasks and RSS."""
    sessions = line["sessions"]
    probe = line["probe"]
    probe_text = f"{probe['reply_ms']:.1f} ms" if probe.get("ok") else f"FAILED ({probe.get('error')})"
    server = line.get("server", {})
    process = line.get("process", {})
    parts = [
        f"cycle {line['cycle']}/{cycles}",
        f"sessions {sessions['completed']} ok/{sessions['failed']} failed",
        f"probe {probe_text}",
    ]
    if "chat_asyncio_tasks" in server:
        parts.append(f"tasks {server['chat_asyncio_tasks']:.0f}")
    if "rss_bytes" in process:
        parts.append(f"rss {process['rss_bytes'] / 2**20:.1f} MiB")
    return " | ".join(parts)


class SampleLog:
    """samples.jsonl: one line per cycle, flushed at once so a dying run keeps its cycles."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / SAMPLES_FILE
        self.path.touch()

    def append(self, line: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
            fh.flush()


def write_status(run_dir: Path, status: dict[str, Any]) -> None:
    (run_dir / STATUS_FILE).write_text(json.dumps(status, indent=2) + "\n")


class Stopped(Exception):
    """The run was asked to stop mid-wave; the partial cycle is not written."""


class CycleDriver:
    """Runs `cycles` waves of `users` sessions, sampling and probing after each."""

    def __init__(
        self,
        *,
        cycles: int,
        users: int,
        run_wave: Callable[[int, int], WaveResult],
        sampler: Sampler,
        probe: Callable[[], dict[str, Any]],
        log: SampleLog,
        on_cycle: Callable[[dict[str, Any]], None] | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        self.cycles = cycles
        self.users = users
        self.run_wave = run_wave
        self.sampler = sampler
        self.probe = probe
        self.log = log
        self.on_cycle = on_cycle
        self.stop_requested = stop_requested
        self.done = 0

    def run_cycle(self, cycle: int) -> dict[str, Any]:
        started = time.time()
        wave = self.run_wave(cycle, self.users)
        if self.stop_requested():
            raise Stopped
        wave_s = time.time() - started
        quiet, waited = self.sampler.wait_quiet()
        sample = self.sampler.sample()
        probe = self.probe()
        return {
            "cycle": cycle,
            "time": round(started, 3),
            "wave_s": round(wave_s, 3),
            "sessions": {
                "attempted": wave.attempted,
                "completed": wave.completed,
                "failed": wave.failed,
                "failures": wave.failures,
            },
            "latency": {name: summarize(values) for name, values in sorted(wave.steps.items())},
            "quiesce": {"ok": quiet, "waited_s": round(waited, 3)},
            "probe": probe,
            **sample,
            **({"page": wave.figures} if wave.figures else {}),
        }

    def run(self) -> dict[str, Any]:
        """Run every cycle; returns the status document (state, message, cycles done)."""
        cycle = 0
        try:
            for cycle in range(1, self.cycles + 1):
                if self.stop_requested():
                    return self.status("stopped", f"stopped after {self.done} cycles")
                line = self.run_cycle(cycle)
                self.log.append(line)
                self.done = cycle
                if self.on_cycle is not None:
                    self.on_cycle(line)
        except Stopped:
            return self.status("stopped", f"stopped during cycle {cycle}")
        except TargetError as exc:
            return self.status("server-died", f"cycle {cycle}: {exc}")
        except WorkerLost as exc:
            return self.status("worker-died", str(exc))
        return self.status("finished", f"{self.done} cycles")

    def status(self, state: str, message: str) -> dict[str, Any]:
        logger.info("driver %s: %s", state, message)
        return {"state": state, "message": message, "cycles_done": self.done,
                "cycles_asked": self.cycles, "users": self.users}
