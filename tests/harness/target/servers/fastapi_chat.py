"""A FastAPI chat app started by its own script with uvicorn, as many real servers are:

    python fastapi_chat.py --port PORT [--leak [every|sparse|late|orphans]]

It speaks the harness's text turn (PROTOCOL.md, as tiny_chat.py does). With --leak (every),
every client's session object is kept in a module-level dict keyed by its id and never
removed. sparse: only every fifth session that sent a heartbeat (audio drops and page
sessions do; nothing else) is kept, 0.2 entries per session of two behaviours. late: the
same as every, from the 150th session on (a leak that starts mid-run). Each turn then waits,
in a task of its own, for the client's playback to complete, with the `websocket.send_text` it
answers by (as upstream's conversation task does); an interrupt or the client's playback
ends it, and disconnect cancels it. orphans: disconnect does not, so a client that leaves
before it says it played the reply (a mid-reply close) leaves its turn waiting (the seed's bug).
It runs on what `uvicorn[standard]` loads (uvloop's loop, httptools' parser) and reads its
config with PyYAML's C loader, as upstream Open-LLM-VTuber does: C-extension and Cython
types whose attributes are not what plain classes have, which the census must survive.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import uvicorn
import yaml
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

CONFIG = yaml.load("greeting: Hello from FastAPI.\n", Loader=yaml.CLoader)
app = FastAPI()
ANSWERS = {"fetch-configs": "config-files", "fetch-history-list": "history-list",
           "create-new-history": "new-history-created", "heartbeat": "heartbeat-ack"}
SESSIONS: dict[int, ClientSession] = {}
LEAK = [""]
SEEN = {"sessions": 0, "heartbeats": 0}


class ClientSession:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.turns = 0
        self.heartbeats = 0
        self.playing: asyncio.Task | None = None  # the last turn, until the client has played it
        self.played = asyncio.Event()


async def await_playback(send, played: asyncio.Event) -> None:  # noqa: ANN001 (a bound method)
    """The end of a turn: wait for the client to say it has played the reply, then close the
    chain. A client that left never says so. (It polls: a task that only awaited an event no
    one else holds would be garbage, and collected, once its session was dropped.)"""
    while not played.is_set():
        await asyncio.sleep(0.25)
    await send(json.dumps({"type": "force-new-message"}))


def keep(session: ClientSession) -> bool:
    """Whether this session's entry is left behind, by --leak."""
    if LEAK[0] == "every":
        return True
    if LEAK[0] == "late":
        return SEEN["sessions"] >= 150
    if LEAK[0] == "sparse" and session.heartbeats:
        SEEN["heartbeats"] += 1
        return SEEN["heartbeats"] % 5 == 0
    return False


@app.websocket("/client-ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    session = ClientSession(websocket)
    SESSIONS[id(session)] = session
    SEEN["sessions"] += 1
    try:
        await websocket.send_text(json.dumps({"type": "full-text", "text": "Connection established"}))
        await websocket.send_text(json.dumps({"type": "set-model-and-conf", "client_uid": "x"}))
        await websocket.send_text(json.dumps({"type": "control", "text": "start-mic"}))
        while True:
            frame = json.loads(await websocket.receive_text())
            if frame.get("type") in ("frontend-playback-complete", "interrupt-signal"):
                session.played.set()
                continue
            if frame.get("type") in ANSWERS:
                session.heartbeats += frame["type"] == "heartbeat"
                await websocket.send_text(json.dumps({"type": ANSWERS[frame["type"]]}))
                continue
            if frame.get("type") != "text-input":
                continue
            session.turns += 1
            await asyncio.sleep(0.005)
            for reply in (
                {"type": "control", "text": "conversation-chain-start"},
                {"type": "audio", "audio": None, "volumes": [], "display_text": {"text": CONFIG["greeting"]}},
                {"type": "backend-synth-complete"},
                {"type": "control", "text": "conversation-chain-end"},
            ):
                await websocket.send_text(json.dumps(reply))
            if session.playing is None or session.playing.done():
                session.played = asyncio.Event()
                session.playing = asyncio.create_task(await_playback(websocket.send_text, session.played))
    except WebSocketDisconnect:
        pass
    finally:
        if session.playing is not None and LEAK[0] != "orphans":
            session.playing.cancel()
        if not keep(session):
            SESSIONS.pop(id(session), None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak", nargs="?", const="every", default="", choices=["every", "sparse", "late", "orphans"])
    args = parser.parse_args()
    LEAK[0] = args.leak
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop="uvloop", http="httptools")
