"""Benchmark: probe latency with sampling on vs off, in one run on one server.

Alternates "sample, then probe" with "probe only" so machine noise hits both sides alike.
Prints one JSON line with the medians and their ratio (the sampler's overhead).

    python benchmarks/probe_overhead.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from harness.load.driver import run_probe
from harness.observe.sampler import Sampler
from harness.target.process import ServerProcess


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    on: list[float] = []
    off: list[float] = []
    with ServerProcess.bundled() as server:
        sampler = Sampler(f"{server.http_url}/metrics", f"{server.http_url}/debug/resources", pid=server.pid)
        for i in range(args.rounds):
            sampling = i % 2 == 0
            if sampling:
                sampler.sample()
            probe = run_probe(server.ws_url)
            (on if sampling else off).append(probe.reply_ms)
    med_on, med_off = statistics.median(on), statistics.median(off)
    print(json.dumps({
        "benchmark": "probe_overhead",
        "rounds": args.rounds,
        "probe_ms_median_sampling_on": round(med_on, 2),
        "probe_ms_median_sampling_off": round(med_off, 2),
        "overhead_ratio": round(med_on / med_off, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
