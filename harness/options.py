"""What a run is asked to do (the CLI's options, validated once)."""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError

CHAT_PATH = "/client-ws"  # where the bundled server, and a --server-cmd server by default, speaks the chat
READY_TIMEOUT_S = 15.0  # for a started server to listen
SETTLE_TIMEOUT_S = 10.0  # for the server to report no clients after a wave
DRAIN_FALLING_MAX_S = 60.0  # past --drain, a level still falling, or asleep, is waited for, up to this in all
REPLY_TIMEOUT_S = 10.0  # for a reply, before its session fails
PAGE = "page"  # the chat page in a real browser (harness/load/page.py), not a Locust file
MIXED = "mixed"  # every behaviour: blocks of one behaviour alone between standard-mix waves
OLV = "olv"  # the bundled server's protocol (Open-LLM-VTuber's), the default
BUILT_IN_PROTOCOLS = (OLV, "json")
TRY = ("run", "ui", "try")  # the options `harness try` takes too: the target and how to speak to it
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


def fault_names() -> list[str]:
    """The bundled server's faults, and `all` (the choices of --leak)."""
    from server.faults import FAULTS

    return [*FAULTS, "all"]


def cli(help: str = "", *, commands: tuple[str, ...] = ("run", "ui"), **click: Any) -> dict[str, Any]:
    """A field's command-line option, as harness/cli.py makes it: `help`, the commands that
    take it, and what Click needs beyond the field's name and default (`flag`: the option's
    own name where it is not the field's; `choices` (a tuple, or a function giving one);
    `multiple`, `is_flag`, `type`, `path` (click.Path's arguments), `show_default`,
    `metavar`, `flag_value`; and `ui`: what differs in `harness ui`). Env vars follow
    Click: HARNESS_<COMMAND>_<FIELD>."""
    return {"cli": {"help": help, "commands": commands, **click}}


@dataclass
class RunOptions:
    """What a run is asked to do: each field once, with its default and its command-line
    option (`cli`, in the order `harness run --help` lists them)."""

    cycles: int = field(default=50, metadata=cli(
        "Waves of open-and-close.", show_default=True,
        ui={"default": 0, "help": "Cycles per test; 0 cycles until stopped."}))
    leaks: tuple[str, ...] = field(default=(), metadata=cli(
        "Enable a fault in the bundled server (repeatable).", flag="--leak", multiple=True, choices=fault_names,
        commands=TRY))
    server_cmd: str | None = field(default=None, metadata=cli(
        'Start your server: "CMD ... {port}" ({llm_url} too, with --fake-llm).', commands=TRY))
    target: str | None = field(default=None, metadata=cli(
        "A server already running: ws://HOST:PORT/PATH.", commands=TRY))
    pid: int | None = field(default=None, metadata=cli("With --target: the server process to sample.", type=int))
    metrics_url: str | None = field(default=None, metadata=cli("Prometheus endpoint of your server ({port} allowed)."))
    metrics: tuple[str, ...] = field(default=(), metadata=cli(
        "Track only figures matching this regex (repeatable).", flag="--metric", multiple=True))
    ws_path: str = field(default=CHAT_PATH, metadata=cli(
        "With --server-cmd: the chat path.", show_default=True, commands=TRY))
    protocol: str = field(default=OLV, metadata=cli(
        "The chat protocol: olv (Open-LLM-VTuber's, the bundled server's), json, or a profile file (.toml); "
        "`harness try` checks one.", show_default=True, commands=TRY))
    fake_llm: bool = field(default=False, metadata=cli(
        "Start `harness fake-llm` too and sample its prompt sizes.", is_flag=True, commands=TRY))
    ready_timeout: float = field(default=READY_TIMEOUT_S, metadata=cli(
        "Seconds for the server to start listening.", show_default=True, commands=TRY))
    inspect: str = field(default="", metadata=cli(  # "", "on" or "alloc": the census agent inside the server
        "See inside a Python or Node --server-cmd server: tasks, objects, containers, listeners, threads "
        "(always on for the bundled server); --inspect=alloc adds tracemalloc's growing lines (Python).",
        is_flag=False, flag_value="on", metavar="[alloc]", choices=("", "on", "alloc"), show_default=False))
    scenario: str = field(default=MIXED, metadata=cli(choices=SCENARIOS, show_default=True))
    users: int = field(default=10, metadata=cli("Sessions per wave (U).", show_default=True))
    seed: int | None = field(default=None, metadata=cli(  # the order of blocks (mixed); drawn at start when not given
        "The wave design's seed: the order of the behaviour blocks [default: drawn; in run.json].", type=int))
    warmup: int | None = field(default=None, metadata=cli(
        "Cycles left out of the verdicts [default: a tenth, 1..5].", type=int, commands=("run",)))
    out: Path = field(default_factory=default_out, metadata=cli(
        "Run directory [default: reports/<timestamp>].", path={}, default=None,
        ui={"help": "Run directory of the first test [default: reports/ui-<timestamp>]."}))
    baseline: Path | None = field(default=None, metadata=cli(
        "A summary.json to gate against.", path={"exists": True, "dir_okay": False}, commands=("run",)))
    settle_timeout: float = field(default=SETTLE_TIMEOUT_S, metadata=cli(
        "Seconds to wait for the server to report no clients.", show_default=True, commands=("run",)))
    reply_timeout: float = field(default=REPLY_TIMEOUT_S, metadata=cli(
        "Seconds a reply may take before the session fails.", show_default=True, commands=("run", "try")))
    stop_early: bool = field(default=False, metadata=cli(
        "Stop as soon as a failing verdict can no longer change.", is_flag=True, commands=("run",)))
    drain: float = field(default=5.0, metadata=cli(  # idle after the last wave until grown state is released
        "Seconds of idle after the last wave, re-sampling until what grew is released (0: none); "
        "a level still falling then, or tasks asleep until a timer, is waited for, up to 60 s.",
        show_default=True, commands=("run",)))
    workers: int = field(default=0, metadata=cli(
        "Run on a Locust master with N local workers.", show_default=True, commands=("run",)))
    page_leak: str = field(default="", metadata=cli(
        "With --scenario page: the page's pre-fix behaviour (?leak=...).",
        choices=("", "subscriptions", "connections"), commands=("run",)))

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
        if self.protocol not in BUILT_IN_PROTOCOLS:
            profile = Path(self.protocol)
            if not profile.is_file():
                raise UsageError(f"--protocol {self.protocol!r}: one of {', '.join(BUILT_IN_PROTOCOLS)}, "
                                 "or a profile file (.toml) that exists")
            self.protocol = str(profile.resolve())  # the Locust child reads it from run.json
        if self.protocol != OLV and self.bundled:
            raise UsageError(f"the bundled server speaks {OLV}; "
                             f"--protocol {self.protocol} needs --server-cmd or --target")
        if self.scenario == PAGE:
            if self.protocol != OLV:
                raise UsageError(f"--scenario page is the bundled server's chat page, which speaks {OLV}")
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
