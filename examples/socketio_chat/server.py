"""A Socket.IO chat on python-socketio (aiohttp), the shape of many voice and chat apps:

    python examples/socketio_chat/server.py --port PORT [--leak]

A client connects (namespace /) and gets a "ready" event. It emits "message" {"text": ...}
and gets the reply as "token" events, then "done"; "stop" cuts a reply short; "ping" is
answered with "pong"; "ask" {"text": ...} is answered whole, as the call's acknowledgement.
Each connected socket is a member of the lobby (LOBBY) and has a listener for the lobby's
announcements (LISTENERS); both are undone when it disconnects, unless --leak keeps them
(a room membership and a listener kept per socket). /metrics gives the lobby's size.
profile.toml (events) and profile-ack.toml (a call and its acknowledgement) speak to it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import socketio
from aiohttp import web

REPLY = "Sure. Here is a short answer, streamed one word at a time, as a model would."
sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)
LOBBY: set[str] = set()  # the sids in the lobby room
LISTENERS: list[Callable[[str], None]] = []
REPLIES: dict[str, asyncio.Task[None]] = {}
LEAK = [False]


class Announcer:
    """What a socket does with the lobby's announcements: keeps the last one."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.last = ""

    def __call__(self, text: str) -> None:
        self.last = text


@sio.event
async def connect(sid: str, environ: dict, auth: object = None) -> None:
    LOBBY.add(sid)
    LISTENERS.append(Announcer(sid))
    await sio.emit("ready", {"sid": sid}, to=sid)


@sio.event
async def disconnect(sid: str, *args: object) -> None:
    task = REPLIES.pop(sid, None)
    if task is not None:
        task.cancel()
    if not LEAK[0]:
        LOBBY.discard(sid)
        LISTENERS[:] = [listener for listener in LISTENERS if getattr(listener, "sid", None) != sid]


async def stream(sid: str) -> None:
    for word in REPLY.split():
        await asyncio.sleep(0.002)
        await sio.emit("token", {"text": word + " "}, to=sid)
    await sio.emit("done", {}, to=sid)


@sio.event
async def message(sid: str, data: dict) -> None:
    REPLIES[sid] = asyncio.create_task(stream(sid))


@sio.event
async def stop(sid: str, data: object = None) -> None:
    task = REPLIES.pop(sid, None)
    if task is not None:
        task.cancel()


@sio.event
async def ping(sid: str, data: object = None) -> None:
    await sio.emit("pong", {}, to=sid)


@sio.event
async def ask(sid: str, data: dict) -> dict:
    await asyncio.sleep(0.01)
    return {"text": REPLY}


async def metrics(request: web.Request) -> web.Response:
    text = (f"# TYPE socketio_chat_members gauge\nsocketio_chat_members {len(LOBBY)}\n"
            f"# TYPE socketio_chat_listeners gauge\nsocketio_chat_listeners {len(LISTENERS)}\n")
    return web.Response(text=text, content_type="text/plain")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak", action="store_true", help="keep each socket's membership and listener")
    args = parser.parse_args()
    LEAK[0] = args.leak
    app.router.add_get("/metrics", metrics)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
