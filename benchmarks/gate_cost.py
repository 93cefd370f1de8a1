"""Benchmark: `harness gate` on synthetic saved runs of 1k, 10k, 20k and 100k cycles.

Writes each run directory (samples.jsonl shaped like the bundled server's, with the design's
compositions, a census of a few groups, and noise), then times `harness gate DIR` in a child
process and reads its peak memory. Prints one JSON line per size. With `--against DIR` (a
checkout of another commit, e.g. from `git worktree add`), that checkout's gate is timed on
the same runs, alternately with this one's, and the ratios are printed.

    python benchmarks/gate_cost.py [--sizes 1000 10000 20000 100000] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
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


HERE = Path(__file__).resolve().parents[1]  # this checkout, whichever one pip installed


def gate(path: Path, checkout: Path = HERE) -> dict[str, float | int]:
    """Time `harness gate` in a child (of `checkout`, else of this one); the child reports its
    own peak RSS, so each child is measured alone."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    script = ("import resource, runpy, sys\n"
              "sys.argv = ['harness', 'gate', sys.argv[1]]\n"
              "try:\n    runpy.run_module('harness', run_name='__main__')\n"
              "finally:\n    print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env,
                          cwd=path)  # not this checkout, which `-c` would put first on sys.path
    seconds = time.monotonic() - start
    peaks = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("peak_kib ")]
    if not peaks:
        raise SystemExit(f"harness gate failed on {path}:\n{proc.stderr[-2000:]}")
    peak_kib = int(peaks[-1])
    return {"seconds": round(seconds, 2), "peak_mib": round(peak_kib / 1024, 1), "exit": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 20_000, 100_000])
    parser.add_argument("--against", type=Path, help="a checkout of another commit to time beside this one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for size in sorted(args.sizes):
            path = Path(tmp) / f"run-{size}"
            write_run(path, size)
            ours = gate(path)
            line: dict[str, object] = {"benchmark": "gate_cost", "cycles": size, **ours}
            if args.against:
                theirs, again = gate(path, args.against), gate(path)  # theirs between two of ours
                seconds = (ours["seconds"] + again["seconds"]) / 2
                line |= {"seconds": round(seconds, 2), "against_seconds": theirs["seconds"],
                         "against_peak_mib": theirs["peak_mib"],
                         "time_ratio": round(seconds / theirs["seconds"], 2),
                         "memory_ratio": round(ours["peak_mib"] / theirs["peak_mib"], 2)}
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
