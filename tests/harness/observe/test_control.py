"""The control series on real processes: a CPU-bound neighbour shows, the harness's own work does not."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from harness.observe.control import ControlMeter, loopback_ms, workload_ms
from harness.rundir.records import Probe

pytestmark = pytest.mark.integration


def idle_probe() -> Probe:
    time.sleep(0.5)
    return Probe(ok=True, reply_ms=500.0)


def busy_probe() -> Probe:
    """The harness's own CPU: half a second spinning in this process."""
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
    return Probe(ok=True, reply_ms=500.0)


@contextlib.contextmanager
def neighbour_hog() -> Iterator[None]:
    """A CPU-bound process that is not ours: started through a shell that exits at once, so
    it is nobody's child here (our own children count as the harness, like a browser)."""
    pid = int(subprocess.run(
        ["sh", "-c", f"'{sys.executable}' -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True, timeout=10).stdout)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGKILL)


def test_timings_are_positive_milliseconds() -> None:
    assert 0 < workload_ms() < 1000
    assert 0 < loopback_ms() < 1000


def test_a_cpu_hog_elsewhere_shows_and_our_own_work_does_not() -> None:
    meter = ControlMeter(lambda: [])
    probe, quiet = meter.around(idle_probe)
    assert probe.ok and quiet.others_cpu is not None
    _, own = meter.around(busy_probe)
    with neighbour_hog():
        time.sleep(0.2)
        meter.around(idle_probe)  # the cycle the hog started in
        _, busy = meter.around(idle_probe)
    assert own.others_cpu is not None and busy.others_cpu is not None
    assert own.others_cpu < quiet.others_cpu + 0.4, (quiet, own)  # the harness is not "others"
    assert busy.others_cpu > quiet.others_cpu + 0.5, (quiet, busy)


def test_without_the_servers_processes_others_is_not_told() -> None:
    _, control = ControlMeter(None).around(idle_probe)
    assert control.others_cpu is None and control.cpu_ms and control.rtt_ms


CHILD = """
import sys, threading, time

def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass

for seconds in (0.013, 0.021):  # the main thread, then another that ends: its time stays
    worker = threading.Thread(target=spin, args=(seconds,))
    worker.start() if seconds == 0.021 else spin(seconds)
    worker.join() if seconds == 0.021 else None
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def test_cpu_seconds_are_read_to_well_under_a_clock_tick() -> None:
    """A real process that ran 34 ms of CPU and more, in two threads, one of them ended: read to
    within a millisecond of what it says of itself, where psutil's figure moves in 10 ms ticks."""
    import psutil

    from harness.observe.control import cpu_seconds

    with subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            own = float(child.stdout.readline())
            ours = cpu_seconds([psutil.Process(child.pid)])
        finally:
            child.stdin.close()
    assert own > 0.034 and abs(ours - own) < 0.001, (ours, own)
