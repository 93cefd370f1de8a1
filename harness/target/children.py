"""Every process the harness starts is tied to the harness's life.

Each child starts in a process group of its own, so a stop reaches its whole tree; on
Linux it also gets a parent-death signal. A watchdog process, told each group as it
starts, kills every group still alive the moment the harness is gone: its stdin is a pipe
from the harness, which closes on any death, SIGKILL and crashes included, on any
platform. A server the user started (--target/--pid) is never spawned here, so never
touched. `signals_handled` turns SIGINT, SIGTERM and SIGHUP into `Interrupted`, and a
second signal during the shutdown that follows into an immediate kill of every child.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.errors import EXIT_INCONCLUSIVE, Interrupted

PR_SET_PDEATHSIG = 1
HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Runs with the harness's own interpreter; reads "+ PGID" / "- PGID" lines until EOF.
WATCHDOG = """
import os, signal, sys
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
groups = set()
for line in iter(sys.stdin.readline, ""):
    op, _, pgid = line.partition(" ")
    (groups.add if op == "+" else groups.discard)(int(pgid))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""

_lock = threading.RLock()  # kill_all runs in a signal handler, maybe inside spawn
_groups: set[int] = set()
_watchdog: subprocess.Popen[str] | None = None


_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def _child_setup() -> None:
    """In the child, before exec: SIGKILL when the harness dies (Linux's prctl), and the
    stop signals at their defaults. A harness started with SIGINT ignored (a background
    job of a script) would otherwise pass that on, and a child would sit out its stop."""
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_DFL)
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _tell_watchdog(line: str) -> None:
    global _watchdog
    if _watchdog is None or _watchdog.poll() is not None:
        _watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG], stdin=subprocess.PIPE, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        for pgid in _groups:
            _write(f"+ {pgid}")
    _write(line)


def _write(line: str) -> None:
    assert _watchdog is not None and _watchdog.stdin is not None
    try:
        _watchdog.stdin.write(line + "\n")
        _watchdog.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """Start a child in its own process group, tied to the harness's life."""
    proc: subprocess.Popen[Any] = subprocess.Popen(
        argv, start_new_session=True, preexec_fn=_child_setup, **popen
    )
    with _lock:
        _groups.add(proc.pid)
        _tell_watchdog(f"+ {proc.pid}")
    return proc


def forget(proc: subprocess.Popen[Any]) -> None:
    """The child has been stopped and reaped: the watchdog no longer needs to know it."""
    with _lock:
        if proc.pid in _groups:
            _groups.discard(proc.pid)
            _tell_watchdog(f"- {proc.pid}")


def stop_group(proc: subprocess.Popen[Any], steps: tuple[tuple[int, float], ...]) -> None:
    """Signal a child's whole process group, escalating through `steps` (signal, seconds
    to wait) until it has exited; a group left over after its leader exited is killed."""
    for sig, wait in steps:
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what the leader left behind in its group
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is not None:
        forget(proc)


def kill_all() -> None:
    """SIGKILL every child group at once (the second signal: no more waiting)."""
    with _lock:
        groups = list(_groups)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


_deferring: list[list[str]] = []  # while a block must not be cut in half: the first signal, held


@contextmanager
def signals_deferred() -> Iterator[list[str]]:
    """Hold a first signal that lands in this block (a module's import, which a signal would
    leave half done, outside any handler) instead of raising it: the block yields a list
    that then names it, for the caller to raise where it is handled. A second signal still
    kills at once."""
    pending: list[str] = []
    _deferring.append(pending)
    try:
        yield pending
    finally:
        _deferring.remove(pending)


@contextmanager
def signals_handled() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise `Interrupted` (as Ctrl-C raises KeyboardInterrupt),
    so every command stops its load and target and keeps what it collected; a second
    signal kills every child and exits at once. Signals the process was started with
    ignored (nohup, a background job) stay ignored. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    first: list[str] = []

    def on_signal(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if first:
            print(f"\n{name} again: killing every child and exiting now", file=sys.stderr, flush=True)
            kill_all()
            os._exit(EXIT_INCONCLUSIVE)
        first.append(name)
        if _deferring:
            _deferring[-1].append(name)
            return
        raise Interrupted(name)

    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

