"""The census says when tasks that sleep on a loop timer wake (asyncio.sleep, wait_for): the
drain check waits that long for what they hold, as for Engine.IO's ping tasks. Real tasks on a
real event loop in a thread of this process, counted by the agent from another thread, as in a
server."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest

from harness.target.census import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
import _harness_census as agent  # noqa: E402  (the agent's directory, as sitecustomize has it)

sys.path.remove(str(AGENT_DIR))


async def nap(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def bounded(event: asyncio.Event, seconds: float) -> None:
    await asyncio.wait_for(event.wait(), seconds)


async def either(event: asyncio.Event, seconds: float | None) -> None:
    await (asyncio.sleep(seconds) if seconds is not None else event.wait())  # one line: one group


@pytest.fixture
def loop():  # type: ignore[no-untyped-def]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    for task in asyncio.run_coroutine_threadsafe(all_tasks(), loop).result(5):
        loop.call_soon_threadsafe(task.cancel)
    time.sleep(0.1)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


async def all_tasks() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def group(counts: dict[str, float], coroutine: str) -> str:
    found = [key for key in counts if key.startswith(f"{coroutine} @ ")]
    assert len(found) == 1, counts
    return found[0]


def test_groups_asleep_on_timers_say_when_their_last_task_wakes(loop) -> None:  # type: ignore[no-untyped-def]
    async def start() -> asyncio.Event:
        event = asyncio.Event()
        for seconds in (3.0, 6.0, 9.0):
            asyncio.ensure_future(nap(seconds))
        asyncio.ensure_future(bounded(event, 7.0))
        asyncio.ensure_future(either(event, 4.0))
        asyncio.ensure_future(either(event, None))
        return event

    asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    time.sleep(0.2)  # every task has reached its await
    notes: list[str] = []
    counts, wakes, _, _ = agent.task_census(time.perf_counter() + 5, notes)
    assert not notes
    naps, waits, mixed = group(counts, "nap"), group(counts, "bounded"), group(counts, "either")
    assert counts[naps] == 3 and counts[mixed] == 2
    assert 8.0 < wakes[naps] <= 9.0  # the last of the three
    assert 6.0 < wakes[waits] <= 7.0  # wait_for's timeout wakes it
    assert mixed not in wakes  # one of its tasks waits on an event that may never come
    inner = {key for key in counts if key.startswith("Event.wait @ ")}  # wait_for's own task (3.11)
    assert not inner & set(wakes)  # has no timer of its own
