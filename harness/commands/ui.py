"""`harness ui`: Locust's own web UI with the cycle driver and the Leaks tab.

Starting a test from the UI starts cycling; stopping it stops cycling. Each test writes
its run directory the way `harness run` does, so `harness gate` can judge it afterwards.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.commands.run import Echo, locust_command, target_up
from harness.options import RunOptions
from harness.report.summary import headline, judge, write_reports
from harness.rundir.store import load_run

DEFAULT_WEB_PORT = 8089


def ui_command(options: RunOptions, base: list[str], web_port: int) -> list[str]:
    argv: list[str] = []
    skip = False
    for arg in base:
        if skip:
            skip = False
        elif arg == "--logfile":
            skip = True  # in the UI, Locust logs to the terminal
        elif arg not in ("--headless", "--only-summary"):
            argv.append(arg)
    return argv + ["--web-host", "127.0.0.1", "--web-port", str(web_port)]


def serve_ui(options: RunOptions, echo: Echo, web_port: int = DEFAULT_WEB_PORT) -> int:
    """Run the UI until Ctrl-C; then judge and report every run the UI started."""
    options.out.mkdir(parents=True, exist_ok=True)
    with target_up(options, echo) as (server, extra_metrics):
        argv = ui_command(options, locust_command(options, server, extra_metrics), web_port)
        echo(f"Locust web UI on http://127.0.0.1:{web_port} (Leaks tab); Ctrl-C to finish")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(30)
    for run_dir in sorted(run_dirs(options.out)):
        judgement = judge(load_run(run_dir))
        write_reports(judgement)
        echo(f"{run_dir}: {headline(judgement)}")
    return 0


def run_dirs(base: Path) -> list[Path]:
    """The run directory of each test started from the UI (base, base-2, ...)."""
    candidates = [base, *base.parent.glob(f"{base.name}-*")]
    return [p for p in candidates if (p / "samples.jsonl").exists()]

