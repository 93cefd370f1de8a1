"""Start Locust in child processes: one process, or a master with local workers.

Locust runs apart from the harness because importing it monkey-patches the whole process
with gevent. The child gets only Locust's own flags and `--run-dir`: it reads the run's
options and target from the run.json there (see hooks.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import scenarios
from harness.errors import UsageError
from harness.load.protocols import protocol_of
from harness.options import PAGE, SCENARIOS, RunOptions, draw_seed
from harness.target.children import spawn, stop_group
from harness.target.process import free_port

SCENARIO_DIR = Path(scenarios.__file__).parent
QUIT_GRACE = 30.0
PLAN_SLACK_S = 30.0  # beyond the target's ready timeouts, for the census to announce itself and run.json


def scenario_file(name: str) -> Path:
    if name not in SCENARIOS or name == PAGE:
        raise UsageError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    return SCENARIO_DIR / f"{name}.py"


def locust_command(options: RunOptions, ws_url: str | None = None, headless: bool = True) -> list[str]:
    """The Locust child of a run. With `ws_url`, run.json is already written in
    `options.out`; without, the child is started before the server and waits for it."""
    out = options.out
    argv = [
        sys.executable, "-m", "locust",
        "-f", str(scenario_file(options.scenario)),
        "-u", str(options.users), "-r", str(max(options.users, 100)),
        "--run-dir", str(out),
    ]
    if ws_url is not None:
        argv += ["--host", ws_url]
    else:  # the fake LLM and the server may each take their ready timeout, and the census its own
        argv += ["--await-plan", f"{2 * options.ready_timeout + PLAN_SLACK_S:g}"]
    argv += ["--html", str(out / "locust.html"), "--loglevel", "INFO"]
    if headless:  # in the web UI, Locust logs to the terminal
        argv += ["--headless", "--only-summary", "--logfile", str(out / "locust.log")]
    return argv


def worker_command(scenario: str, master_host: str, master_port: int, logfile: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "locust", "-f", str(scenario_file(scenario)), "--worker",
            "--master-host", master_host, "--master-port", str(master_port)]
    if logfile is not None:
        argv += ["--logfile", str(logfile)]
    return argv


class LocustProcess:
    """A Locust child; stopped (SIGINT, then SIGTERM, then SIGKILL) in `stop`."""

    def __init__(self, argv: list[str], log: Path | None) -> None:
        self._log = open(log, "ab") if log is not None else None
        self._stopped = False
        self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                          stderr=subprocess.STDOUT if self._log else None)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> bool:
        """True once the process has exited, False if it still runs after `timeout`."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stop_group(self.proc, ((signal.SIGINT, QUIT_GRACE), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)))
        if self._log is not None:
            self._log.close()


def start_locust(options: RunOptions, ws_url: str | None = None) -> list[LocustProcess]:
    """The Locust process, or a master and its local workers with --workers N; without
    `ws_url`, they wait for the run.json the caller writes once its target is up."""
    argv = locust_command(options, ws_url)
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


def start_early(options: RunOptions) -> list[LocustProcess]:
    """Check a run's options, make its directory and start its Locust (none for the page
    scenario), which boots while the server starts and waits for run.json. Light on
    purpose: `harness run` calls it before it imports the judge and the reports."""
    options.validate()
    protocol_of(options)
    options.out.mkdir(parents=True, exist_ok=True)
    if options.seed is None:
        options.seed = draw_seed()
    return [] if options.scenario == PAGE else start_locust(options)
