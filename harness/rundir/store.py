"""Reading a run directory back: samples.jsonl, status.json, run.json."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.load.driver import SAMPLES_FILE, STATUS_FILE

logger = logging.getLogger("harness.rundir.store")

META_FILE = "run.json"
SUMMARY_FILE = "summary.json"


@dataclass
class Run:
    path: Path
    lines: list[dict[str, Any]]
    status: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        leaks = self.meta.get("leaks") or []
        return f"{self.path.name} ({'leak ' + ','.join(leaks) if leaks else 'fixed'})"


def read_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else None


def load_run(path: Path) -> Run:
    """A saved run; a truncated or malformed line is skipped with a warning, not fatal."""
    samples = path / SAMPLES_FILE
    if not samples.exists():
        raise UsageError(f"{path} is not a run directory: no {SAMPLES_FILE}")
    lines: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, raw in enumerate(samples.read_text().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            warnings.append(f"{samples}:{number}: malformed line skipped")
            continue
        if not isinstance(line, dict) or "cycle" not in line or "sessions" not in line:
            warnings.append(f"{samples}:{number}: not a cycle sample, skipped")
            continue
        lines.append(line)
    return Run(path, lines, read_json(path / STATUS_FILE), read_json(path / META_FILE) or {}, warnings)
