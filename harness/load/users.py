"""Locust glue: the abstract ChatUser, the per-process Wave, and the cycle driver's greenlet.

Load this from a locustfile (every scenario file does). The driver runs on the local
runner or the master; a worker only runs its share of each wave.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.queue
from locust import User, constant, events, task
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from harness.errors import WorkerLost
from harness.load.behaviours import behaviour_for
from harness.load.client import ChatClient, SessionError
from harness.load.driver import (
    CycleDriver,
    SampleLog,
    WaveResult,
    progress_line,
    run_probe,
    write_status,
)
from harness.observe.sampler import Sampler, sampler_for
from harness.report.webui import LeaksBoard
from harness.report.webui import install as install_leaks_tab

logger = logging.getLogger("harness.locust")

DEFAULT_HOST = "ws://127.0.0.1:12393/client-ws"


class Wave:
    """This process's share of the current wave: session tokens and what they did."""

    def __init__(self) -> None:
        self.tokens: gevent.queue.Queue[int] = gevent.queue.Queue()
        self.finished = gevent.event.Event()
        self.finished.set()
        self.expected = 0
        self.result = WaveResult()

    def start(self, first_index: int, count: int) -> None:
        self.expected = count
        self.result = WaveResult(attempted=count)
        self.finished.clear()
        for index in range(first_index, first_index + count):
            self.tokens.put(index)
        if count == 0:
            self.finished.set()

    def take(self, timeout: float = 0.5) -> int | None:
        try:
            return self.tokens.get(timeout=timeout)
        except gevent.queue.Empty:
            return None

    def record(self, name: str, ms: float) -> None:
        self.result.steps.setdefault(name, []).append(round(ms, 3))

    def finish(self, reason: str | None) -> None:
        if reason is None:
            self.result.completed += 1
        else:
            self.result.fail(reason)
        if self.result.completed + self.result.failed >= self.expected:
            self.finished.set()

    def abort(self) -> None:
        while not self.tokens.empty():
            self.tokens.get_nowait()
        self.finished.set()

    def collect(self, timeout: float) -> WaveResult:
        """Wait for every session of the wave; sessions still out at `timeout` are failures."""
        if not self.finished.wait(timeout):
            self.result.fail("wave timeout", self.expected - self.result.completed - self.result.failed)
        return self.result


WAVE = Wave()


class ChatUser(User):
    """One client of the chat protocol. Each task run is one session of one wave."""

    abstract = True
    host = DEFAULT_HOST
    wait_time = constant(0)
    scenario = "clean_close"

    @task
    def session(self) -> None:
        index = WAVE.take()
        if index is None:
            return
        client = ChatClient(self.host or DEFAULT_HOST, timeout=self.environment.parsed_options.reply_timeout)
        behaviour = behaviour_for(self.scenario, index)
        reason: str | None = None
        started = time.perf_counter()
        try:
            behaviour(client, self.record)
        except SessionError as exc:
            reason = exc.reason
            self.fire("session", (time.perf_counter() - started) * 1000, exc)
        finally:
            # Also on GreenletExit (a stop): the socket goes, and as WAVE.finish below is
            # not reached, a session cut short never counts, and its unfinished step was
            # never fired, so no cut-short step is recorded as a good latency.
            client.drop()
        WAVE.finish(reason)

    def record(self, name: str, ms: float) -> None:
        WAVE.record(name, ms)
        self.fire(name, ms, None)

    def fire(self, name: str, ms: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=ms, response_length=0,
            exception=exception, context={},
        )


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("leak harness")
    group.add_argument("--cycles", type=int, default=50, help="waves to run (UI: until stopped if 0)")
    group.add_argument("--wave-users", type=int, default=0,
                       help="sessions per wave (default: the number of users)")
    group.add_argument("--run-dir", default="", help="where samples.jsonl goes (default reports/<time>)")
    group.add_argument("--metrics-url", default="", help="Prometheus endpoint (default: from --host)")
    group.add_argument("--resources-url", default="", help="JSON figures (default: from --host)")
    group.add_argument("--extra-metrics-url", action="append", default=[],
                       help="another Prometheus endpoint to sample, e.g. the fake LLM's")
    group.add_argument("--metric", action="append", default=[],
                       help="keep only server figures whose name matches this regex")
    group.add_argument("--server-pid", type=int, default=0, help="server process to sample")
    group.add_argument("--settle-timeout", type=float, default=10.0)
    group.add_argument("--reply-timeout", type=float, default=10.0)
    group.add_argument("--wave-timeout", type=float, default=120.0)


def make_sampler(environment: Environment) -> Sampler:
    options = environment.parsed_options
    return sampler_for(
        environment.host or DEFAULT_HOST,
        metrics_url=options.metrics_url,
        resources_url=options.resources_url,
        extra_urls=list(options.extra_metrics_url),
        patterns=list(options.metric),
        pid=options.server_pid or None,
        settle_timeout=options.settle_timeout,
    )


def run_dir_for(environment: Environment) -> Path:
    """The run directory; a test started again from the UI gets a fresh one."""
    chosen = environment.parsed_options.run_dir
    base = Path(chosen) if chosen else Path("reports") / datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = base, 1
    while (path / "samples.jsonl").exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


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

    def run_wave(self, cycle: int, users: int) -> WaveResult:
        runner = self.environment.runner
        assert isinstance(runner, MasterRunner)
        timeout = self.environment.parsed_options.wave_timeout
        workers = [w.id for w in runner.clients.values() if w.state != STATE_MISSING]
        if not workers:
            raise WorkerLost(f"cycle {cycle}: no worker is connected")
        self.cycle, self.results, self.expected = cycle, {}, set(workers)
        self.done.clear()
        first = 0
        for worker, count in zip(workers, shares(users, len(workers)), strict=True):
            runner.send_message("harness-wave", {"cycle": cycle, "first": first, "count": count,
                                                 "timeout": timeout}, client_id=worker)
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
        WAVE.start(data["first"], data["count"])
        result = WAVE.collect(data["timeout"])
        logger.info("cycle %s: ran %d of %d sessions (%d failed)", data["cycle"],
                    result.completed, data["count"], result.failed)
        assert environment.runner is not None
        environment.runner.send_message(
            "harness-wave-done", {"cycle": data["cycle"], "result": result.to_dict()}
        )

    gevent.spawn(go)


MASTER_WAVES: list[MasterWaves] = []


class DriverGreenlet:
    """Owns one run: started on test_start, stopped on test_stop."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.stopping = False
        self.run_dir = run_dir_for(environment)

    def users_per_wave(self) -> int:
        options = self.environment.parsed_options
        runner = self.environment.runner
        return options.wave_users or (runner.target_user_count if runner else 0) or options.num_users or 1

    def local_wave(self, cycle: int, users: int) -> WaveResult:
        WAVE.start(0, users)
        return WAVE.collect(self.environment.parsed_options.wave_timeout)

    def start(self) -> None:
        gevent.spawn(self.drive)

    def drive(self) -> None:
        environment = self.environment
        options = environment.parsed_options
        users = self.users_per_wave()
        cycles = options.cycles if options.cycles > 0 else 10**9
        log = SampleLog(self.run_dir)
        write_meta(self.run_dir, {
            "target": environment.host, "users": users, "cycles": cycles,
            "scenario": scenario_name(environment), "started": time.time(),
        })
        distributed = isinstance(environment.runner, MasterRunner)
        driver = CycleDriver(
            cycles=cycles,
            users=users,
            run_wave=MASTER_WAVES[0].run_wave if distributed else self.local_wave,
            sampler=make_sampler(environment),
            probe=lambda: run_probe(environment.host or DEFAULT_HOST, options.reply_timeout),
            log=log,
            on_cycle=lambda line: logger.info(progress_line(line, cycles)),
            stop_requested=lambda: self.stopping,
        )
        try:
            status = driver.run()
        except Exception as exc:
            logger.exception("cycle driver failed")
            status = {"state": "error", "message": f"cycle driver failed: {exc!r}",
                      "cycles_done": driver.done, "cycles_asked": cycles}
        write_status(self.run_dir, status)
        if not self.stopping and environment.runner is not None:
            if options.headless:
                gevent.spawn(environment.runner.quit)
            else:
                gevent.spawn(environment.runner.stop)

    def stop(self) -> None:
        self.stopping = True
        WAVE.abort()
        for waves in MASTER_WAVES:
            waves.done.set()


def scenario_name(environment: Environment) -> str:
    names = {getattr(cls, "scenario", "?") for cls in environment.user_classes}
    return ",".join(sorted(names))


def write_meta(run_dir: Path, fields: dict[str, Any]) -> None:
    """run.json: what was run. The harness may have written it first; keep its fields."""
    path = run_dir / "run.json"
    meta = json.loads(path.read_text()) if path.exists() else {}
    meta.update({k: v for k, v in fields.items() if k not in meta})
    path.write_text(json.dumps(meta, indent=2) + "\n")


DRIVERS: list[DriverGreenlet] = []
LAST_RUN_DIR: list[Path] = []


def current_run_dir() -> Path | None:
    return LAST_RUN_DIR[-1] if LAST_RUN_DIR else None


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message("harness-wave", worker_wave)
    elif isinstance(runner, MasterRunner):
        waves = MasterWaves(environment)
        MASTER_WAVES[:] = [waves]
        runner.register_message("harness-wave-done", waves.on_done)
    if environment.web_ui is not None:
        install_leaks_tab(environment.web_ui, LeaksBoard(current_run_dir))


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    driver = DriverGreenlet(environment)
    DRIVERS.append(driver)
    LAST_RUN_DIR.append(driver.run_dir)
    driver.start()


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_: Any) -> None:
    for driver in DRIVERS:
        driver.stop()
    DRIVERS.clear()
