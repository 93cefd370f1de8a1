"""`harness ui`: Locust's own web UI with the cycle driver and the Leaks tab.

Starting a test from the UI starts cycling; stopping it stops cycling. Each test writes
its run directory the way `harness run` does, so `harness gate` can judge it afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import EXIT_INCONCLUSIVE, interruption
from harness.judge.verdict import judge
from harness.load.launch import LocustProcess, locust_command
from harness.load.protocols import protocol_of
from harness.options import RunOptions, draw_seed
from harness.report.summary import headline, write_reports
from harness.rundir.records import RunMeta, RunStatus
from harness.rundir.store import SUMMARY_FILE, load_run, read_driver_status, run_dirs, write_meta, write_status
from harness.target.up import target_up

Echo = Callable[[str], None]
DEFAULT_WEB_PORT = 8089


def conclude_tests(base: Path, interrupted: str | None) -> bool:
    """status.json of each test the UI ran, written here only: its driver's account
    (driver.json), but the latest ends as interrupted, with the signal, where the signal cut
    it short (its driver saw itself merely 'stopped', or gave no account). True if it did."""
    dirs = run_dirs(base)
    cut_short = False
    for run_dir in dirs:
        driver = read_driver_status(run_dir)
        if run_dir == dirs[-1] and interrupted is not None and (driver is None or driver.state == "stopped"):
            status = RunStatus("interrupted", interrupted, cycles_done=len(load_run(run_dir).samples))
            cut_short = True
        else:
            status = driver or RunStatus("aborted", "the cycle driver gave no account of this test")
        write_status(run_dir, status)
    return cut_short


def serve_ui(options: RunOptions, echo: Echo, web_port: int = DEFAULT_WEB_PORT) -> int:
    """Run the UI until Ctrl-C (or SIGTERM, SIGHUP); then judge and report every run the
    UI started. Exit 3 if the signal cut a running test short, else 0."""
    protocol_of(options)  # a bad profile, or a scenario it cannot express, stops here
    options.out.mkdir(parents=True, exist_ok=True)
    if options.seed is None:
        options.seed = draw_seed()
    with target_up(options, echo) as running:
        write_meta(options.out, RunMeta(options, running.target, started=time.time()))
        argv = locust_command(options, running.target.ws_url, headless=False)
        argv += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
        echo(f"Locust web UI on http://127.0.0.1:{web_port} (Leaks tab); Ctrl-C to finish")
        locust = LocustProcess(argv, log=None)
        interrupted: str | None = None
        try:
            locust.proc.wait()
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP: the way to finish
            interrupted = interruption(exc)
        finally:
            locust.stop()
    cut_short = conclude_tests(options.out, interrupted)
    dirs = run_dirs(options.out)
    for run_dir in dirs:
        judgement = judge(load_run(run_dir))
        # The Locust child reported each test as it ended (the tab links its report.html); only
        # a test it did not report, or one the signal cut short since, is reported here.
        if not (run_dir / SUMMARY_FILE).exists() or (cut_short and run_dir == dirs[-1]):
            write_reports(judgement)
        echo(f"{run_dir}: {headline(judgement)}")
    return EXIT_INCONCLUSIVE if cut_short else 0
