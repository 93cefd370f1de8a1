"""A JSON token-streaming chat on FastAPI, the shape most LLM chat servers take:

    python examples/json_chat/server.py --port PORT [--leak]

A client connects to /chat and is greeted with {"type": "ready"}. It sends {"type":
"message", "text": ...} and gets the reply as {"type": "token", "text": ...} frames, then
{"type": "done"}; {"type": "stop"} cuts a reply short, {"type": "ping"} is answered with
{"type": "pong"}, and {"type": "audio", "samples": [...]} is buffered for the session.
Each session lives in SESSIONS while its client is connected; --leak keeps it there after
the client leaves (a session dict nobody cleans up), with its audio. /metrics gives the
number of sessions kept. profile.toml is how the harness speaks to it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse

REPLY = "Sure. Here is a short answer, streamed one word at a time, as a model would."
app = FastAPI()
SESSIONS: dict[int, ChatSession] = {}
LEAK = [False]
IDS = itertools.count(1)


class ChatSession:
    """What the server keeps of one client: its turns and the audio it sent."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.turns = 0
        self.audio: list[float] = []
        self.reply: asyncio.Task[None] | None = None


async def stream(session: ChatSession) -> None:
    for word in REPLY.split():
        await asyncio.sleep(0.002)
        await session.websocket.send_json({"type": "token", "text": word + " "})
    await session.websocket.send_json({"type": "done"})


@app.websocket("/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    sid = next(IDS)
    session = SESSIONS[sid] = ChatSession(websocket)
    try:
        await websocket.send_json({"type": "ready", "session": sid})
        while True:
            frame = await websocket.receive_json()
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "message":
                session.turns += 1
                session.reply = asyncio.create_task(stream(session))
            elif kind == "stop" and session.reply is not None:
                session.reply.cancel()
            elif kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "audio":
                session.audio.extend(frame.get("samples") or [])
            else:
                await websocket.send_json({"type": "error", "message": f"unknown frame type {kind!r}"})
    except (WebSocketDisconnect, ValueError):
        pass
    finally:
        if session.reply is not None:
            session.reply.cancel()
        if not LEAK[0]:
            del SESSIONS[sid]


@app.get("/metrics")
async def metrics() -> PlainTextResponse:
    return PlainTextResponse(f"# TYPE json_chat_sessions gauge\njson_chat_sessions {len(SESSIONS)}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak", action="store_true", help="keep each session after its client leaves")
    args = parser.parse_args()
    LEAK[0] = args.leak
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
