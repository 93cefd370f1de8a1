"""`harness run`: start the server, drive Locust in a child process, judge, report.

Locust runs in its own process because importing it monkey-patches the whole process
with gevent; this process only starts it, follows samples.jsonl and stops everything.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.judge.analysis import Config
from harness.judge.early import EarlyStop
from harness.load.driver import SAMPLES_FILE, STATUS_FILE, CycleDriver, SampleLog, progress_line, write_status
from harness.load.page import PageSessions
from harness.observe.sampler import http_base, sampler_for
from harness.options import PAGE, RunOptions, scenario_file
from harness.report.summary import Judgement, judge, write_reports
from harness.rundir.store import META_FILE, load_run
from harness.target.process import CommandServer, RunningTarget, ServerProcess, free_port, stop_group

Target = ServerProcess | RunningTarget

Echo = Callable[[str], None]
STALL_TIMEOUT = 300.0
QUIT_GRACE = 30.0


def locust_command(options: RunOptions, target: Target, extra_metrics: list[str]) -> list[str]:
    out = options.out
    argv = [
        sys.executable, "-m", "locust",
        "-f", str(scenario_file(options.scenario)),
        "--headless", "--only-summary",
        "-u", str(options.users), "-r", str(max(options.users, 100)),
        "--host", target.ws_url,
        "--cycles", str(options.cycles),
        "--run-dir", str(out),
        "--settle-timeout", str(options.settle_timeout),
        "--reply-timeout", str(options.reply_timeout),
        "--html", str(out / "locust.html"),
        "--logfile", str(out / "locust.log"),
        "--loglevel", "INFO",
    ]
    if target.pid:
        argv += ["--server-pid", str(target.pid)]
    for name, value in endpoints(options, target).items():
        if value:
            argv += [f"--{name.replace('_', '-')}", value]
    for url in extra_metrics:
        argv += ["--extra-metrics-url", url]
    for pattern in options.metrics:
        argv += ["--metric", pattern]
    return argv


def endpoints(options: RunOptions, target: Target) -> dict[str, str]:
    """Where the server's figures are: '' derives them from the chat URL (the bundled
    server's /metrics and /debug/resources), 'none' means the server has none."""
    if options.bundled:
        return {"metrics_url": "", "resources_url": ""}
    metrics = (options.metrics_url or "none").replace("{port}", str(target.port))
    return {"metrics_url": metrics, "resources_url": "none"}


def make_target(options: RunOptions, llm_url: str) -> Target:
    log = options.out / "server.log"
    if options.target:
        return RunningTarget(options.target, options.pid)
    if options.server_cmd:
        return CommandServer(options.server_cmd, options.ws_path, log, llm_url=llm_url)
    extra = ("--llm-url", llm_url) if llm_url else ()
    return ServerProcess.bundled(options.leaks, log_path=log, extra=extra)


def describe(options: RunOptions, target: Target) -> str:
    if options.target:
        pid = f" (pid {target.pid})" if target.pid else " (no pid: process figures unavailable)"
        return f"target {target.ws_url}{pid}"
    kind = "server-cmd" if options.server_cmd else "bundled server"
    leaks = f", leaks: {','.join(options.leaks) or 'none'}" if options.bundled else ""
    return f"{kind} on {target.ws_url} (pid {target.pid}{leaks})"


class LocustProcess:
    """The Locust child; stopped (SIGINT, then SIGTERM, then SIGKILL) in `stop`."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_group(self.proc, ((signal.SIGINT, QUIT_GRACE), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)))
        self._log.close()


class Follower:
    """Reads new complete lines of samples.jsonl as the driver appends them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.last_new = time.monotonic()

    def new_lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        lines = [json.loads(raw) for raw in complete.splitlines() if raw.strip()]
        if lines:
            self.last_new = time.monotonic()
        return lines


def report_line(line: dict[str, Any], cycles: int, echo: Echo) -> None:
    echo(progress_line(line, cycles))
    for warning in line.get("warnings", []):
        echo(f"warning: {warning}")


def follow(
    options: RunOptions,
    locust: LocustProcess,
    server: Target,
    echo: Echo,
    early: EarlyStop | None = None,
) -> str | None:
    """Print a progress line per cycle until Locust exits; returns why it was cut short."""
    follower = Follower(options.out / SAMPLES_FILE)
    status_path = options.out / STATUS_FILE
    finished_at: float | None = None
    while locust.running():
        for line in follower.new_lines():
            report_line(line, options.cycles, echo)
            if early is not None and early.add(line):
                return None
        if not server.alive():
            time.sleep(1.0)  # let the driver notice and write its status first
            if locust.running() and not status_path.exists():
                code = server.proc.poll() if server.proc is not None else "?"
                return f"server process exited with code {code}"
        if status_path.exists():
            finished_at = finished_at or time.monotonic()
            if time.monotonic() - finished_at > QUIT_GRACE:
                return "Locust did not exit after the last cycle"
        elif time.monotonic() - follower.last_new > STALL_TIMEOUT:
            return f"no cycle finished in {STALL_TIMEOUT:g} s"
        time.sleep(0.1)
    for line in follower.new_lines():
        report_line(line, options.cycles, echo)
    if not status_path.exists():
        return f"Locust exited with code {locust.proc.returncode} before the run finished (see locust.log)"
    return None


@contextmanager
def target_up(options: RunOptions, echo: Echo) -> Iterator[tuple[Target, list[str]]]:
    """The server under test (and the fake LLM, if asked), stopped on the way out."""
    started: list[ServerProcess | RunningTarget] = []
    try:
        extra_metrics: list[str] = []
        llm_url = ""
        if options.fake_llm:
            fake = ServerProcess([sys.executable, "-m", "harness.target.fakellm", "--port", "0"],
                                 options.out / "fake-llm.log")
            started.append(fake)
            fake.start()
            llm_url = f"{fake.http_url}/v1"
            extra_metrics.append(f"{fake.http_url}/metrics")
            echo(f"fake LLM on {llm_url}")
        server = make_target(options, llm_url)
        started.append(server)
        server.start(timeout=options.ready_timeout)
        echo(describe(options, server))
        yield server, extra_metrics
    finally:
        for process in reversed(started):
            process.stop()


def start_locust(options: RunOptions, server: Target, extra_metrics: list[str]) -> list[LocustProcess]:
    """The Locust process, or a master and its local workers with --workers N."""
    argv = locust_command(options, server, extra_metrics)
    out = options.out
    if not options.workers:
        return [LocustProcess(argv, out / "locust.out")]
    port = free_port()
    master = argv + ["--master", "--expect-workers", str(options.workers),
                     "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    processes = [LocustProcess(master, out / "locust.out")]
    for i in range(1, options.workers + 1):
        processes.append(LocustProcess(worker_command(options.scenario, "127.0.0.1", port,
                                                      out / f"worker-{i}.log"), out / f"worker-{i}.out"))
    return processes


def worker_command(scenario: str, master_host: str, master_port: int, logfile: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(scenario_file(scenario)), "--worker",
            "--master-host", master_host, "--master-port", str(master_port)]
    if logfile is not None:
        argv += ["--logfile", str(logfile)]
    return argv


def run_locust(
    options: RunOptions, server: Target, extra_metrics: list[str], echo: Echo, early: EarlyStop | None
) -> str | None:
    """The cycles in Locust (one process, or master and workers); why they were cut short."""
    locusts: list[LocustProcess] = []
    try:
        locusts = start_locust(options, server, extra_metrics)
        cut_short = follow(options, locusts[0], server, echo, early)
        if early is not None and early.decided is not None:
            locusts[0].stop()
        return cut_short
    finally:
        for process in locusts:
            process.stop()


def run_pages(
    options: RunOptions, server: Target, extra_metrics: list[str], echo: Echo, early: EarlyStop | None
) -> None:
    """The cycles in a headless Chromium, driven from this process (no Locust)."""
    sampler = sampler_for(server.ws_url, **endpoints(options, server), extra_urls=extra_metrics,
                          patterns=list(options.metrics), pid=server.pid,
                          settle_timeout=options.settle_timeout)

    def on_cycle(line: dict[str, Any]) -> None:
        report_line(line, options.cycles, echo)
        if early is not None:
            early.add(line)

    with PageSessions(http_base(server.ws_url), options.page_leak, options.reply_timeout) as pages:
        driver = CycleDriver(
            cycles=options.cycles, users=options.users, run_wave=pages.run_wave, sampler=sampler,
            probe=pages.probe, log=SampleLog(options.out), on_cycle=on_cycle,
            stop_requested=lambda: early is not None and early.decided is not None,
        )
        write_status(options.out, driver.run())


def run(options: RunOptions, echo: Echo, config: Config | None = None) -> Judgement:
    """Run the whole job against the target and write the reports."""
    options.validate()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    meta = options.to_meta() | {"target": options.target or options.server_cmd or "bundled"}
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    cut_short: str | None = None
    try:
        with target_up(options, echo) as (server, extra_metrics):
            workers = f" on {options.workers} Locust workers" if options.workers else ""
            echo(f"{options.cycles} cycles of {options.users} '{options.scenario}' sessions{workers} -> {out}")
            early = EarlyStop(options.cycles, config) if options.stop_early else None
            if options.scenario == PAGE:
                run_pages(options, server, extra_metrics, echo, early)
            else:
                cut_short = run_locust(options, server, extra_metrics, echo, early)
            if early is not None and early.decided is not None:
                decided = early.decided.cycle
                echo(f"verdict decided at cycle {decided}: stopped early")
                write_status(out, {"state": "decided", "message": f"decided at cycle {decided}",
                                   "decided_at": decided, "cycles_asked": options.cycles})
    except KeyboardInterrupt:
        cut_short = "interrupted (Ctrl-C)"
        echo("interrupted: stopping Locust and the server, keeping what was sampled")
    if cut_short and not (out / STATUS_FILE).exists():
        write_status(out, {"state": "aborted", "message": cut_short})
    return finish(out, echo, config, options.baseline)


def finish(out: Path, echo: Echo, config: Config | None, baseline: Path | None) -> Judgement:
    run_data = load_run(out)
    for warning in run_data.warnings:
        echo(f"warning: {warning}")
    judgement = judge(run_data, config, baseline)
    write_reports(judgement)
    return judgement

