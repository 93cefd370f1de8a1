"""The records that cross between stages, and the only code that knows their JSON layout.

A `CycleSample` is one line of samples.jsonl; a `RunStatus` is status.json; a `Target` is
what the target stage hands on (and what the Locust child reads back from run.json).
Pure data: no I/O here, so the judge can use these types without touching any stage.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.options import RunOptions

if TYPE_CHECKING:
    from harness.rundir.columns import Columns


class RecordError(ValueError):
    """A JSON document that is not the record it should be; the message says what is wrong."""


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None or type(value) is float or type(value) is int or _numeric(value):
        return value
    raise RecordError(f"{key!r} is not a number: {value!r}")


def _numeric(value: Any) -> bool:
    """A number, not a bool (numpy's too); the common types are tested before this is called."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RecordError(f"{what} is not a JSON object")
    return data


@dataclass(slots=True)
class Sessions:
    """What the U sessions of one wave did."""

    attempted: int = 0
    completed: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str, count: int = 1) -> None:
        """Count `count` sessions that failed for `reason`."""
        self.failed += count
        self.failures[reason] = self.failures.get(reason, 0) + count

    def merge(self, other: Sessions) -> None:
        self.attempted += other.attempted
        self.completed += other.completed
        for reason, n in other.failures.items():
            self.fail(reason, n)

    @property
    def ended(self) -> int:
        return self.completed + self.failed


@dataclass(slots=True)
class StepLatency:
    """A wave's latencies of one timed step (connect, first-token, reply, close), in ms."""

    p50: float | None = None
    p95: float | None = None
    max: float | None = None
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(slots=True)
class Probe:
    """One fresh client's text turn on the quiet server, after the wave."""

    ok: bool = False
    connect_ms: float | None = None
    first_token_ms: float | None = None
    reply_ms: float | None = None
    error: str | None = None


@dataclass(slots=True)
class Control:
    """The machine's own speed next to the probe, timed in the harness process (the control
    series): a fixed CPU-bound workload, a loopback round trip, and the cores busy outside
    the server and the harness over the cycle. A change here is the machine's, not the server's."""

    cpu_ms: float | None = None
    rtt_ms: float | None = None
    others_cpu: float | None = None


@dataclass(slots=True)
class ProcessFigures:
    """The server's process tree seen by psutil after quiesce."""

    rss_bytes: float = 0
    open_fds: float = 0
    threads: float = 0
    tcp: dict[str, int] = field(default_factory=dict)
    close_wait: float = 0
    idle_cpu: float = 0.0


@dataclass(slots=True)
class Census:
    """What the census agent counted inside the server after quiesce (issue: --inspect).

    `groups` maps `tasks:<coroutine> @ <file:line>`, `objects:<type>`,
    `entries:<Owner.attribute>` and `threads:<name>` to a count; `garbage` is what one
    gc.collect() found unreachable (by type; None where that census did not type it), which
    is not a leak."""

    groups: dict[str, float] = field(default_factory=dict)
    own_types: list[str] = field(default_factory=list)  # types defined in the server's own code
    wakes: dict[str, float] = field(default_factory=dict)  # tasks group -> s until its sleepers all wake
    garbage: dict[str, float] | None = None
    garbage_total: int = 0
    walked: int = 0
    skipped: int = 0
    took_ms: float | None = None
    loop_ms: float | None = None  # how long the slowest event loop took to answer
    gc_ms: float | None = None
    notes: list[str] = field(default_factory=list)
    alloc: list[dict[str, Any]] = field(default_factory=list)  # growing lines, with --inspect=alloc

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.alloc:
            del data["alloc"]
        if not self.wakes:
            del data["wakes"]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Census:
        """A census line as the agent answers it, or as samples.jsonl holds it."""
        data = _object(data, "'census'")
        alloc = data.get("alloc") or []
        if isinstance(alloc, dict):  # the agent's answer: {"lines": [...]} or {"error": ...}
            alloc = alloc.get("lines") or []
        return cls(
            groups=_figures(data.get("groups") or {}, "'census.groups'"),
            own_types=[str(t) for t in data.get("own_types") or []],
            wakes=_figures(data.get("wakes") or {}, "'census.wakes'"),
            garbage=None if data.get("garbage") is None else _figures(data["garbage"], "'census.garbage'"),
            garbage_total=int(_number(data, "garbage_total") or 0),
            walked=int(_number(data, "walked") or 0),
            skipped=int(_number(data, "skipped") or 0),
            took_ms=_number(data, "took_ms"),
            loop_ms=_number(data, "loop_ms"),
            gc_ms=_number(data, "gc_ms"),
            notes=[str(n) for n in data.get("notes") or []],
            alloc=[dict(_object(line, "an allocation line")) for line in alloc],
        )


_PROCESS_FIELDS = tuple(f.name for f in fields(ProcessFigures))
_CONTROL_FIELDS = tuple(f.name for f in fields(Control))


@dataclass(slots=True)
class CycleSample:
    """One cycle: the wave's sessions and latencies, quiesce, the probe, the server's figures."""

    cycle: int
    sessions: Sessions
    time: float = 0.0
    wave_s: float = 0.0
    latency: dict[str, StepLatency | None] = field(default_factory=dict)
    quiesce_ok: bool = True
    quiesce_waited_s: float = 0.0
    probe: Probe = field(default_factory=Probe)
    server: dict[str, float] = field(default_factory=dict)
    process: ProcessFigures | None = None
    warnings: list[str] = field(default_factory=list)
    page: dict[str, float] = field(default_factory=dict)  # the chat page's own figures
    census: Census | None = None  # inside the server, where the census agent runs
    composition: dict[str, int] = field(default_factory=dict)  # sessions per behaviour in this wave
    control: Control | None = None  # the machine's speed this cycle (observe/control.py)
    # Instruments that were asked for and failed this cycle ("census", "metrics <url>") -> why:
    # a failed instrument is never evidence of health, so the judge counts these.
    instruments_failed: dict[str, str] = field(default_factory=dict)
    # A drain sample (drain.jsonl): seconds after the last wave ended, idle since; no wave, no probe.
    drain_after_s: float | None = None
    # Seconds each phase of the cycle took (PHASES), so anyone can see where a cycle goes.
    phases: dict[str, float] = field(default_factory=dict)

    def step(self, name: str) -> StepLatency | None:
        """The wave's latencies of one step, or None when no session timed it."""
        return self.latency.get(name)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "cycle": self.cycle,
            "time": self.time,
            "wave_s": self.wave_s,
            "sessions": asdict(self.sessions),
            "latency": {k: v.to_dict() if v else None for k, v in self.latency.items()},
            "quiesce": {"ok": self.quiesce_ok, "waited_s": self.quiesce_waited_s},
            "probe": asdict(self.probe),
            "server": dict(self.server),
            "process": asdict(self.process) if self.process else {},
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.page:
            data["page"] = dict(self.page)
        if self.census is not None:
            data["census"] = self.census.to_dict()
        if self.composition:
            data["composition"] = dict(self.composition)
        if self.control is not None:
            data["control"] = asdict(self.control)
        if self.instruments_failed:
            data["instruments_failed"] = dict(self.instruments_failed)
        if self.drain_after_s is not None:
            data["drain_after_s"] = self.drain_after_s
        if self.phases:
            data["phases"] = dict(self.phases)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> CycleSample:
        """Raises RecordError naming what is missing or wrong."""
        data = _object(data, "the line")
        if "cycle" not in data or "sessions" not in data:
            raise RecordError("not a cycle sample (no 'cycle' or 'sessions')")
        try:
            sessions = _object(data["sessions"], "'sessions'")
            latency = _object(data.get("latency") or {}, "'latency'")
            quiesce = _object(data.get("quiesce") or {}, "'quiesce'")
            probe = _object(data.get("probe") or {}, "'probe'")
            process = _object(data.get("process") or {}, "'process'")
            control = _object(data.get("control") or {}, "'control'")
            return cls(
                cycle=int(data["cycle"]),
                sessions=Sessions(
                    attempted=int(sessions.get("attempted", 0)),
                    completed=int(sessions.get("completed", 0)),
                    failed=int(sessions.get("failed", 0)),
                    failures={str(k): int(v) for k, v in (sessions.get("failures") or {}).items()},
                ),
                time=float(data.get("time") or 0.0),
                wave_s=float(data.get("wave_s") or 0.0),
                latency={str(name): _step(step) for name, step in latency.items()},
                quiesce_ok=bool(quiesce.get("ok", True)),
                quiesce_waited_s=float(quiesce.get("waited_s") or 0.0),
                probe=Probe(
                    ok=bool(probe.get("ok", False)),
                    connect_ms=_number(probe, "connect_ms"),
                    first_token_ms=_number(probe, "first_token_ms"),
                    reply_ms=_number(probe, "reply_ms"),
                    error=None if probe.get("error") is None else str(probe["error"]),
                ),
                server=_figures(data.get("server") or {}, "'server'"),
                process=ProcessFigures(
                    **{name: process[name] for name in _PROCESS_FIELDS if name in process}
                ) if process else None,
                warnings=[str(w) for w in data.get("warnings") or []],
                page=_figures(data.get("page") or {}, "'page'"),
                census=Census.from_dict(data["census"]) if data.get("census") else None,
                composition={sys.intern(str(k)): int(v)
                             for k, v in _object(data.get("composition") or {}, "'composition'").items()},
                control=Control(**{name: _number(control, name) for name in _CONTROL_FIELDS}) if control else None,
                instruments_failed={str(k): str(v) for k, v in
                                    _object(data.get("instruments_failed") or {}, "'instruments_failed'").items()},
                drain_after_s=_number(data, "drain_after_s"),
                phases=_figures(data.get("phases") or {}, "'phases'"),
            )
        except (TypeError, AttributeError) as exc:
            raise RecordError(f"malformed cycle sample ({exc})") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> CycleSample:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"not JSON ({exc.msg})") from None
        return cls.from_dict(data)


def _step(data: Any) -> StepLatency | None:
    if not data:
        return None
    data = _object(data, "a step's latency")
    count = _number(data, "count")
    return StepLatency(_number(data, "p50"), _number(data, "p95"), _number(data, "max"),
                       None if count is None else int(count))


def _figures(data: Any, what: str) -> dict[str, float]:
    """Names and numbers; each name interned, so a long run's samples share one copy of it."""
    if not data:
        return {}
    intern = sys.intern
    return {intern(str(k)): float(v) for k, v in _object(data, what).items()
            if type(v) is float or type(v) is int or _numeric(v)}


# A cycle's phases in the order they run (CycleSample.phases, seconds each): the wave; the wait
# for the server to report no clients; the process figures (with the idle-CPU window); the
# metrics scrape; the census; the probe with the control series around it.
PHASES = ("wave", "quiesce", "process", "scrape", "census", "probe")


@dataclass
class RunStatus:
    """How a run ended: finished, decided (stopped early), stopped, aborted, server-died, ..."""

    state: str
    message: str
    cycles_done: int | None = None
    cycles_asked: int | None = None
    users: int | None = None
    decided_at: int | None = None

    ENDED_WELL = ("finished", "decided")

    @property
    def ended_well(self) -> bool:
        return self.state in self.ENDED_WELL

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any) -> RunStatus:
        data = _object(data, "the status")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known} | {
            "state": str(data.get("state", "unknown")), "message": str(data.get("message", "")),
        })


@dataclass(frozen=True)
class Target:
    """What the target stage hands on: where the server listens and where its figures are."""

    ws_url: str
    pid: int | None = None
    metrics_url: str | None = None  # Prometheus text; None: the server has none
    resources_url: str | None = None  # a JSON object of numbers (the bundled /debug/resources)
    extra_metrics_urls: tuple[str, ...] = ()  # e.g. the fake LLM's /metrics
    patterns: tuple[str, ...] = ()  # keep only figures whose name matches one of these
    census_url: str | None = None  # the census agent inside the server, if it runs there
    census_token: str | None = None
    census_alloc: bool = False  # tracemalloc is on in the server (--inspect=alloc)
    census_note: str | None = None  # why there is no census, or which process it sees

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra_metrics_urls"] = list(self.extra_metrics_urls)
        data["patterns"] = list(self.patterns)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Target:
        data = _object(data, "the target")
        if not isinstance(data.get("ws_url"), str):
            raise RecordError("the target has no 'ws_url'")
        return cls(
            ws_url=data["ws_url"],
            pid=data.get("pid"),
            metrics_url=data.get("metrics_url"),
            resources_url=data.get("resources_url"),
            extra_metrics_urls=tuple(data.get("extra_metrics_urls") or ()),
            patterns=tuple(data.get("patterns") or ()),
            census_url=data.get("census_url"),
            census_token=data.get("census_token"),
            census_alloc=bool(data.get("census_alloc")),
            census_note=data.get("census_note"),
        )


@dataclass
class RunMeta:
    """run.json: what the run was asked to do, and the target it ran against."""

    options: RunOptions
    target: Target | None = None
    started: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.options.to_meta()
        data["endpoint"] = self.target.to_dict() if self.target else None
        data["started"] = self.started
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RunMeta:
        data = _object(data, "run.json")
        endpoint = data.get("endpoint")
        try:
            options = RunOptions.from_meta(data)
        except (TypeError, ValueError) as exc:
            raise RecordError(f"options not understood ({exc})") from None
        return cls(options, Target.from_dict(endpoint) if endpoint else None, data.get("started"))


@dataclass
class Run:
    """A run as the judge and the reports see it, live or loaded from its directory."""

    path: Path
    samples: list[CycleSample] | Columns  # Columns: a saved run read for the judge alone (`harness gate`)
    status: RunStatus | None = None
    meta: RunMeta | None = None
    warnings: list[str] = field(default_factory=list)
    drain: list[CycleSample] = field(default_factory=list)  # re-sampled while idle after the last wave

    @property
    def label(self) -> str:
        leaks = self.meta.options.leaks if self.meta else ()
        return f"{self.path.name} ({'leak ' + ','.join(leaks) if leaks else 'fixed'})"
