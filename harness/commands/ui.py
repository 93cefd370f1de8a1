"""`harness ui`: Locust's own web UI with the cycle driver and the Leaks tab.

Starting a test from the UI starts cycling; stopping it stops cycling. Each test writes
its run directory the way `harness run` does, so `harness gate` can judge it afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from harness.judge.verdict import judge
from harness.load.launch import LocustProcess, locust_command
from harness.options import RunOptions
from harness.report.summary import headline, write_reports
from harness.rundir.records import RunMeta
from harness.rundir.store import load_run, run_dirs, write_meta
from harness.target.up import target_up

Echo = Callable[[str], None]
DEFAULT_WEB_PORT = 8089


def serve_ui(options: RunOptions, echo: Echo, web_port: int = DEFAULT_WEB_PORT) -> int:
    """Run the UI until Ctrl-C; then judge and report every run the UI started."""
    options.out.mkdir(parents=True, exist_ok=True)
    with target_up(options, echo) as running:
        write_meta(options.out, RunMeta(options, running.target, started=time.time()))
        argv = locust_command(options, running.target.ws_url, headless=False)
        argv += ["--web-host", "127.0.0.1", "--web-port", str(web_port)]
        echo(f"Locust web UI on http://127.0.0.1:{web_port} (Leaks tab); Ctrl-C to finish")
        locust = LocustProcess(argv, log=None)
        try:
            locust.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            locust.stop()
    for run_dir in run_dirs(options.out):
        judgement = judge(load_run(run_dir))
        write_reports(judgement)
        echo(f"{run_dir}: {headline(judgement)}")
    return 0
