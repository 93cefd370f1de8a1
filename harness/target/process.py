"""Start and stop the server under test: readiness by signal, stopped in `finally`."""

from __future__ import annotations

import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import urlsplit

import psutil

from harness.errors import TargetError, UsageError
from harness.options import CHAT_PATH, READY_TIMEOUT_S
from harness.target.children import spawn, stop_group

READY_TIMEOUT = READY_TIMEOUT_S


class ServerProcess:
    """A child server that prints `LISTENING <port>` when ready. Use as a context manager."""

    def __init__(self, argv: list[str], log_path: Path | None = None, env: dict[str, str] | None = None):
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def bundled(
        cls, leaks: tuple[str, ...] = (), log_path: Path | None = None, extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        argv = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", "0"]
        for leak in leaks:
            argv += ["--leak", leak]
        return cls(argv + list(extra), log_path, env)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{CHAT_PATH}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = READY_TIMEOUT) -> int:
        stderr = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")
            stderr = self._log  # type: ignore[assignment]
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        self.proc = spawn(self.argv, stdout=subprocess.PIPE, stderr=stderr, env=env)
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
        stop_group(self.proc, ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)))
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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class CommandServer(ServerProcess):
    """A user's server started from `--server-cmd "CMD ... {port}"`; ready when its port
    accepts connections. Its whole process tree is sampled and stopped."""

    def __init__(self, template: str, ws_path: str, log_path: Path | None,
                 env: dict[str, str] | None = None, llm_url: str = "") -> None:
        port = free_port()
        try:
            argv = shlex.split(template.replace("{port}", str(port)).replace("{llm_url}", llm_url))
        except ValueError as exc:
            raise UsageError(f"--server-cmd cannot be parsed: {exc}") from None
        if not argv:
            raise UsageError("--server-cmd is empty")
        super().__init__(argv, log_path, env)
        self.port = port
        self.template = template
        self.ws_path = ws_path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.ws_path}"

    def start(self, timeout: float = READY_TIMEOUT) -> int:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        try:
            self.proc = spawn(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise TargetError(f"--server-cmd could not start {self.argv[0]!r}: {exc.strerror}") from None
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        assert self.port is not None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise TargetError(f"--server-cmd exited early with code {code}: {self.template}" + self._tail())
            if port_open("127.0.0.1", self.port, timeout=0.2):
                return self.port
            time.sleep(0.1)
        self.stop()
        raise TargetError(f"--server-cmd did not open port {self.port} within {timeout:g} s" + self._tail())


class RunningTarget:
    """A server that is already running (`--target ws://...`), optionally with `--pid`."""

    def __init__(self, url: str, pid: int | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise UsageError(f"--target must be a ws:// or wss:// URL, got {url!r}")
        self.ws_url = url
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "wss" else 80)
        self._pid = pid
        self.proc = None

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 3.0) -> int:
        if not port_open(self.host, self.port, timeout=min(timeout, 3.0)):
            raise TargetError(f"server not reachable at {self.ws_url}")
        if self._pid is not None and not psutil.pid_exists(self._pid):
            raise UsageError(f"--pid {self._pid}: no such process")
        return self.port

    def alive(self) -> bool:
        return self._pid is None or psutil.pid_exists(self._pid)

    def stop(self) -> None:
        """Not ours to stop."""
