"""The cycle driver inside Locust: it starts with a test and stops with it.

The plan of a run (its options and its target) is read from run.json, which `harness run`
and `harness ui` write before starting Locust. Run by hand (`locust -f scenarios/X.py
--cycles 20 ...`), there is no run.json yet: the flags below are the plan, with the
defaults of `RunOptions`, and the run.json is written here. The driver runs on the local
runner or the master; a worker only runs its share of each wave.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.judge.rules import warmup_of
from harness.judge.verdict import judge
from harness.load.design import plan as design_plan
from harness.load.driver import CycleDriver, WaveResult, run_probe
from harness.load.protocols import protocol_for
from harness.load.wave import WAVE, MasterWaves, worker_wave
from harness.observe.sampler import http_base, sampler_for
from harness.options import BUILT_IN_PROTOCOLS, CHAT_PATH, RunOptions, default_out, draw_seed
from harness.report.summary import progress_line, write_reports
from harness.report.webui import LeaksBoard
from harness.report.webui import install as install_leaks_tab
from harness.rundir.records import Run, RunMeta, RunStatus, Target
from harness.rundir.store import DRAIN_FILE, SampleLog, next_run_dir, read_meta, write_driver_status, write_meta

logger = logging.getLogger("harness.locust")

DEFAULT_HOST = f"ws://127.0.0.1:12393{CHAT_PATH}"
UNTIL_STOPPED = 10**9
DEFAULTS = RunOptions()
BOARD = LeaksBoard()
MASTER_WAVES: list[MasterWaves] = []


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("leak harness (when run by hand; `harness run` passes run.json)")
    group.add_argument("--cycles", type=int, default=DEFAULTS.cycles, help="waves to run (UI: until stopped if 0)")
    group.add_argument("--wave-users", type=int, default=0,
                       help="sessions per wave (default: the number of users)")
    group.add_argument("--run-dir", default="", help="where samples.jsonl goes (default reports/<time>)")
    group.add_argument("--await-plan", type=float, default=0.0,
                       help="seconds to wait for the run-dir's run.json (`harness run` starts Locust "
                            "while its server starts, and writes run.json once the server is up)")
    group.add_argument("--metrics-url", default="", help="Prometheus endpoint (default: from --host)")
    group.add_argument("--resources-url", default="", help="JSON figures (default: from --host)")
    group.add_argument("--extra-metrics-url", action="append", default=[],
                       help="another Prometheus endpoint to sample, e.g. the fake LLM's")
    group.add_argument("--metric", action="append", default=[],
                       help="keep only server figures whose name matches this regex")
    group.add_argument("--server-pid", type=int, default=0, help="server process to sample")
    group.add_argument("--settle-timeout", type=float, default=DEFAULTS.settle_timeout)
    group.add_argument("--reply-timeout", type=float, default=DEFAULTS.reply_timeout)
    group.add_argument("--wave-timeout", type=float, default=120.0)
    group.add_argument("--seed", type=int, default=0, help="the wave design's seed (default: drawn at start)")
    group.add_argument("--protocol", default=DEFAULTS.protocol,
                       help="olv, json, or a profile file (.toml): how the sessions speak to --host")


def parsed_options(environment: Environment) -> Any:
    """Locust's parsed command line (always there once Locust has started)."""
    assert environment.parsed_options is not None
    return environment.parsed_options


def url_option(value: str, default: str) -> str | None:
    """'' means the default derived from the chat URL; 'none' means no such endpoint."""
    if value == "none":
        return None
    return value or default


def plan_from_flags(environment: Environment) -> tuple[RunOptions, Target]:
    """A run started by hand: the flags are the plan."""
    parsed = parsed_options(environment)
    host = environment.host or DEFAULT_HOST
    base = http_base(host)
    options = RunOptions(cycles=parsed.cycles, users=parsed.num_users or DEFAULTS.users,
                         scenario=scenario_name(environment), target=host,
                         settle_timeout=parsed.settle_timeout, reply_timeout=parsed.reply_timeout,
                         metrics=tuple(parsed.metric), pid=parsed.server_pid or None,
                         seed=parsed.seed or draw_seed(),
                         protocol=parsed.protocol if parsed.protocol in BUILT_IN_PROTOCOLS
                         else str(Path(parsed.protocol).resolve()))
    target = Target(
        ws_url=host,
        pid=parsed.server_pid or None,
        metrics_url=url_option(parsed.metrics_url, f"{base}/metrics"),
        resources_url=url_option(parsed.resources_url, f"{base}/debug/resources"),
        extra_metrics_urls=tuple(parsed.extra_metrics_url),
        patterns=tuple(parsed.metric),
    )
    return options, target


@dataclass
class Plan:
    run_dir: Path
    options: RunOptions
    target: Target
    users: int


class NoPlan(Exception):
    """run.json did not come in time (the command that started Locust failed to start its server)."""


def await_meta(base: Path, seconds: float, stopping: Callable[[], bool]) -> RunMeta | None:
    """run.json with its target, once the command that started Locust has written it; None
    when stopped first."""
    deadline = time.monotonic() + seconds
    while not stopping():
        meta = read_meta(base)
        if meta is not None and meta.target is not None:
            return meta
        if time.monotonic() > deadline:
            raise NoPlan(f"no run.json in {base} within {seconds:g} s of Locust's start")
        gevent.sleep(0.02)
    return None


def plan_for(environment: Environment, stopping: Callable[[], bool] = lambda: False) -> Plan | None:
    """This test's plan, and its run directory (a test started again from the UI gets a
    fresh one: base-2, base-3, ... with the same plan); None if stopped while waiting for it."""
    parsed = parsed_options(environment)
    base = Path(parsed.run_dir) if parsed.run_dir else default_out()
    if parsed.await_plan > 0:
        meta = await_meta(base, parsed.await_plan, stopping)
        if meta is None:
            return None
    else:
        meta = read_meta(base)
    run_dir = next_run_dir(base)
    if meta is not None and meta.target is not None:  # harness run / ui wrote the plan
        options, target = meta.options, meta.target
        written = run_dir == base
    else:
        options, target = plan_from_flags(environment)
        written = False
    runner = environment.runner
    users = parsed.wave_users or (runner.target_user_count if runner else 0) or parsed.num_users or options.users
    options = replace(options, out=run_dir, users=users)
    if not written:
        write_meta(run_dir, RunMeta(options, target, started=time.time()))
    return Plan(run_dir, options, target, users)


class DriverGreenlet:
    """Owns one run: started by its test's Starter once the plan is in, stopped on test_stop."""

    def __init__(self, environment: Environment, plan: Plan) -> None:
        self.environment = environment
        self.stopping = False
        self.plan = plan

    def local_wave(self, cycle: int, behaviours: list[str]) -> WaveResult:
        options = self.plan.options
        WAVE.start(behaviours, options.reply_timeout, options.protocol, self.plan.target.ws_url)
        return WAVE.collect(parsed_options(self.environment).wave_timeout)

    def distributed_wave(self, cycle: int, behaviours: list[str]) -> WaveResult:
        options = self.plan.options
        return MASTER_WAVES[0].run_wave(cycle, behaviours, options.reply_timeout, options.protocol,
                                        self.plan.target.ws_url)

    def drive(self) -> None:
        environment, plan = self.environment, self.plan
        options = plan.options
        cycles = options.cycles if options.cycles > 0 else UNTIL_STOPPED
        live = environment.web_ui is not None  # only a Leaks tab needs the verdict so far, here
        BOARD.start(options.cycles, plan.run_dir)

        def on_cycle(sample: Any) -> None:
            logger.info(progress_line(sample, cycles))
            if live:  # headless, the parent judges each sample as it reads it
                BOARD.add(sample)

        distributed = isinstance(environment.runner, MasterRunner)
        protocol = protocol_for(options.protocol)  # checked by the command that wrote run.json
        sampler = sampler_for(plan.target, options.settle_timeout,
                              alloc_from=warmup_of(options.warmup, options.cycles) + 1)
        driver = CycleDriver(
            cycles=cycles,
            design=design_plan(options.scenario, plan.users, options.cycles, options.warmup, options.seed or 0,
                               protocol.behaviours),
            run_wave=self.distributed_wave if distributed else self.local_wave,
            sampler=sampler,
            probe=lambda: run_probe(plan.target.ws_url, options.reply_timeout, protocol),
            control=sampler.control_meter(),
            log=SampleLog(plan.run_dir),
            on_cycle=on_cycle,
            stop_requested=lambda: self.stopping,
            drain=options.drain,
            drain_log=SampleLog(plan.run_dir, DRAIN_FILE),
        )
        try:
            status = driver.run()
        except Exception as exc:
            logger.exception("cycle driver failed")
            status = RunStatus("error", f"cycle driver failed: {exc!r}", cycles_done=driver.done,
                               cycles_asked=cycles)
        write_driver_status(plan.run_dir, status)  # the command that started Locust writes status.json
        if live:  # the tab links report.html as soon as the run ends
            write_reports(judge(Run(plan.run_dir, list(BOARD.judge.samples), status, read_meta(plan.run_dir))))
            BOARD.finish()
        if not self.stopping and environment.runner is not None:
            if parsed_options(environment).headless:
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


class Starter:
    """A test's start: its plan (waited for, with --await-plan), then its driver. Stopped
    meanwhile, it starts nothing."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.stopping = False
        self.driver: DriverGreenlet | None = None

    def run(self) -> None:
        try:
            plan = plan_for(self.environment, lambda: self.stopping)
        except Exception as exc:  # no run directory to say it in: the command that started Locust says why
            if isinstance(exc, NoPlan):
                logger.error("%s", exc)
            else:
                logger.exception("no plan for this test")
            runner = self.environment.runner
            if not self.stopping and runner is not None:
                gevent.spawn(runner.quit if parsed_options(self.environment).headless else runner.stop)
            return
        if plan is None or self.stopping:
            return
        self.driver = DriverGreenlet(self.environment, plan)
        self.driver.drive()

    def stop(self) -> None:
        self.stopping = True
        if self.driver is not None:
            self.driver.stop()


DRIVERS: list[Starter] = []


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
        install_leaks_tab(environment.web_ui, BOARD)


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    starter = Starter(environment)
    DRIVERS.append(starter)
    gevent.spawn(starter.run)


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_: Any) -> None:
    for driver in DRIVERS:
        driver.stop()
    DRIVERS.clear()
