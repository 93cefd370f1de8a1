"""A wave inside the Locust process: this process's share of its sessions, and on a
master, the split of each wave over the workers and their reports back."""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
import gevent.event
import gevent.queue
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner

from harness.errors import WorkerLost
from harness.load.driver import WaveResult
from harness.options import RunOptions
from harness.rundir.records import Sessions

logger = logging.getLogger("harness.locust")


class Wave:
    """This process's share of the current wave: a token per session (the behaviour it
    runs) and what the sessions did."""

    def __init__(self) -> None:
        self.tokens: gevent.queue.Queue[str] = gevent.queue.Queue()
        self.finished = gevent.event.Event()
        self.finished.set()
        self.expected = 0
        self.reply_timeout = RunOptions.reply_timeout
        self.protocol = RunOptions.protocol  # --protocol: a built-in name or a profile's path
        self.url = ""  # the chat URL of the run's target (run.json's, which may come after Locust starts)
        self.result = WaveResult()

    def start(self, behaviours: list[str], reply_timeout: float, protocol: str = RunOptions.protocol,
              url: str = "") -> None:
        count = len(behaviours)
        self.expected = count
        self.reply_timeout = reply_timeout
        self.protocol = protocol
        self.url = url
        self.result = WaveResult(Sessions(attempted=count))
        self.finished.clear()
        for name in behaviours:
            self.tokens.put(name)
        if count == 0:
            self.finished.set()

    def take(self, timeout: float = 0.5) -> str | None:
        try:
            return self.tokens.get(timeout=timeout)
        except gevent.queue.Empty:
            return None

    def record(self, name: str, ms: float) -> None:
        self.result.steps.setdefault(name, []).append(round(ms, 3))

    def finish(self, reason: str | None) -> None:
        if reason is None:
            self.result.sessions.completed += 1
        else:
            self.result.sessions.fail(reason)
        if self.result.sessions.ended >= self.expected:
            self.finished.set()

    def abort(self) -> None:
        while not self.tokens.empty():
            self.tokens.get_nowait()
        self.finished.set()

    def collect(self, timeout: float) -> WaveResult:
        """Wait for every session of the wave; sessions still out at `timeout` are failures."""
        if not self.finished.wait(timeout):
            self.result.sessions.fail("wave timeout", self.expected - self.result.sessions.ended)
        return self.result


WAVE = Wave()


def shares(total: int, parts: int) -> list[int]:
    """Split `total` sessions over `parts` workers as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class MasterWaves:
    """On the master: each wave is split over the workers, who report back when done."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.cycle = 0
        self.expected: set[str] = set()
        self.results: dict[str, WaveResult] = {}
        self.done = gevent.event.Event()

    def on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        if msg.data.get("cycle") != self.cycle:
            return
        self.results[msg.node_id] = WaveResult.from_dict(msg.data["result"])
        if self.expected <= set(self.results):
            self.done.set()

    def run_wave(self, cycle: int, behaviours: list[str], reply_timeout: float,
                 protocol: str = RunOptions.protocol, url: str = "") -> WaveResult:
        runner = self.environment.runner
        assert isinstance(runner, MasterRunner)
        assert self.environment.parsed_options is not None
        timeout = self.environment.parsed_options.wave_timeout
        workers = [w.id for w in runner.clients.values() if w.state != STATE_MISSING]
        if not workers:
            raise WorkerLost(f"cycle {cycle}: no worker is connected")
        self.cycle, self.results, self.expected = cycle, {}, set(workers)
        self.done.clear()
        first = 0
        for worker, count in zip(workers, shares(len(behaviours), len(workers)), strict=True):
            runner.send_message("harness-wave", {"cycle": cycle, "behaviours": behaviours[first:first + count],
                                                 "timeout": timeout, "reply_timeout": reply_timeout,
                                                 "protocol": protocol, "url": url},
                                client_id=worker)
            first += count
        deadline = time.monotonic() + timeout + 30
        while not self.done.wait(0.5):
            for worker in self.expected - set(self.results):
                node = runner.clients.get(worker)
                if node is None or node.state == STATE_MISSING:
                    raise WorkerLost(f"cycle {cycle}: worker {worker} stopped answering")
            if time.monotonic() > deadline:
                late = ", ".join(sorted(self.expected - set(self.results)))
                raise WorkerLost(f"cycle {cycle}: worker(s) {late} did not finish the wave")
        total = WaveResult()
        for result in self.results.values():
            total.merge(result)
        return total


def worker_wave(environment: Environment, msg: Any, **_: Any) -> None:
    """On a worker: run this worker's share of the wave, then report to the master."""
    data = msg.data

    def go() -> None:
        WAVE.start(list(data["behaviours"]), data.get("reply_timeout", RunOptions.reply_timeout),
                   data.get("protocol", RunOptions.protocol), data.get("url", ""))
        result = WAVE.collect(data["timeout"])
        logger.info("cycle %s: ran %d of %d sessions (%d failed)", data["cycle"],
                    result.sessions.completed, len(data["behaviours"]), result.sessions.failed)
        assert environment.runner is not None
        environment.runner.send_message(
            "harness-wave-done", {"cycle": data["cycle"], "result": result.to_dict()}
        )

    gevent.spawn(go)
