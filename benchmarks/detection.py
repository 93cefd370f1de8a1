"""Benchmark: cycles to detection per fault, with --stop-early at U=10.

Prints one JSON line per fault (median over --repeat runs) and one for the fixed server.

    python benchmarks/detection.py [--cycles 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness.commands.selftest import FIXED, selftest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = selftest(Path(tmp), args.cycles, args.repeat, args.users, lambda m: None)
    for row in rows:
        line = {"benchmark": "detection", "target": row.target, "runs": row.runs}
        if row.target == FIXED:
            line["false_alarms"] = row.failed + row.inconclusive
        else:
            line["detected"] = row.failed
            line["median_cycles_to_detect"] = row.median_cycles()
            line["caught_by"] = row.caught_by.most_common(1)[0][0] if row.caught_by else None
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
