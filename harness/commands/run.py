"""`harness run`: start the target, start the load, judge each sample as it arrives,
render the reports, return the judgement (cli turns it into the exit code)."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import Interrupted, interruption
from harness.judge.analysis import Config
from harness.judge.power import plan_note
from harness.judge.rules import warmup_of
from harness.judge.verdict import Judge, Judgement, judge
from harness.load.design import WaveDesign, design_note
from harness.load.driver import DRAIN_FALLING_MAX_S, CycleDriver
from harness.load.launch import LocustProcess, start_early
from harness.load.page import PageSessions
from harness.load.protocols import protocol_note, protocol_of
from harness.observe.sampler import http_base, sampler_for
from harness.options import PAGE, RunOptions
from harness.report.summary import progress_line, write_reports
from harness.rundir.records import CycleSample, Run, RunMeta, RunStatus
from harness.rundir.store import (
    DRAIN_FILE,
    SAMPLES_FILE,
    SampleFollower,
    SampleLog,
    load_run,
    read_drain,
    read_driver_status,
    read_meta,
    read_status,
    read_summary,
    write_driver_status,
    write_meta,
    write_status,
)
from harness.target.up import Running, target_up

if TYPE_CHECKING:
    from harness.report.ahead import FiguresAhead

Echo = Callable[[str], None]
STALL_TIMEOUT = 300.0
QUIT_GRACE = 30.0  # after the last cycle (and its drain check), for Locust to exit
DEATH_GRACE = 1.0  # after the server dies, the driver's own status is the better account
# A second and a half to load between them, needed only at the end (and by --stop-early):
# loaded while the first cycles run, so neither the server's start nor the first wave waits.
HEAVY_MODULES = ("scipy.stats", "harness.report.ahead")


def run(
    options: RunOptions, echo: Echo, config: Config | None = None,
    on_sample: Callable[[CycleSample], None] | None = None, locusts: list[LocustProcess] | None = None,
    pending: list[str] | None = None,
) -> Judgement:
    """Run the whole job against the target and write the reports; `on_sample` sees each
    cycle's sample as it is judged (the selftest's CPU step starts on one). `locusts` were
    started by the caller from `start_early(options)`; this run stops them. `pending` names
    a signal the caller held (children.signals_deferred): the run ends interrupted at once."""
    if locusts is None:
        locusts = start_early(options)
    try:
        return run_started(options, echo, config, on_sample, locusts, pending or [])
    finally:
        for process in locusts:
            process.stop()


def run_started(
    options: RunOptions, echo: Echo, config: Config | None, on_sample: Callable[[CycleSample], None] | None,
    locusts: list[LocustProcess], pending: list[str],
) -> Judgement:
    protocol = protocol_of(options)
    live = Judge(options.cycles, config, stop_early=options.stop_early)
    progress = Progress(options.cycles, echo, live, on_sample)
    cut_short: str | None = None
    interrupted: str | None = None
    try:
        if pending:
            raise Interrupted(pending[0])
        with target_up(options, echo) as running:
            write_meta(options.out, RunMeta(options, running.target, started=time.time()))
            preload(HEAVY_MODULES)
            workers = f" on {options.workers} Locust workers" if options.workers else ""
            echo(f"{options.cycles} cycles of {options.users} '{options.scenario}' sessions{workers} -> {options.out}")
            if note := protocol_note(protocol):
                echo(note)
            echo(design_note(options.scenario, options.users, options.cycles, options.warmup, options.seed,
                             protocol.behaviours))
            echo(plan_note(options.cycles, replace(config or Config(), warmup=options.warmup)))
            if options.scenario == PAGE:
                cut_short = drive_pages(options, running, progress)
            else:
                cut_short = drive_locust(options, locusts, running, progress)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP under signals_handled
        interrupted = interruption(exc)
        echo(f"{interrupted}: stopped Locust and the server, keeping what was sampled")
    for process in locusts:  # already, unless the server never came up or a signal came first
        process.stop()
    samples, warnings = live.samples, progress.warnings
    # A signal can land between a sample's line and the judge; none before the first cycle.
    if (cut_short or interrupted) and (options.out / SAMPLES_FILE).exists():
        saved = load_run(options.out)
        samples, warnings = saved.samples, saved.warnings
    conclude_status(options, live, len(samples), cut_short, interrupted, echo)
    return finish(options, samples, config, warnings, progress.figures)


def preload(modules: tuple[str, ...]) -> None:
    """Import `modules` in a thread of their own; one that fails is imported again, and its
    error raised, where it is used."""

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                continue

    threading.Thread(target=load, name="harness-preload", daemon=True).start()


class Progress:
    """Each new sample: one line on the terminal, then to the judge."""

    def __init__(
        self, cycles: int, echo: Echo, live: Judge, on_sample: Callable[[CycleSample], None] | None = None
    ) -> None:
        self.cycles, self.echo, self.live, self.on_sample = cycles, echo, live, on_sample
        self.warnings: list[str] = []  # lines of samples.jsonl that were not samples
        self.figures: FiguresAhead | None = None

    def draw_ahead(self, run_dir: Path) -> None:
        """Every cycle is in: draw the figures while the drain check idles and Locust exits."""
        if self.figures is None:
            from harness.report.ahead import FiguresAhead

            config = replace(self.live.config, planned_cycles=self.live.planned)
            self.figures = FiguresAhead(self.live.samples, config, run_dir)

    def __call__(self, sample: CycleSample) -> None:
        self.live.add(sample)  # first: a line on the terminal means the judge has it
        self.echo(progress_line(sample, self.cycles))
        for warning in sample.warnings:
            self.echo(f"warning: {warning}")
        if self.on_sample is not None:
            self.on_sample(sample)

    def drain(self, follower: SampleFollower) -> None:
        for sample in follower.new_samples():
            self(sample)
        for warning in follower.warnings[len(self.warnings):]:
            self.echo(f"warning: {warning}")
            self.warnings.append(warning)

    @property
    def decided(self) -> bool:
        return self.live.decided is not None


def drive_locust(
    options: RunOptions, locusts: list[LocustProcess], running: Running, progress: Progress
) -> str | None:
    """The cycles in Locust (one process, or master and workers), started before the server
    and going once run.json is written; why they were cut short."""
    follower = SampleFollower(options.out)
    try:
        return follow(options, locusts[0], running, follower, progress)
    finally:
        for process in locusts:
            process.stop()
        progress.drain(follower)  # what was written up to the stop is judged too


def follow(
    options: RunOptions, locust: LocustProcess, running: Running, follower: SampleFollower, progress: Progress
) -> str | None:
    """Hand on each sample the Locust child appends until it exits or the verdict is
    decided; why the run was cut short, if it was."""
    last_new = time.monotonic()
    all_in: float | None = None
    while locust.running() and not progress.decided:
        seen = len(progress.live.samples)
        progress.drain(follower)
        if len(progress.live.samples) > seen:
            last_new = time.monotonic()
        if progress.decided:
            return None
        if not running.alive() and not locust.wait(DEATH_GRACE):
            # The driver notices too, writes its own account and quits; it had its moment.
            return f"server process exited with code {running.exit_code()}"
        if len(progress.live.samples) >= options.cycles:
            progress.draw_ahead(options.out)
            if all_in is None and options.drain > 0:
                progress.echo(f"drain check: idle, re-sampling until what grew is released ({options.drain:g} s, "
                              f"longer while it falls or tasks sleep on timers; {DRAIN_FALLING_MAX_S:g} s at most)")
            all_in = all_in or time.monotonic()
            if time.monotonic() - all_in > max(options.drain, DRAIN_FALLING_MAX_S) + QUIT_GRACE:
                return "Locust did not exit after the last cycle"
        elif time.monotonic() - last_new > STALL_TIMEOUT:
            return f"no cycle finished in {STALL_TIMEOUT:g} s"
        time.sleep(0.1)
    if not progress.decided and read_driver_status(options.out) is None:
        return f"Locust exited with code {locust.proc.returncode} before the run finished (see locust.log)"
    return None


def drive_pages(options: RunOptions, running: Running, progress: Progress) -> str | None:
    """The cycles in a headless Chromium, driven from this process (no Locust)."""
    target = running.target
    with PageSessions(http_base(target.ws_url), options.page_leak, options.reply_timeout) as pages:
        design = WaveDesign(PAGE, options.users, warmup_of(options.warmup, options.cycles))
        sampler = sampler_for(target, options.settle_timeout, alloc_from=warmup_of(options.warmup, options.cycles) + 1)
        driver = CycleDriver(
            cycles=options.cycles, design=design, run_wave=pages.run_wave, sampler=sampler, probe=pages.probe,
            log=SampleLog(options.out), on_cycle=progress, stop_requested=lambda: progress.decided,
            control=sampler.control_meter(), drain=options.drain, drain_log=SampleLog(options.out, DRAIN_FILE),
        )
        write_driver_status(options.out, driver.run())
    return None


def conclude_status(
    options: RunOptions, live: Judge, cycles_done: int, cut_short: str | None, interrupted: str | None, echo: Echo
) -> None:
    """status.json, written here only: the driver's own account of how its cycles ended
    (driver.json), unless it is missing or moot (the driver of an interrupted run only saw
    itself being stopped; one stopped early saw the same)."""
    driver = read_driver_status(options.out)
    if interrupted is not None:
        status = RunStatus("interrupted", interrupted, cycles_done=cycles_done, cycles_asked=options.cycles,
                           users=options.users)
    elif live.decided is not None:
        decided = live.decided.cycle
        echo(f"verdict decided at cycle {decided}: stopped early")
        status = RunStatus("decided", f"decided at cycle {decided}", decided_at=decided, cycles_asked=options.cycles)
    elif driver is not None:
        status = driver
    else:
        status = RunStatus("aborted", cut_short or "the cycle driver gave no account of its run")
    write_status(options.out, status)


def finish(
    options: RunOptions, samples: list[CycleSample], config: Config | None, warnings: list[str],
    figures: FiguresAhead | None = None,
) -> Judgement:
    """Judge the samples, with the status and plan as written, and render (keeping the figures
    drawn ahead if they are this judgement's)."""
    baseline = read_summary(options.baseline) if options.baseline else None
    drain, bad_lines = read_drain(options.out)
    record = Run(options.out, samples, read_status(options.out), read_meta(options.out), warnings + bad_lines, drain)
    judgement = judge(record, config, baseline, options.baseline)
    write_reports(judgement, figures.for_final(samples, judgement.analysis) if figures else None)
    return judgement
