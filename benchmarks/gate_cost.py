"""Benchmark: `harness gate` on synthetic saved runs of 1k, 10k, 20k and 100k cycles.

Writes each run directory (samples.jsonl shaped like the bundled server's, with the design's
compositions, a census of a few groups, and noise), then times `harness gate DIR` in a child
process and reads its peak memory. Prints one JSON line per size.

    python benchmarks/gate_cost.py [--sizes 1000 10000 20000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.load.design import WaveDesign
from harness.options import RunOptions
from harness.rundir.records import CycleSample, RunMeta, RunStatus
from harness.rundir.store import SampleLog, write_meta, write_status

GAUGES = ("chat_clients", "chat_contexts", "chat_conversation_tasks", "chat_audio_buffers", "chat_heartbeats",
          "chat_message_handler_clients", "chat_wake_word_clients", "chat_agent_memory_messages")


def write_run(path: Path, cycles: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    design = WaveDesign("mixed", 10, 5, seed)
    write_meta(path, RunMeta(RunOptions(cycles=cycles, out=path, seed=seed)))
    log = SampleLog(path)
    with log.path.open("w", encoding="utf-8") as fh:
        for cycle in range(1, cycles + 1):
            composition = design.composition(cycle)
            n = sum(composition.values())
            data = {
                "cycle": cycle, "time": float(cycle), "wave_s": 0.3,
                "sessions": {"attempted": n, "completed": n, "failed": 0, "failures": {}},
                "latency": {"reply": {"p50": 70 + rng.normal(0, 3), "p95": 80 + rng.normal(0, 4), "count": n}},
                "probe": {"ok": True, "reply_ms": 20 + rng.normal(0, 1), "first_token_ms": 10 + rng.normal(0, 1)},
                "server": {**dict.fromkeys(GAUGES, 0.0), "chat_asyncio_tasks": float(2 + rng.integers(0, 2)),
                           "chat_sessions_total": float(10 * cycle)},
                "process": {"rss_bytes": 35e6 + rng.normal(0, 2e5), "open_fds": 11.0, "threads": 2.0,
                            "close_wait": 0.0, "idle_cpu": 0.0, "tcp": {}},
                "census": {"groups": {"objects:server.handler.ClientSession": 0.0,
                                      "tasks:Server.serve @ server/app.py:1": 1.0,
                                      "entries:ChatState.client_contexts": 0.0}},
                "composition": composition,
                "control": {"cpu_ms": 1.0 + rng.normal(0, 0.1), "rtt_ms": 0.02 + rng.normal(0, 0.002),
                            "others_cpu": abs(rng.normal(0.02, 0.02))},
            }
            fh.write(CycleSample.from_dict(data).to_json() + "\n")
    write_status(path, RunStatus("finished", f"{cycles} cycles", cycles_done=cycles, cycles_asked=cycles))


def gate(path: Path) -> dict[str, float | int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness", "gate", str(path)], capture_output=True, text=True)
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
    return {"seconds": round(seconds, 2), "peak_mib": round(max(peak, before) / 1024, 1), "exit": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 20_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(args.sizes):  # ascending, so each child's peak is the largest so far
            path = Path(tmp) / f"run-{size}"
            write_run(path, size)
            print(json.dumps({"benchmark": "gate_cost", "cycles": size, **gate(path)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
