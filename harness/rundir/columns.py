"""A run's samples as columns: one float array per figure, NaN where a cycle has none.

The judge reads a run figure by figure, so it reads it from here, whether the samples came
one by one from a live run (`Columns.of`) or from a saved samples.jsonl (`read_columns`,
which never builds a `CycleSample`: a 100,000-cycle soak costs a few arrays, not an object
per sample). The few things that are not numbers (session failures, probe errors, failed
instruments; the census's own types, typed garbage, notes, allocation lines and when its
sleeping task groups wake) are kept
only for the cycles that have them. A process's TCP states by name are not kept: no
series reads them (`process.close_wait` is its own figure).

Figures are named as series.py names them: a server figure as the server calls it,
`process.<field>`, `probe.<field>`, `page.<figure>`, `control.<field>`, `census.<group>`,
`wave.<step>.<stat>`. `meta` holds the rest: `cycle`, `sessions.<field>`, `probe.ok`,
`composition.<behaviour>`, `phases.<phase>`, `drain_after_s`, and `census` / `process` /
`control`, 1 where the cycle had one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from harness.rundir.records import _CONTROL_FIELDS, _PROCESS_FIELDS, CycleSample, StepLatency, _figures

_PLAIN = frozenset({float, int, type(None)})
_STATS = ("p50", "p95", "max", "count")
_PROBE = ("connect_ms", "first_token_ms", "reply_ms")
# section -> (store, prefix of its figures' names there)
SECTIONS = {"server": ("figures", ""), "page": ("figures", "page."), "census": ("figures", "census."),
            "composition": ("meta", "composition."), "phases": ("meta", "phases.")}
_NUMERIC_PROCESS = tuple(name for name in _PROCESS_FIELDS if name != "tcp")
assert set(_STATS) == set(StepLatency.__slots__)


def _floats(values: list[Any]) -> np.ndarray:
    """These values as floats, NaN for None; ValueError for anything but a number (a bool is
    none, as CycleSample reads it; a numpy number in a live sample is one)."""
    if not set(map(type, values)) <= _PLAIN and not all(
            v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))
            for v in values):
        raise ValueError("not a number")
    return np.array(values, dtype=float)


def _sections(docs: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Each document's section `key` ({} where it has none); ValueError if one is no object."""
    out = [doc.get(key) or {} for doc in docs]
    if not set(map(type, out)) <= {dict}:
        raise ValueError(f"{key!r} is not an object")
    return out


@dataclass
class Columns:
    """Samples as arrays (see the module's docstring); `columns[a:b]` is the cycles a..b."""

    figures: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)  # section -> its figures, in order of appearance
    failures: dict[int, dict[str, int]] = field(default_factory=dict)  # index -> failed sessions by reason
    probe_errors: dict[int, str] = field(default_factory=dict)
    instruments_failed: dict[int, dict[str, str]] = field(default_factory=dict)
    own_types: dict[int, tuple[str, ...]] = field(default_factory=dict)  # census's types of the server's code
    census_garbage: dict[int, dict[str, float]] = field(default_factory=dict)  # where a census typed it
    census_alloc: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # growing lines (--inspect=alloc)
    census_notes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    census_wakes: dict[int, dict[str, float]] = field(default_factory=dict)  # tasks group -> s until all wake
    length: int = 0
    _present: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return self.length

    @classmethod
    def of(cls, samples: Iterable[CycleSample]) -> Columns:
        """The columns of samples already in memory (a live run's, a drain check's)."""
        return Growing().of(list(samples))

    def figure(self, name: str) -> np.ndarray:
        """The series `name` (all NaN where no cycle has it). A census group is 0 in a census
        that did not list it (none left), NaN in a cycle with no census."""
        found = self.figures.get(name)
        if found is None:
            return np.full(self.length, np.nan)
        if name.startswith("census."):
            return np.where(np.isnan(found) & self.has("census"), 0.0, found)
        return found

    def column(self, name: str, default: float = np.nan) -> np.ndarray:
        """A `meta` column (the default where no cycle has it); a behaviour's sessions are 0 in
        a wave that did not run it."""
        found = self.meta.get(name)
        if found is None:
            return np.full(self.length, default)
        if name.startswith("composition."):
            return np.nan_to_num(found, nan=0.0)
        return found

    @property
    def cycle(self) -> np.ndarray:
        return self.column("cycle")

    def has(self, what: str) -> np.ndarray:
        """Which cycles had a census, process figures or a control ("census", "process", "control")."""
        return self.column(what, 0.0) > 0

    def section(self, name: str) -> list[str]:
        """The figures of one section (`SECTIONS`) that these cycles have, in order of first
        appearance in the run."""
        if name not in self._present:
            store, prefix = SECTIONS[name]
            found = getattr(self, store)
            self._present[name] = [key for key in self.names.get(name, []) if not np.isnan(found[prefix + key]).all()]
        return self._present[name]

    def compositions(self) -> tuple[list[str], np.ndarray]:
        """(behaviours, sessions of each in each cycle)."""
        names = self.section("composition")
        if not names:
            return names, np.zeros((self.length, 0))
        return names, np.column_stack([self.column(f"composition.{b}") for b in names])

    def __getitem__(self, part: slice) -> Columns:
        if not isinstance(part, slice):
            raise TypeError("Columns are sliced, not indexed: read a figure with figure()")
        indices = range(self.length)[part]
        if part.step not in (None, 1):
            raise ValueError("Columns take contiguous slices only")
        start, stop = indices.start, indices.stop

        def inside(sparse: dict[int, Any]) -> dict[int, Any]:
            return {i - start: v for i, v in sparse.items() if start <= i < stop}

        return Columns(
            {k: v[start:stop] for k, v in self.figures.items()},
            {k: v[start:stop] for k, v in self.meta.items()},
            self.names, inside(self.failures), inside(self.probe_errors), inside(self.instruments_failed),
            inside(self.own_types), inside(self.census_garbage), inside(self.census_alloc),
            inside(self.census_notes), inside(self.census_wakes), len(indices),
        )


class ColumnsBuilder:
    """Takes documents (samples.jsonl's lines, parsed) a chunk at a time; `build` joins them.
    `add` raises ValueError, adding nothing, for a chunk with anything that is not a sample."""

    def __init__(self) -> None:
        self.length = 0
        self.parts: dict[tuple[str, str], list[tuple[int, np.ndarray]]] = {}  # (store, name) -> pieces
        self.names: dict[str, dict[str, None]] = {}
        self.sparse: dict[str, dict[int, Any]] = {
            "failures": {}, "probe_errors": {}, "instruments_failed": {}, "own_types": {},
            "census_garbage": {}, "census_alloc": {}, "census_notes": {}, "census_wakes": {}}
        self.interned: dict[tuple[str, ...], tuple[str, ...]] = {}

    def add(self, docs: list[Any]) -> None:
        staged: list[tuple[tuple[str, str], np.ndarray]] = []
        sparse: dict[str, dict[int, Any]] = {key: {} for key in self.sparse}
        names: dict[str, list[str]] = {}

        def put(store: str, name: str, values: list[Any]) -> None:
            staged.append(((store, name), _floats(values)))

        def keyed(section: str, store: str, prefix: str, rows: list[dict[str, Any]]) -> None:
            keys = list(dict.fromkeys(chain.from_iterable(rows)))
            names[section] = keys
            for key in keys:
                put(store, prefix + key, [row.get(key) for row in rows])

        if not set(map(type, docs)) <= {dict} or any("cycle" not in d or "sessions" not in d for d in docs):
            raise ValueError("not a cycle sample")
        for key in ("cycle", "time", "wave_s", "drain_after_s"):
            put("meta", key, [d.get(key) for d in docs])
        sessions = _sections(docs, "sessions")
        for key in ("attempted", "completed", "failed"):
            put("meta", f"sessions.{key}", [s.get(key, 0) for s in sessions])
        for i, s in enumerate(sessions):
            if s.get("failures"):
                sparse["failures"][i] = {str(k): int(v) for k, v in s["failures"].items()}
        probes = _sections(docs, "probe")
        put("meta", "probe.ok", [1.0 if p.get("ok") else 0.0 for p in probes])
        for key in _PROBE:
            put("figures", f"probe.{key}", [p.get(key) for p in probes])
        for i, p in enumerate(probes):
            if p.get("error") is not None:
                sparse["probe_errors"][i] = str(p["error"])
        quiesce = _sections(docs, "quiesce")
        put("meta", "quiesce.ok", [1.0 if q.get("ok", True) else 0.0 for q in quiesce])
        keyed("server", "figures", "", _sections(docs, "server"))
        keyed("page", "figures", "page.", _sections(docs, "page"))
        keyed("composition", "meta", "composition.", _sections(docs, "composition"))
        keyed("phases", "meta", "phases.", _sections(docs, "phases"))
        for section, fields_ in (("process", _NUMERIC_PROCESS), ("control", _CONTROL_FIELDS)):
            rows = _sections(docs, section)
            put("meta", section, [1.0 if row else 0.0 for row in rows])
            for key in fields_:
                put("figures", f"{section}.{key}", [row.get(key) for row in rows])
        latency = _sections(docs, "latency")
        steps = list(dict.fromkeys(chain.from_iterable(latency)))
        names["latency"] = steps
        for step in steps:
            of_step = [row.get(step) or {} for row in latency]
            if not set(map(type, of_step)) <= {dict}:
                raise ValueError("a step's latency is not an object")
            for stat in _STATS:
                put("figures", f"wave.{step}.{stat}", [row.get(stat) for row in of_step])
        census = _sections(docs, "census")
        put("meta", "census", [1.0 if c else 0.0 for c in census])
        for key in ("took_ms", "loop_ms", "gc_ms", "walked", "skipped", "garbage_total"):
            put("meta", f"census.{key}", [c.get(key) for c in census])
        keyed("census", "figures", "census.", [c.get("groups") or {} for c in census])
        for i, c in enumerate(census):
            if c.get("own_types"):
                sparse["own_types"][i] = self.intern(tuple(map(str, c["own_types"])))
            if c.get("garbage") is not None:
                sparse["census_garbage"][i] = _figures(c["garbage"], "'census.garbage'")
            alloc = c.get("alloc") or []
            if isinstance(alloc, dict):  # the agent's answer: {"lines": [...]} or {"error": ...}
                alloc = alloc.get("lines") or []
            if alloc:
                sparse["census_alloc"][i] = [dict(line) for line in alloc]
            if c.get("notes"):
                sparse["census_notes"][i] = self.intern(tuple(map(str, c["notes"])))
            if c.get("wakes"):
                sparse["census_wakes"][i] = _figures(c["wakes"], "'census.wakes'")
        for i, d in enumerate(docs):
            if d.get("instruments_failed"):
                failed = d["instruments_failed"]
                if not isinstance(failed, dict):
                    raise ValueError("'instruments_failed' is not an object")
                sparse["instruments_failed"][i] = {str(k): str(v) for k, v in failed.items()}
        # Every check passed: only now does the chunk become part of the columns.
        for key, values in staged:
            self.parts.setdefault(key, []).append((self.length, values))
        for section, keys in names.items():
            self.names.setdefault(section, {}).update(dict.fromkeys(keys))
        for key, found in sparse.items():
            self.sparse[key].update({self.length + i: v for i, v in found.items()})
        self.length += len(docs)

    def intern(self, strings: tuple[str, ...]) -> tuple[str, ...]:
        """One copy of a tuple that every census repeats (own types, notes)."""
        return self.interned.setdefault(strings, strings)

    def build(self) -> Columns:
        """The columns so far; the builder can take more chunks after (`Growing`)."""
        columns = Columns(length=self.length, names={k: list(v) for k, v in self.names.items()},
                          **{k: dict(v) for k, v in self.sparse.items()})  # type: ignore[arg-type]
        for key, pieces in self.parts.items():
            full = np.full(self.length, np.nan)
            for start, values in pieces:
                full[start:start + len(values)] = values
            getattr(columns, key[0])[key[1]] = full
            self.parts[key] = [(0, full)]  # the next build copies one piece, not every chunk since the start
        return columns


class Growing:
    """The columns of a live run's samples, which arrive one at a time: each call takes in only
    the samples that came since the last (the judge's looks, the Leaks tab's polls)."""

    def __init__(self) -> None:
        self.builder = ColumnsBuilder()
        self.columns: Columns | None = None

    def of(self, samples: list[CycleSample]) -> Columns:
        """The columns of `samples`, of which those taken in before must be the first."""
        new = samples[self.builder.length:]
        if new or self.columns is None:
            self.builder.add([sample.to_dict() for sample in new])
            self.columns = self.builder.build()
        return self.columns
