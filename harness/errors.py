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
