"""Bring the target up for a run: the fake LLM if asked, then the server under test;
hand on a `Target`; stop what was started on the way out."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.options import RunOptions
from harness.rundir.records import Target
from harness.target.census import CensusFound, CensusPlan, not_started_note
from harness.target.process import CommandServer, RunningTarget, ServerProcess

Echo = Callable[[str], None]


@dataclass
class Running:
    """A target that is up: the record to hand on, and the process behind it."""

    target: Target
    server: ServerProcess | RunningTarget

    def alive(self) -> bool:
        return self.server.alive()

    def exit_code(self) -> int | str:
        proc = self.server.proc
        code = proc.poll() if proc is not None else None
        return "?" if code is None else code


def census_plan(options: RunOptions) -> CensusPlan | None:
    """The bundled server always runs the census (it is the reference); a --server-cmd
    server with --inspect; a server the harness did not start cannot."""
    if options.bundled or (options.server_cmd and options.inspect):
        return CensusPlan(alloc=options.inspect == "alloc")
    return None


def make_server(options: RunOptions, llm_url: str, census: CensusPlan | None) -> ServerProcess | RunningTarget:
    log = options.out / "server.log"
    env = census.env() if census else None
    if options.target:
        return RunningTarget(options.target, options.pid)
    if options.server_cmd:
        return CommandServer(options.server_cmd, options.ws_path, log, env=env, llm_url=llm_url)
    extra = ("--llm-url", llm_url) if llm_url else ()
    return ServerProcess.bundled(options.leaks, log_path=log, extra=extra, env=env)


def find_census(options: RunOptions, server: ServerProcess | RunningTarget, plan: CensusPlan | None) -> CensusFound:
    if plan is not None:
        return plan.find(server.pid)
    if options.inspect:
        return CensusFound(None, None, not_started_note(options.label))
    return CensusFound(None, None, "")


def target_of(options: RunOptions, server: ServerProcess | RunningTarget, extra_metrics: list[str],
              census: CensusFound | None = None) -> Target:
    """Where the server's figures are: the bundled server's /metrics and /debug/resources,
    or for any other server, only what --metrics-url names."""
    metrics: str | None
    resources: str | None
    if options.bundled:
        metrics, resources = f"{server.http_url}/metrics", f"{server.http_url}/debug/resources"
    else:
        metrics = options.metrics_url.replace("{port}", str(server.port)) if options.metrics_url else None
        resources = None
    census = census or CensusFound(None, None, "")
    return Target(ws_url=server.ws_url, pid=server.pid, metrics_url=metrics, resources_url=resources,
                  extra_metrics_urls=tuple(extra_metrics), patterns=tuple(options.metrics),
                  census_url=census.url, census_token=census.token, census_alloc=census.alloc,
                  census_note=census.note or None)


def describe(options: RunOptions, target: Target) -> str:
    if options.target:
        pid = f" (pid {target.pid})" if target.pid else " (no pid: process figures unavailable)"
        return f"target {target.ws_url}{pid}"
    kind = "server-cmd" if options.server_cmd else "bundled server"
    leaks = f", leaks: {','.join(options.leaks) or 'none'}" if options.bundled else ""
    return f"{kind} on {target.ws_url} (pid {target.pid}{leaks})"


@contextmanager
def target_up(options: RunOptions, echo: Echo) -> Iterator[Running]:
    """The server under test (and the fake LLM, if asked), stopped on the way out."""
    started: list[ServerProcess | RunningTarget] = []
    plan: CensusPlan | None = None
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
        plan = census_plan(options)
        server = make_server(options, llm_url, plan)
        started.append(server)
        server.start(timeout=options.ready_timeout)
        census = find_census(options, server, plan)
        running = Running(target_of(options, server, extra_metrics, census), server)
        echo(describe(options, running.target))
        if census.note and (options.inspect or census.url is None):
            echo(census.note)  # said once: what the census sees, or why there is none
        yield running
    finally:
        if plan is not None:
            plan.discard()
        for process in reversed(started):
            process.stop()
