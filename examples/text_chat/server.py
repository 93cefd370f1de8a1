"""A plain-text chat on the websockets library: no JSON anywhere.

    python examples/text_chat/server.py --port PORT [--leak]

A client connects to / and is greeted with "welcome". Each text it sends is a turn: the reply
comes word by word, one frame each, then a frame "[end]". "/stop" cuts a reply short and
"/ping" is answered with "pong". The server keeps a transcript per connection in HISTORY
while it is connected; --leak never removes it (a per-connection history nobody trims).
/metrics (plain HTTP on the same port) gives the number of transcripts kept.
profile.toml is how the harness speaks to it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

REPLY = "Sure. Here is a short answer, streamed one word at a time, as a model would."
HISTORY: dict[int, list[str]] = {}
LEAK = [False]
IDS = itertools.count(1)


async def stream(ws: ServerConnection) -> None:
    for word in REPLY.split():
        await asyncio.sleep(0.002)
        await ws.send(word)
    await ws.send("[end]")


async def chat(ws: ServerConnection) -> None:
    cid = next(IDS)
    HISTORY[cid] = []
    reply: asyncio.Task[None] | None = None
    try:
        await ws.send("welcome")
        async for text in ws:
            if not isinstance(text, str):
                continue
            if text == "/stop":
                if reply is not None:
                    reply.cancel()
            elif text == "/ping":
                await ws.send("pong")
            else:
                HISTORY[cid].append(text)
                reply = asyncio.create_task(stream(ws))
    except ConnectionClosed:
        pass
    finally:
        if reply is not None:
            reply.cancel()
        if not LEAK[0]:
            del HISTORY[cid]


def metrics(connection: ServerConnection, request: Request) -> Response | None:
    if request.path != "/metrics":
        return None  # the WebSocket handshake goes on
    body = f"# TYPE text_chat_histories gauge\ntext_chat_histories {len(HISTORY)}\n".encode()
    headers = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return Response(HTTPStatus.OK, "OK", headers, body)


async def main(port: int) -> None:
    async with serve(chat, "127.0.0.1", port, process_request=metrics) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--leak", action="store_true", help="keep each connection's transcript after it closes")
    args = parser.parse_args()
    LEAK[0] = args.leak
    asyncio.run(main(args.port))
