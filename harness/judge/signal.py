"""A signal's name, parsed once: where its figure sits in a sample, and what it is.

Names, as summary.json and the reports write them: a server figure as the server calls it
(`chat_asyncio_tasks`), `process.<field>`, `probe.<field>`, `page.<figure>`,
`control.<field>`, `wave.<step>.<stat>`, `census.<kind>:<group>` (`<group> @ <site>` for
tasks and orphans), `memory.rss`, and a cumulative server figure judged per cycle
(`<counter>:per_cycle`, `<histogram>:mean_per_cycle`). Only this module takes a name apart;
everyone else asks a `Signal`. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

from harness.rundir.records import Control, Probe, ProcessFigures

_FIELDS = {
    "process": {f.name for f in fields(ProcessFigures)},
    "probe": {f.name for f in fields(Probe)},
    "control": {f.name for f in fields(Control)},
}
DERIVED = ("per_cycle", "mean_per_cycle")
CENSUS_KINDS = {
    "tasks": "asyncio tasks",
    "orphans": "asyncio tasks holding a closed connection",
    "objects": "objects",
    "entries": "entries of",
    "threads": "threads",
    "handles": "active handles",
    "listeners": "listeners of",
    "sockets": "socket.io sockets of namespace",
    "rooms": "socket.io rooms of namespace",
    "room": "members of socket.io room",
}
# Prometheus series that are parts of a histogram or a counter's companions, not levels.
_CUMULATIVE_SUFFIXES = ("_total", "_created", "_count", "_sum", "_bucket")


@dataclass(frozen=True)
class Signal:
    """One signal: `source` is where its figure sits ("server", "process", "probe", "page",
    "control", "census", "wave" or "memory"), `figure` what it is called there (a server
    figure, a field, a census group, "<step>.<stat>"), `derived` what is judged of a
    cumulative server figure ("per_cycle", "mean_per_cycle", or "")."""

    name: str
    source: str
    figure: str
    derived: str = ""

    @staticmethod
    @cache
    def parse(name: str) -> Signal:
        base, colon, suffix = name.rpartition(":")
        if colon and suffix in DERIVED and not name.startswith("census."):
            return Signal(name, "server", base, suffix)
        section, dot, rest = name.partition(".")
        if dot and rest and (section in ("page", "census", "wave", "memory") or rest in _FIELDS.get(section, ())):
            return Signal(name, section, rest)
        return Signal(name, "server", name)

    # -- census groups: `census.<kind>:<group>`, a task's `<coroutine> @ <site>` --------------

    @property
    def census_kind(self) -> str:
        return self.figure.partition(":")[0] if self.source == "census" else ""

    @property
    def group(self) -> str:
        """The census group without its kind: a type, a container, a coroutine (and site)."""
        return self.figure.partition(":")[2] if self.source == "census" else ""

    @property
    def orphans(self) -> bool:
        """A census group of tasks that hold a closed connection: work for a client that is gone."""
        return self.census_kind == "orphans"

    @property
    def site(self) -> str:
        """Where a task group's coroutine is suspended, or ""."""
        return self.group.partition(" @ ")[2]

    @property
    def in_a_call(self) -> bool:
        """A binding of a call's scope (a Node connection handler's closure, one per call)."""
        return ".(closure)." in self.group

    # -- how it is said ---------------------------------------------------------------------

    @property
    def label(self) -> str:
        """How the findings name it: `census.tasks:Watcher.watch @ app/watch.py:42` is
        "asyncio tasks `Watcher.watch` suspended at app/watch.py:42"; others by their name."""
        if self.source != "census":
            return self.name
        if self.census_kind == "tasks":
            return f"asyncio tasks `{self.group.partition(' @ ')[0]}` suspended at {self.site}"
        if self.census_kind == "orphans":
            return (f"asyncio tasks `{self.group.partition(' @ ')[0]}` suspended at {self.site} "
                    "that hold a closed connection")
        return f"{CENSUS_KINDS.get(self.census_kind, self.census_kind)} `{self.group}`"

    @property
    def short(self) -> str:
        """A short name for a table's column: a census type's last part, a task's coroutine,
        a server figure without its `chat_`."""
        if self.source == "census":
            group = self.group.partition(" @ ")[0]
            if self.orphans:
                return f"{group} (orphans)"  # beside the same coroutine's tasks
            return group.rsplit(".", 1)[-1] if self.census_kind == "objects" else group
        if self.source == "server" and not self.derived:
            return self.figure.removeprefix("chat_")
        return self.name

    # -- the step and statistic of a wave's latency -----------------------------------------

    @property
    def step(self) -> str:
        return self.figure.rpartition(".")[0] if self.source == "wave" else ""

    @property
    def stat(self) -> str:
        return self.figure.rpartition(".")[2] if self.source == "wave" else ""


def figure_kind(figure: str) -> str:
    """What a server figure is, from its Prometheus name: "counter" (`*_total`), "part" (a
    histogram's `_sum`, `_count` or `_bucket`, a counter's `_created`), or "gauge"."""
    base = figure.split("{")[0]
    if base.endswith("_total"):
        return "counter"
    if base.endswith(_CUMULATIVE_SUFFIXES):
        return "part"
    return "gauge"


def histogram_of(figure: str) -> str:
    """A histogram's name, from the name of its `_sum` series ("" for any other figure)."""
    return figure.removesuffix("_sum") if figure.endswith("_sum") else ""


def own_bundled_figure(figure: str) -> bool:
    """A figure of the bundled server's own counters (`chat_*`)."""
    return figure.startswith("chat_")
