"""One error root for the harness; each error carries the exit code it ends the run with."""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3


class HarnessError(Exception):
    """A failure the user should see as one clear line, without a traceback."""

    exit_code = EXIT_INCONCLUSIVE


class UsageError(HarnessError):
    exit_code = EXIT_USAGE


class TargetError(HarnessError):
    """The server under test could not be started, reached or kept alive."""

    exit_code = EXIT_INCONCLUSIVE


class WorkerLost(HarnessError):
    """A Locust worker stopped answering in the middle of a distributed run."""

    exit_code = EXIT_INCONCLUSIVE


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP: stop the load and the target, keep what was collected.
    A KeyboardInterrupt, so every path that handles Ctrl-C handles the others too."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def interruption(exc: KeyboardInterrupt) -> str:
    """How a run was interrupted, for status.json and the summary."""
    name = getattr(exc, "signal_name", "SIGINT")
    return f"interrupted by {name}" + (" (Ctrl-C)" if name == "SIGINT" else "")
