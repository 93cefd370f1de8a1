"""The census tells orphans from the other tasks: a task that still holds a closed WebSocket
connection works for a client that has gone (the seed's conversation task). Real servers
(websockets', aiohttp's) on 127.0.0.1 port 0, on an event loop in a thread of this process,
real clients, and the agent counting from another thread, as in a server."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import weakref
from collections.abc import Iterator

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.sync.client import connect

from harness.target.census import AGENT_DIR

sys.path.insert(0, str(AGENT_DIR))
import _harness_census as agent  # noqa: E402  (the agent's directory, as sitecustomize has it)

sys.path.remove(str(AGENT_DIR))


class Session:
    """A client's session as a server keeps it: its connection in an attribute."""

    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.played = False


class Turn:
    """Two deep: the turn holds the session, which holds the connection (self.session.ws)."""

    def __init__(self, session: Session) -> None:
        self.session = session


async def generate(session: Session) -> None:
    while not session.played:  # a reply generated for as long as the client has not played it
        await asyncio.sleep(0.05)


async def generate_deep(turn: Turn) -> None:
    while not turn.session.played:
        await asyncio.sleep(0.05)


async def answer_later(send) -> None:  # noqa: ANN001 (a bound method, as upstream's websocket_send)
    while True:
        await asyncio.sleep(0.05)


async def unrelated(number: int) -> None:
    while True:
        await asyncio.sleep(0.05)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop

    async def cancel_all() -> None:
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def orphans() -> tuple[dict[str, float], dict[str, float]]:
    notes: list[str] = []
    counts, _, found, _ = agent.task_census(time.perf_counter() + 5, notes)
    assert not notes
    return {key.partition(" @ ")[0]: n for key, n in found.items()}, counts


def wait_for(predicate, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_tasks_that_hold_a_closed_websockets_connection_are_orphans(loop) -> None:  # noqa: ANN001
    """Each client starts three tasks that hold its connection (in a local, in an attribute of a
    local, two attributes deep, and as a bound method); only once it has gone do they count."""
    left: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        session = Session(ws)
        asyncio.ensure_future(generate(session))
        asyncio.ensure_future(generate_deep(Turn(session)))
        asyncio.ensure_future(answer_later(ws.send))
        asyncio.ensure_future(unrelated(1))
        async for _ in ws:
            pass
        left.append(ws)

    async def start():  # noqa: ANN202
        return await serve(handler, "127.0.0.1", 0)

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    port = server.sockets[0].getsockname()[1]
    with connect(f"ws://127.0.0.1:{port}") as client:
        client.send("hello")
        time.sleep(0.1)
        found, counts = orphans()
        assert found == {}  # connected: its tasks work for a client that is there
        assert counts
    wait_for(lambda: len(left) == 1)
    wait_for(lambda: orphans()[0] == {"generate": 1, "generate_deep": 1, "answer_later": 1})
    with connect(f"ws://127.0.0.1:{port}"):
        time.sleep(0.1)
        assert orphans()[0] == {"generate": 1, "generate_deep": 1, "answer_later": 1}  # the second is there
    wait_for(lambda: len(left) == 2)
    wait_for(lambda: orphans()[0] == {"generate": 2, "generate_deep": 2, "answer_later": 2})


def test_a_closed_aiohttp_websocket_held_by_a_task_is_an_orphan(loop) -> None:  # noqa: ANN001
    aiohttp_web = pytest.importorskip("aiohttp.web")
    started: list[object] = []

    async def chat(request):  # noqa: ANN001, ANN202
        ws = aiohttp_web.WebSocketResponse()
        await ws.prepare(request)
        asyncio.ensure_future(generate(Session(ws)))
        async for _ in ws:
            pass
        started.append(ws)
        return ws

    async def start() -> tuple[object, int]:
        app = aiohttp_web.Application()
        app.router.add_get("/ws", chat)
        runner = aiohttp_web.AppRunner(app)
        await runner.setup()
        site = aiohttp_web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        with connect(f"ws://127.0.0.1:{port}/ws") as client:
            client.send("hello")
            time.sleep(0.1)
            assert orphans()[0] == {}
        wait_for(lambda: len(started) == 1)
        wait_for(lambda: orphans()[0] == {"generate": 1})
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(5)


def test_a_task_whose_locals_cannot_be_read_is_said_not_counted(loop, monkeypatch) -> None:  # noqa: ANN001
    """Reading a task's locals that raises leaves the task out of the orphans, and says so."""

    async def start() -> None:
        asyncio.ensure_future(unrelated(1))

    asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    time.sleep(0.1)

    def broken(chain: object) -> bool:
        raise RuntimeError("frame gone")

    monkeypatch.setattr(agent, "holds_closed_connection", broken)
    notes: list[str] = []
    counts, _, found, _ = agent.task_census(time.perf_counter() + 5, notes)
    assert found == {} and counts
    assert len(notes) == 1 and "could not be read" in notes[0] and "RuntimeError: frame gone" in notes[0], notes


class Payload:
    """Something a coroutine holds for a while, then lets go."""


async def hold_then_let_go(go: asyncio.Event, dropped: asyncio.Event) -> None:
    payload = Payload()
    await go.wait()
    payload = None  # noqa: F841  (let go, while the coroutine lives on)
    dropped.set()
    await asyncio.sleep(60)


def test_looking_for_orphans_keeps_nothing_a_coroutine_let_go(loop) -> None:  # noqa: ANN001
    """The census reads a suspended coroutine's locals without leaving a copy of them on its
    frame (as `frame.f_locals` does before Python 3.13): once the coroutine drops what it held,
    it is freed, the census notwithstanding."""
    async def start() -> tuple[asyncio.Event, asyncio.Event]:
        go, dropped = asyncio.Event(), asyncio.Event()
        asyncio.ensure_future(hold_then_let_go(go, dropped))
        return go, dropped

    go, dropped = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    time.sleep(0.05)
    payloads = [o for o in gc.get_objects() if type(o) is Payload]
    assert len(payloads) == 1
    ref = weakref.ref(payloads[0])
    del payloads
    orphans()  # reads every task's locals
    loop.call_soon_threadsafe(go.set)
    wait_for(dropped.is_set)
    assert ref() is None
