"""The census agent's garbage: every census collects it first, so only live objects are
counted; the 1st, 11th, ... census also counts it by type, and still frees it."""

from __future__ import annotations

import gc
import sys
import weakref

import pytest

from harness.target.census import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
import _harness_census as agent  # noqa: E402  (the agent's directory, as sitecustomize has it)

sys.path.remove(str(AGENT_DIR))


class Cyclic:
    """An instance of the server's own class that only a reference cycle keeps."""

    def __init__(self) -> None:
        self.me = self
        self.frames = [self]


def garbage(n: int) -> list[weakref.ref[Cyclic]]:
    made = [Cyclic() for _ in range(n)]
    return [weakref.ref(obj) for obj in made]


@pytest.fixture
def first_census(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent, "_censuses", 0)


def test_garbage_is_typed_on_every_tenth_census_and_always_freed(first_census: None) -> None:
    own = f"{__name__}.Cyclic"
    gc.disable()  # the collector must not free the cycles before the census does
    try:
        live = [Cyclic() for _ in range(3)]
        refs = garbage(40)
        typed = agent.census(budget=10.0)
        assert typed["garbage"][own] == 40 and typed["garbage_total"] >= 40 * 2  # each: itself and its list
        assert typed["groups"][f"objects:{own}"] == 3  # the live ones only
        assert all(ref() is None for ref in refs) and not any(type(obj) is Cyclic for obj in gc.garbage)
        for n in range(1, agent.GARBAGE_TYPED_EVERY):
            refs = garbage(7)
            plain = agent.census(budget=10.0)
            assert plain["garbage"] is None, n
            assert plain["garbage_total"] >= 7 * 2 and plain["groups"][f"objects:{own}"] == 3
            assert all(ref() is None for ref in refs)
        refs = garbage(5)
        assert agent.census(budget=10.0)["garbage"][own] == 5
        assert all(ref() is None for ref in refs)
    finally:
        gc.enable()
    del live


def test_instances_of_own_classes_are_read_for_their_containers(first_census: None) -> None:
    """Counted by type in one pass, and only the own instances are visited for containers."""
    kept = [Cyclic() for _ in range(4)]
    result = agent.census(budget=10.0)
    assert result["groups"]["entries:Cyclic.frames"] == 4
    assert f"{__name__}.Cyclic" in result["own_types"]
    assert result["walked"] >= len(kept) and result["skipped"] == 0
    del kept
