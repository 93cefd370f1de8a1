"""Start and stop the server under test: readiness by signal, stopped in `finally`."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from .errors import TargetError

READY_TIMEOUT = 15.0


class ServerProcess:
    """A child server that prints `LISTENING <port>` when ready. Use as a context manager."""

    def __init__(self, argv: list[str], log_path: Path | None = None, env: dict[str, str] | None = None):
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._log = None

    @classmethod
    def bundled(
        cls, leaks: tuple[str, ...] = (), log_path: Path | None = None, extra: tuple[str, ...] = ()
    ) -> ServerProcess:
        argv = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0"]
        for leak in leaks:
            argv += ["--leak", leak]
        return cls(argv + list(extra), log_path)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/client-ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = READY_TIMEOUT) -> int:
        stderr = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")
            stderr = self._log  # type: ignore[assignment]
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=stderr, env=env, start_new_session=True
        )
        self.port = self._wait_listening(timeout)
        return self.port

    def _wait_listening(self, timeout: float) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            line = self.proc.stdout.readline() if ready else b""
            if line.startswith(b"LISTENING "):
                return int(line.split()[1])
            if ready and not line:  # EOF: the child closed stdout, so it is exiting
                code = self.proc.wait(5)
                self.stop()
                raise TargetError(
                    f"server exited with code {code} before listening: {' '.join(self.argv)}"
                    + self._tail()
                )
        self.stop()
        raise TargetError(f"server did not print LISTENING within {timeout:g} s" + self._tail())

    def _tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-5:]
        return "\n  last lines:\n    " + "\n    ".join(lines) if lines else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, wait `grace`, then SIGKILL the whole process group."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
