"""A chat server on aiohttp whose state is retained but bounded: none of these leaks, and a
harness that calls them leaks is wrong. It speaks the harness's text turn (PROTOCOL.md, as
tiny_chat.py does) and serves its state's size on /metrics.

    python bounded_chat.py --port PORT --mode grace|lru|level [--hold SECONDS] [--cap N]

grace: each client's state is kept --hold seconds (default 2) after it disconnects, for a
       quick reconnect, then evicted by a sweeper task (Socket.IO's connection-state
       recovery does this for 2 minutes). `grace_sessions` on /metrics.
lru:   an LRU of --cap entries (default 240), one per connection: it fills, then stays full.
       `lru_entries`.
level: a cache whose keys come from a space that grows ever more slowly (38 slots at most):
       it levels off at 37-38 entries. `level_entries`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import time
from collections import OrderedDict

from aiohttp import WSMsgType, web

ANSWERS = {"fetch-configs": "config-files", "fetch-history-list": "history-list",
           "create-new-history": "new-history-created", "heartbeat": "heartbeat-ack"}
REPLY = ("conversation-chain-start", "Hello from the bounded server.")


class ClientState:
    """What one client has while connected: its turns and its audio."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.turns = 0
        self.audio: list[float] = []


class Grace:
    """Disconnected clients' state, kept `hold` seconds for a reconnect, then swept."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.recent: dict[str, tuple[float, ClientState]] = {}

    def left(self, state: ClientState) -> None:
        self.recent[state.uid] = (time.monotonic(), state)

    async def sweep(self) -> None:
        while True:
            await asyncio.sleep(min(0.2, self.hold / 4))
            cutoff = time.monotonic() - self.hold
            for uid in [uid for uid, (left, _) in self.recent.items() if left < cutoff]:
                del self.recent[uid]

    def size(self) -> int:
        return len(self.recent)


class Lru:
    """The last `cap` clients seen, oldest evicted first."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.recent: OrderedDict[str, ClientState] = OrderedDict()

    def left(self, state: ClientState) -> None:
        self.recent[state.uid] = state
        self.recent.move_to_end(state.uid)
        while len(self.recent) > self.cap:
            self.recent.popitem(last=False)

    def size(self) -> int:
        return len(self.recent)


class Level:
    """A cache keyed by a slot that grows ever more slowly with the clients seen: 38 at most."""

    def __init__(self) -> None:
        self.seen: dict[int, ClientState] = {}
        self.clients = 0

    def left(self, state: ClientState) -> None:
        self.clients += 1
        self.seen[int(38 * (1 - math.exp(-self.clients / 60)))] = state

    def size(self) -> int:
        return len(self.seen)


async def chat(request: web.Request) -> web.WebSocketResponse:
    store = request.app["store"]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    state = ClientState(f"client-{next(request.app['ids'])}")
    try:
        await ws.send_json({"type": "full-text", "text": "Connection established"})
        await ws.send_json({"type": "set-model-and-conf", "client_uid": state.uid})
        await ws.send_json({"type": "control", "text": "start-mic"})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            kind = frame.get("type")
            if kind in ANSWERS:
                await ws.send_json({"type": ANSWERS[kind]})
            elif kind == "mic-audio-data":
                state.audio.extend(frame.get("audio") or [])
            elif kind == "text-input":
                state.turns += 1
                await asyncio.sleep(0.005)
                for reply in ({"type": "control", "text": "conversation-chain-start"},
                              {"type": "audio", "audio": None, "volumes": [], "display_text": {"text": REPLY[1]}},
                              {"type": "backend-synth-complete"},
                              {"type": "control", "text": "conversation-chain-end"}):
                    await ws.send_json(reply)
    finally:
        state.audio.clear()
        store.left(state)
    return ws


async def metrics(request: web.Request) -> web.Response:
    name = request.app["gauge"]
    size = request.app["store"].size()
    return web.Response(text=f"# TYPE {name} gauge\n{name} {size}\n", content_type="text/plain")


async def start_sweeper(app: web.Application) -> None:
    if isinstance(app["store"], Grace):
        app["sweeper"] = asyncio.create_task(app["store"].sweep())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["grace", "lru", "level"], required=True)
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--cap", type=int, default=240)
    args = parser.parse_args()
    app = web.Application()
    app["store"] = {"grace": lambda: Grace(args.hold), "lru": lambda: Lru(args.cap), "level": Level}[args.mode]()
    app["gauge"] = {"grace": "grace_sessions", "lru": "lru_entries", "level": "level_entries"}[args.mode]
    app["ids"] = itertools.count()
    app.on_startup.append(start_sweeper)
    app.router.add_get("/client-ws", chat)
    app.router.add_get("/metrics", metrics)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
