"""The fault catalogue: each fault reverts one part of the seed's disconnect fix.

A fault switches off one cleanup step *and* its share of the last-client residue sweep
(the sweep was part of the fix too), so its leak survives quiesce the way it did before
the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

FAULTS: dict[str, str] = {
    "tasks": "disconnect neither cancels nor awaits the turn; the orphan never learns its "
    "client left and keeps generating on the event loop",
    "contexts": "the context is popped before it is looked up, so close() never runs: "
    "its TTS worker task lives on, and keeps the context and its log file handle alive",
    "buffers": "received_data_buffers is never popped: each client's audio stays behind",
    "heartbeats": "_last_heartbeat is never popped",
    "handlers": "the message handler is never cleaned, and dispatch walks every stale "
    "entry, so each message gets slower",
    "wakeword": "the wake-word manager's per-client state is never cleaned",
    "memory": "one agent memory is shared by every client and never reset (as upstream): "
    "the prompt, and reply latency, grow with every session",
}


class UnknownFault(ValueError):
    """A fault name that is not in the catalogue."""


@dataclass(frozen=True)
class Faults:
    """The set of enabled faults; `"x" in faults` asks whether fault x is on."""

    enabled: frozenset[str] = frozenset()

    def __contains__(self, name: object) -> bool:
        return name in self.enabled

    def __bool__(self) -> bool:
        return bool(self.enabled)

    def __str__(self) -> str:
        return ",".join(sorted(self.enabled)) or "none"


def parse_faults(names: list[str] | tuple[str, ...]) -> Faults:
    """Validate fault names; `all` means every fault (the pre-fix server)."""
    enabled: set[str] = set()
    for raw in names:
        for name in filter(None, (part.strip() for part in raw.split(","))):
            if name == "all":
                enabled.update(FAULTS)
            elif name in FAULTS:
                enabled.add(name)
            else:
                known = ", ".join([*FAULTS, "all"])
                raise UnknownFault(f"unknown fault {name!r}; known faults: {known}")
    return Faults(frozenset(enabled))
