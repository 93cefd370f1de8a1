"""Benchmark: does the same server get the same verdict? The flip rate over drawn seeds.

For the fixed bundled server and each catalogue fault (and, with --external, the test servers
whose state is retained but bounded, and the masked memory seen only through the fake LLM),
`--repeat` default runs of `--cycles` cycles, each with its wave design's seed drawn anew.
A flip is a run whose verdict differs from the one the target should get (pass for the fixed
and bounded servers, leak for a fault). Prints one line per run (verdict, what caught it,
the behaviours named) and a JSON line per target, then the total.

    python benchmarks/flip_rate.py [--repeat 10] [--cycles 50] [--targets fixed tasks ...] [--external]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness.commands.run import run
from harness.options import RunOptions
from server.faults import FAULTS

SERVERS = Path(__file__).parents[1] / "tests" / "harness" / "target" / "servers"
METRICS = "http://127.0.0.1:{port}/metrics"


def external() -> dict[str, tuple[dict, str]]:
    """Servers nobody tuned the rules on: (options, the verdict each should get)."""
    bounded = f"{sys.executable} {SERVERS / 'bounded_chat.py'} --port {{port}} --mode"
    return {
        "grace-2s": ({"server_cmd": f"{bounded} grace", "metrics_url": METRICS, "inspect": "on"}, "pass"),
        "lru-240": ({"server_cmd": f"{bounded} lru", "metrics_url": METRICS, "inspect": "on"}, "pass"),
        "levelling": ({"server_cmd": f"{bounded} level", "metrics_url": METRICS, "inspect": "on"}, "pass"),
        "masked-prompts": ({"server_cmd": f"{sys.executable} {SERVERS / 'tiny_chat.py'} --port {{port}} "
                                          "--mode masked --llm {llm_url}", "fake_llm": True}, "leak"),
    }


def targets(names: list[str], with_external: bool) -> dict[str, tuple[dict, str]]:
    out: dict[str, tuple[dict, str]] = {"fixed": ({}, "pass")}
    out |= {fault: ({"leaks": (fault,)}, "leak") for fault in FAULTS}
    if with_external:
        out |= external()
    return {name: spec for name, spec in out.items() if not names or name in names}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--targets", nargs="*", default=[], help="fixed, a fault, or an external server's name")
    parser.add_argument("--external", action="store_true", help="the bounded and masked test servers too")
    args = parser.parse_args()
    total: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (extra, expected) in targets(args.targets, args.external).items():
            verdicts: Counter[str] = Counter()
            seconds = []
            for r in range(1, args.repeat + 1):
                options = RunOptions(cycles=args.cycles, out=Path(tmp) / f"{name}-{r}", **extra)
                started = time.monotonic()
                judgement = run(options, lambda message: None)
                seconds.append(time.monotonic() - started)
                verdicts[judgement.verdict] += 1
                failing = judgement.analysis.failing()
                named = sorted({b for m in failing for b in m.by_behaviour})
                resets = sorted({b for m in failing for b in m.reset_by})
                held = [f"{m.name} {m.drain['released_after_s']:.1f} s" for m in judgement.analysis.bounded()
                        if (m.drain or {}).get("released_after_s") is not None]
                seed = json.loads((options.out / "run.json").read_text()).get("seed")
                print(f"{name} {r}/{args.repeat}: {judgement.verdict} (exit {judgement.exit_code}, seed {seed}) "
                      f"{', '.join(m.name for m in failing[:3])}{' | named ' + ', '.join(named) if named else ''}"
                      f"{' | reset by ' + ', '.join(resets) if resets else ''}"
                      f"{' | held ' + ', '.join(held) if held else ''} "
                      f"in {seconds[-1]:.1f} s", flush=True)
            flips = args.repeat - verdicts[expected]
            total["runs"] += args.repeat
            total["flips"] += flips
            print(json.dumps({"target": name, "expected": expected, "runs": args.repeat, "flips": flips,
                              "verdicts": dict(verdicts), "median_s": round(statistics.median(seconds), 1)}),
                  flush=True)
    print(json.dumps({"total_runs": total["runs"], "total_flips": total["flips"]}), flush=True)


if __name__ == "__main__":
    main()
