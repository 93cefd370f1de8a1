"""The control series: the machine's own speed, measured every cycle next to the probe.

A latency change the server did not cause shows here too. Three figures, all taken on
the harness's side of the socket:
- `cpu_ms`: a fixed CPU-bound workload's wall time,
- `rtt_ms`: a loopback TCP round trip,
both timed right before and right after the probe, so they see the machine the probe saw
(the lower of the two is kept: noise only ever makes a timing slower), and
- `others_cpu`: the cores busy outside the server and the harness over the whole cycle,
which sees a CPU-bound neighbour even where two cores leave the workload one of its own.
The judge (judge/confound.py) tells a step in these from a drift in the server's latency.
"""

from __future__ import annotations

import ctypes
import socket
import time
from collections.abc import Callable

import psutil

from harness.rundir.records import Control, Probe

WORK_LOOPS = 20_000  # about 1 ms of pure Python on this kind of machine
ROUND_TRIPS = 8


def workload_ms(loops: int = WORK_LOOPS, repeat: int = 3) -> float:
    """Wall time of a fixed CPU-bound loop, the fastest of `repeat`, in ms."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for i in range(loops):
            total += i * i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def loopback_ms(round_trips: int = ROUND_TRIPS) -> float:
    """Median time of a one-byte round trip over a 127.0.0.1 TCP connection, in ms."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=5.0) as a:
            b, _ = listener.accept()
            with b:
                b.settimeout(5.0)
                for s in (a, b):
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                times = []
                for _ in range(round_trips):
                    started = time.perf_counter()
                    a.sendall(b"x")
                    b.recv(1)
                    b.sendall(b"y")
                    a.recv(1)
                    times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2] * 1000


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy, over all cores."""
    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU seconds of these processes (those gone meanwhile count 0): to the
    nanosecond where Linux says it (each process's CPU-time clock, its ended threads included),
    else psutil's, in clock ticks (10 ms: a 50 ms window would read in steps of 20%)."""
    total = 0.0
    for process in processes:
        try:
            total += time.clock_gettime(cpu_clock(process.pid))
        except (OSError, AttributeError, OverflowError):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    return total


def cpu_clock(pid: int) -> int:
    """Linux's CPU-time clock of a whole process, as glibc's clock_getcpuclockid(3) makes it:
    the pid inverted, shifted by 3, with CPUCLOCK_SCHED (2), as a 32-bit clockid_t."""
    return ctypes.c_int32((~pid << 3) | 2).value


def tree(process: psutil.Process | None) -> list[psutil.Process]:
    if process is None:
        return []
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class ControlMeter:
    """Wraps the probe: `around(probe)` returns its result and this cycle's `Control`.
    `server` lists the server's processes, or is None where the harness has no pid (then
    `others_cpu` cannot be told from the server's own and is left out). The harness is this
    process with its children (a browser) and the process that started it (`harness run`),
    not that one's other children: a CPU hog started beside us must count. Locust workers
    count as others too; their load is the same every round of waves, so it makes no step."""

    def __init__(self, server: Callable[[], list[psutil.Process]] | None) -> None:
        self.server = server
        self.own = psutil.Process()
        parent = self.own.parent()
        self.parent = parent if parent is not None and parent.pid != 1 else None
        self._mark = self._snapshot()

    def _snapshot(self) -> tuple[float, float, float, float]:
        server = self.server() if self.server is not None else []
        ours = {p.pid: p for p in (*([self.parent] if self.parent else []), *tree(self.own))}
        for process in server:
            ours.pop(process.pid, None)
        return time.monotonic(), busy_seconds(), cpu_seconds(server), cpu_seconds(list(ours.values()))

    def around(self, probe: Callable[[], Probe]) -> tuple[Probe, Control]:
        before = workload_ms(), loopback_ms()
        result = probe()
        after = workload_ms(), loopback_ms()
        then, now = self._mark, self._snapshot()
        self._mark = now
        elapsed = now[0] - then[0]
        others = None
        if self.server is not None and elapsed > 0:
            spent = (now[1] - then[1]) - (now[2] - then[2]) - (now[3] - then[3])
            others = round(max(0.0, spent) / elapsed, 3)
        control = Control(
            cpu_ms=round(min(before[0], after[0]), 3),
            rtt_ms=round(min(before[1], after[1]), 4),
            others_cpu=others,
        )
        return result, control
