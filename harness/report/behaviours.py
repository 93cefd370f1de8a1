"""The behaviour x signal table: which client behaviour leaves what behind, per session
(with its 95% interval), blank where a behaviour was not named; the probe's own term last.
summary.md, report.html and JUnit read it from here."""

from __future__ import annotations

from dataclasses import dataclass

from harness.judge.analysis import DEGRADED, LEAK, Analysis
from harness.judge.rules import MetricResult, Named

PROBE = "probe (per cycle)"
WITH_PROBE = ("*: with its share of the probe's own turn: no probe-only waves came after the leak's onset "
              "to tell it apart")


@dataclass
class BehaviourTable:
    behaviours: list[str]
    rows: list[tuple[str, list[tuple[str, str]]]]  # signal; (rate, 95% CI) per behaviour and the probe
    note: str = ""  # what a starred rate means, where there is one

    @property
    def header(self) -> list[str]:
        return ["signal", *self.behaviours, PROBE]

    @property
    def narrow_header(self) -> list[str]:
        """The header, where a narrow column may break a name after its underscores."""
        return [name.replace("_", "_\u200b") for name in self.header]


def cell(effect: Named | None) -> tuple[str, str]:
    """(the rate, its 95% interval) as text; blanks where the behaviour was not named."""
    if effect is None:
        return "", ""
    low, high = effect.ci
    return f"{effect.rate:+.3g}" + ("*" if effect.with_probe else ""), f"[{low:.3g}, {high:.3g}]"


def attributed(a: Analysis) -> list[MetricResult]:
    return [a.metrics[name] for name in a.attributed if name in a.metrics]


def table(a: Analysis) -> BehaviourTable | None:
    metrics = attributed(a)
    if not metrics:
        return None
    behaviours = sorted({b for m in metrics for b in m.by_behaviour})
    rows = [(m.name, [*(cell(m.by_behaviour.get(b)) for b in behaviours), cell(m.probe)])
            for m in metrics]
    starred = any(n.with_probe for m in metrics for n in m.by_behaviour.values())
    return BehaviourTable(behaviours, rows, WITH_PROBE if starred else "")


def markdown(a: Analysis) -> list[str]:
    """summary.md's section: the table, or why there is none."""
    out = ["**Which behaviour leaves it behind** (per session, 95% CI; blank: not significant):", ""]
    t = table(a)
    if a.attribution is not None:
        return [f"**By behaviour:** {a.attribution}.", ""]
    if t is None:
        return ["**By behaviour:** no behaviour leaves anything behind.", ""]
    out += ["| " + " | ".join(t.header) + " |", "|" + "---|" * len(t.header)]
    out += [f"| {name} | " + " | ".join(f"{rate} {ci}".strip() for rate, ci in cells) + " |" for name, cells in t.rows]
    return [*out, *([""] + [t.note] if t.note else []), ""]


def blamed(a: Analysis) -> dict[str, list[str]]:
    """Each behaviour named on a failing signal, with those signals (JUnit's cases)."""
    out: dict[str, list[str]] = {}
    for m in attributed(a):
        if m.verdict in (LEAK, DEGRADED):
            for b in m.by_behaviour:
                out.setdefault(b, []).append(m.name)
    return out
