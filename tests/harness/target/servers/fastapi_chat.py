"""A FastAPI chat app started by its own script with uvicorn, as many real servers are:

    python fastapi_chat.py --port PORT [--leak]

It speaks the harness's text turn (PROTOCOL.md, as tiny_chat.py does). With --leak, every
client's session object is kept in a module-level dict keyed by its id and never removed.
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
SESSIONS: dict[int, ClientSession] = {}
KEEP = [False]


class ClientSession:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.turns = 0


@app.websocket("/client-ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    session = ClientSession(websocket)
    SESSIONS[id(session)] = session
    try:
        await websocket.send_text(json.dumps({"type": "full-text", "text": "Connection established"}))
        await websocket.send_text(json.dumps({"type": "set-model-and-conf", "client_uid": "x"}))
        await websocket.send_text(json.dumps({"type": "control", "text": "start-mic"}))
        while True:
            frame = json.loads(await websocket.receive_text())
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
    except WebSocketDisconnect:
        pass
    finally:
        if not KEEP[0]:
            SESSIONS.pop(id(session), None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak", action="store_true")
    args = parser.parse_args()
    KEEP[0] = args.leak
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop="uvloop", http="httptools")
