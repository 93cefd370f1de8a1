"""One writer per run-directory file (rundir/store.py says which): the code that writes each,
and a real run, re-judged and re-rendered, leaving what it did not write alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_INCONCLUSIVE

HARNESS = Path(__file__).parents[3] / "harness"
WRITERS = {  # the store function -> the modules allowed to call it
    "write_status": {"harness/commands/run.py", "harness/commands/ui.py"},
    "write_driver_status": {"harness/load/hooks.py", "harness/commands/run.py"},  # the driver's own process
    "write_meta": {"harness/commands/run.py", "harness/commands/ui.py", "harness/load/hooks.py"},
    "write_summary": {"harness/report/summary.py"},
}


def test_each_file_is_written_from_the_modules_that_own_it() -> None:
    calls: dict[str, set[str]] = {name: set() for name in WRITERS}
    for path in HARNESS.rglob("*.py"):
        if path.name == "store.py":
            continue
        text = path.read_text()
        for name in WRITERS:
            if re.search(rf"\b{name}\(", text):
                calls[name].add(str(path.relative_to(HARNESS.parent)))
    assert calls == WRITERS


@pytest.mark.integration
def test_gate_and_report_leave_the_runs_record_alone(tmp_path: Path) -> None:
    """A short run: the driver's account in driver.json, the command's in status.json; then
    gate and report re-judge it without touching run.json, status.json or driver.json."""
    out = tmp_path / "run"
    assert main(["run", "--cycles", "6", "--scenario", "clean_close", "--out", str(out)]) == EXIT_INCONCLUSIVE
    driver = json.loads((out / "driver.json").read_text())
    status = json.loads((out / "status.json").read_text())
    assert driver["state"] == status["state"] == "finished" and driver["cycles_done"] == 6
    record = {name: (out / name).read_bytes() for name in ("run.json", "status.json", "driver.json", "samples.jsonl")}
    summary = (out / "summary.json").read_bytes()
    assert main(["gate", str(out)]) == EXIT_INCONCLUSIVE
    assert (out / "summary.json").read_bytes() == summary
    assert main(["report", str(out)]) == 0
    assert {name: (out / name).read_bytes() for name in record} == record
