"""The census agent on a heap of hostile objects: types whose attributes lie or raise, proxies,
mocks, containers whose __len__ raises or is huge, odd entries in sys.modules, threads with odd
names. The census runs in this process (the agent is stdlib only) and must count every sentinel
exactly, whatever else lives beside it: one bad object is skipped, never the whole census."""

from __future__ import annotations

import gc
import sys
import threading
import types
import weakref
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.target.census import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
import _harness_census as agent  # noqa: E402  (the agent's directory, as sitecustomize has it)

sys.path.remove(str(AGENT_DIR))


class DescriptorModuleMeta(type):
    """As a Cython 3 metatype: `__module__` of the type is a descriptor, not a string."""

    __module__ = property(lambda self: "never a string")  # type: ignore[assignment]


class RaisingModuleMeta(type):
    """`__module__` of its classes raises on every read."""

    @property
    def __module__(cls):  # type: ignore[override]
        raise RuntimeError("no module for you")


class Lying:
    """Says it is a dict; raises on any attribute read but its own."""

    @property
    def __class__(self):  # type: ignore[override]
        return dict

    def __getattribute__(self, name: str) -> object:
        if name == "__class__":
            return dict
        raise RuntimeError(f"no {name}")


class RaisingClass:
    @property
    def __class__(self):  # type: ignore[override]
        raise RuntimeError("what class?")


class RaisingLenDict(dict):
    def __len__(self) -> int:
        raise RuntimeError("no length")

    def items(self):  # type: ignore[override]
        raise RuntimeError("no items")


class HugeLenList(list):
    def __len__(self) -> int:
        return 10**30  # len() itself raises OverflowError on this


class NonStrKeys:
    """An own instance whose __dict__ has keys that are not strings."""

    def __init__(self) -> None:
        self.__dict__[1] = [1, 2, 3]
        self.__dict__[("a",)] = {}
        self.fine = [0]


class OddThread(threading.Thread):
    @property  # type: ignore[override]
    def name(self) -> str:
        raise RuntimeError("nameless")


class Sentinel:
    """Counted exactly: the census's own check that nothing hostile cost it its count."""

    def __init__(self, n: int) -> None:
        self.items = {i: i for i in range(n)}


def hostile(kind: str) -> object:
    if kind == "descriptor_module":
        return DescriptorModuleMeta("DescriptorModule", (), {})
    if kind == "raising_module":
        return RaisingModuleMeta("RaisingModule", (), {})
    if kind == "descriptor_module_instance":
        return DescriptorModuleMeta("DescriptorModule", (), {})()
    if kind == "lying":
        return Lying()
    if kind == "raising_class":
        return RaisingClass()
    if kind == "raising_len":
        holder = NonStrKeys()
        holder.__dict__["bad"] = RaisingLenDict(a=1, b=2)
        return holder
    if kind == "huge_len":
        holder = NonStrKeys()
        holder.__dict__["huge"] = HugeLenList([1, 2])
        return holder
    if kind == "mock":
        return mock.MagicMock()
    if kind == "mock_attribute":
        holder = NonStrKeys()
        holder.__dict__["m"] = mock.MagicMock()
        return holder
    if kind == "non_str_keys":
        return NonStrKeys()
    raise AssertionError(kind)


KINDS = ["descriptor_module", "raising_module", "descriptor_module_instance", "lying", "raising_class",
         "raising_len", "huge_len", "mock", "mock_attribute", "non_str_keys"]
MODULES = {
    "hostile_mock_module": mock.MagicMock(),
    "hostile_lying_module": Lying(),
    "hostile_file_module": types.SimpleNamespace(__file__=42),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(KINDS), max_size=12), sentinels=st.integers(0, 5),
       entries=st.integers(0, 7), modules=st.lists(st.sampled_from(sorted(MODULES)), unique=True))
def test_census_counts_every_sentinel_beside_hostile_objects(
    kinds: list[str], sentinels: int, entries: int, modules: list[str]
) -> None:
    """However many hostile objects and modules share the heap, the census succeeds and its
    counts of a plain class and of the container it holds are exact."""
    alive = [hostile(kind) for kind in kinds]
    kept = [Sentinel(entries) for _ in range(sentinels)]
    with mock.patch.dict(sys.modules, {name: MODULES[name] for name in modules}):
        result = agent.census(budget=10.0)
    groups = result["groups"]
    own = f"{__name__}.Sentinel"
    assert groups.get(f"objects:{own}", 0) == sentinels
    assert groups.get("entries:Sentinel.items", 0) == sentinels * entries
    if "raising_len" in kinds:
        assert groups.get("entries:NonStrKeys.bad", 0) == 2 * kinds.count("raising_len")  # the real length
    if "huge_len" in kinds:
        assert groups.get("entries:NonStrKeys.huge", 0) == 2 * kinds.count("huge_len")
    if {"raising_len", "huge_len", "mock_attribute", "non_str_keys"} & set(kinds):
        assert groups.get("entries:NonStrKeys.fine", 0) >= 1
    assert not any(note.startswith("object walk stopped") for note in result["notes"])
    del alive, kept


def test_type_names_come_from_the_type_not_what_it_says() -> None:
    """A metatype whose `__module__` is a descriptor (Cython 3's) or raises is still named."""
    assert agent.type_name(DescriptorModuleMeta) == f"{__name__}.DescriptorModuleMeta"
    odd = RaisingModuleMeta("RaisingModule", (), {})
    module, qualname = agent.type_parts(odd)
    assert qualname == "RaisingModule" and isinstance(module, str)
    assert agent.type_kind(DescriptorModuleMeta("X", (), {})) in (0, 1, 2)


def test_the_census_remembers_types_without_keeping_a_class_alive() -> None:
    """What a census works out about a type is kept for the next census, but a class of the
    server that is dropped is freed all the same, and its entry with it."""
    made = types.new_class("Passing", (), {})
    made.__module__ = __name__
    instance = made()
    assert agent.census(budget=10.0)["groups"].get(f"objects:{__name__}.Passing") == 1
    assert agent.type_kind(made) == 2 and agent._type_kinds.get(made) == 2
    gone, key = weakref.ref(made), id(made)
    del made, instance
    gc.collect()
    assert gone() is None, "the census kept a class of the server alive"
    agent.census(budget=10.0)  # which drops what it kept of types that are gone
    ref = agent._type_kinds.refs.get(key)
    assert ref is None or ref() is not None  # gone, or a type made since at the same address


def test_a_thread_that_cannot_be_named_is_skipped_and_said() -> None:
    """A thread whose name raises is counted as unreadable; the other threads still are."""
    stop = threading.Event()
    odd = OddThread(target=stop.wait, daemon=True)
    odd.start()
    try:
        notes: list[str] = []
        counts = agent.thread_census(notes)
        assert counts.get("MainThread") == 1
        assert any(note.startswith("1 threads could not be read") and "nameless" in note for note in notes), notes
    finally:
        stop.set()
        odd.join(5)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_an_odd_entry_in_sys_modules_is_not_own_code(module: str) -> None:
    with mock.patch.dict(sys.modules, {module: MODULES[module]}):
        assert agent.own_module(module) is False
        agent._own_modules.clear()


class Config:
    """Instances that hold no container, until one of them does."""

    def __init__(self) -> None:
        self.name = "value"


def test_containers_are_counted_however_the_class_held_them_before() -> None:
    """The census tells in C, for all the instances of the classes that held no container
    last time at once, whether any holds one now, and reads the others directly: the counts
    are exact either way."""
    configs = [Config() for _ in range(50)]
    assert "entries:Config.extra" not in agent.census(budget=10.0)["groups"]
    configs[7].extra = [1, 2, 3]  # a class that held none at the last census gains one
    assert agent.census(budget=10.0)["groups"]["entries:Config.extra"] == 3
    configs[9].extra = {"a": 1}
    del configs[7].extra  # read directly now: it held one last time
    assert agent.census(budget=10.0)["groups"]["entries:Config.extra"] == 1
    del configs[9].extra
    assert "entries:Config.extra" not in agent.census(budget=10.0)["groups"]


class Slotted:
    """Slots only: no __dict__, so nothing to read for containers."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = [1, 2]


def test_instances_with_slots_only_are_counted_not_called_unreadable() -> None:
    """A class of the server's own with slots only is counted like any other; that it has no
    __dict__ to read is no failure of the census."""
    kept = [Slotted() for _ in range(3)], [Config() for _ in range(20)]
    result = agent.census(budget=10.0)
    assert result["groups"][f"objects:{__name__}.Slotted"] == 3
    assert not [note for note in result["notes"] if "could not be read" in note]
    assert result["skipped"] == 0
    del kept
