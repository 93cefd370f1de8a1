"""What a run is asked to do (the CLI's options, validated once)."""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError

PAGE = "page"  # the chat page in a real browser (harness/load/page.py), not a Locust file
MIXED = "mixed"  # every behaviour: blocks of one behaviour alone between standard-mix waves
BEHAVIOURS = (
    "clean_close", "abrupt_drop", "midreply_close", "audio_drop",
    "interrupt_close", "reconnect_storm", "page_session",
)
SCENARIOS = (MIXED, *BEHAVIOURS, PAGE)


def draw_seed() -> int:
    """A wave design's seed, for a run not given one (it is recorded in run.json)."""
    return random.randrange(1, 10**6)


def default_out() -> Path:
    return Path("reports") / datetime.now().strftime("%Y%m%d-%H%M%S")


@dataclass
class RunOptions:
    cycles: int = 50
    users: int = 10
    scenario: str = "mixed"
    warmup: int | None = None
    leaks: tuple[str, ...] = ()
    out: Path = field(default_factory=default_out)
    baseline: Path | None = None
    settle_timeout: float = 10.0
    reply_timeout: float = 10.0
    drain: float = 5.0  # seconds of idle after the last wave, re-sampling until grown state is released
    stop_early: bool = False
    server_cmd: str | None = None
    target: str | None = None
    pid: int | None = None
    metrics_url: str | None = None
    metrics: tuple[str, ...] = ()
    ws_path: str = "/client-ws"
    fake_llm: bool = False
    ready_timeout: float = 15.0
    workers: int = 0
    page_leak: str = ""
    inspect: str = ""  # "", "on" or "alloc": the census agent inside a --server-cmd server
    seed: int | None = None  # the wave design's order of blocks (mixed); drawn at start when not given

    @property
    def bundled(self) -> bool:
        return self.server_cmd is None and self.target is None

    def validate(self) -> None:
        self.validate_target()
        if self.cycles < 1:
            raise UsageError("--cycles must be at least 1")
        if self.drain < 0:
            raise UsageError("--drain must be 0 (no drain check) or more seconds")
        if self.baseline is not None and not self.baseline.exists():
            raise UsageError(f"baseline {self.baseline} does not exist")
        if self.out.exists() and any(self.out.iterdir()):
            raise UsageError(f"{self.out} already holds a run; choose another --out")

    def validate_target(self) -> None:
        """What `run` and `ui` both check."""
        if self.scenario == PAGE:
            if not self.bundled:
                raise UsageError("--scenario page drives the bundled server's chat page")
            if self.workers:
                raise UsageError("--scenario page runs in one browser; --workers does not apply")
        else:
            if self.scenario not in SCENARIOS:
                raise UsageError(f"unknown scenario {self.scenario!r}; choose one of: {', '.join(SCENARIOS)}")
            if self.page_leak:
                raise UsageError("--page-leak goes with --scenario page")
        if self.cycles < 0:
            raise UsageError("--cycles must be at least 1 (0: until stopped, in the UI)")
        if self.workers < 0:
            raise UsageError("--workers must be 0 (one process) or more")
        if self.users < 1:
            raise UsageError("--users must be at least 1")
        if self.warmup is not None and not 0 <= self.warmup < self.cycles:
            raise UsageError("--warmup must be between 0 and cycles - 1")
        if self.server_cmd and self.target:
            raise UsageError("give either --server-cmd or --target, not both")
        if self.leaks and not self.bundled:
            raise UsageError("--leak applies to the bundled server only")
        if self.inspect not in ("", "on", "alloc"):
            raise UsageError(f"--inspect takes no value or 'alloc', not {self.inspect!r}")
        if self.pid is not None and self.target is None:
            raise UsageError("--pid goes with --target (a server the harness did not start)")
        for pattern in self.metrics:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"--metric {pattern!r} is not a regular expression: {exc}") from None

    @property
    def label(self) -> str:
        """What run.json and the summary call the target."""
        return self.target or self.server_cmd or "bundled"

    def to_meta(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"] = str(self.out)
        data["baseline"] = str(self.baseline) if self.baseline else None
        data["leaks"] = list(self.leaks)
        data["metrics"] = list(self.metrics)
        data["target"] = self.label
        return data

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> RunOptions:
        """The options of a run.json; fields it lacks (an older or hand-made run) keep their defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values["out"] = Path(values.get("out", "."))
        if "baseline" in values:
            values["baseline"] = Path(values["baseline"])
        for name in ("leaks", "metrics"):
            values[name] = tuple(values.get(name) or ())
        target = values.pop("target", None)
        if target not in ("bundled", values.get("server_cmd")):
            values["target"] = target
        return cls(**values)
