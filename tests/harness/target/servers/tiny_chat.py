"""A small chat server written for the tests, independent of server/: what a user's own
server looks like to the harness (no chat_* gauges, no /debug/resources).

    python tiny_chat.py --port PORT [--mode clean|fdleak|memory|masked|mute|garbage|sleeper] [--llm URL]
                        [--garbage-metrics] [--break-census]

clean:   cleans up after every client.
fdleak:  opens a file per client and closes it only on a clean close: every abrupt drop
         leaks one fd.
memory:  one conversation history shared by all clients and sent whole to the LLM.
masked:  the same shared history, cleared whenever a client starts a new history (as the
         page does): clean closes grow it, page sessions reset it, so a fixed mix of both
         looks flat. /metrics shows its length as `tiny_memory_messages`.
mute:    speaks another protocol: greets, but never ends a reply.
sleeper: every client starts a Watcher whose task sleeps forever, never cancelled: no
         counter, no fd, a few hundred bytes; only a census sees it.
garbage: of every four replies, one is preceded by a frame that is not JSON, one by a
         frame of 5 MiB, one by a JSON list instead of an object; one is clean.

--break-census makes every census of the harness's agent (--inspect) fail, as one did on a
heap it could not read: gc.get_objects() raises, so the agent answers HTTP 500.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import urllib.request
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

HISTORY: list[dict[str, str]] = []
ANSWERS = {"fetch-configs": "config-files", "fetch-history-list": "history-list",
           "create-new-history": "new-history-created", "heartbeat": "heartbeat-ack"}
TURNS = [0]
GARBAGE = ["<<not json>>", json.dumps({"type": "full-text", "text": "x" * (5 << 20)}), "[1, 2, 3]", None]
LEAKED: list[object] = []
WATCHERS: set[asyncio.Task[None]] = set()


class Watcher:
    """Watches one client's presence: the task is started per client and never cancelled."""

    def __init__(self, uid: str) -> None:
        self.uid = uid

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(3600)


def ask_llm(url: str, messages: list[dict[str, str]]) -> str:
    body = json.dumps({"model": "tiny", "messages": messages}).encode()
    request = urllib.request.Request(url + "/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["choices"][0]["message"]["content"]


async def handler(ws, args) -> None:  # type: ignore[no-untyped-def]
    handle = open(os.devnull) if args.mode == "fdleak" else None
    history = HISTORY if args.mode in ("memory", "masked") else []
    if args.mode == "sleeper":
        task = asyncio.create_task(Watcher(str(id(ws))).watch())
        WATCHERS.add(task)
    await ws.send(json.dumps({"type": "full-text", "text": "Connection established"}))
    await ws.send(json.dumps({"type": "set-model-and-conf", "client_uid": "x"}))
    await ws.send(json.dumps({"type": "control", "text": "start-mic"}))
    try:
        async for raw in ws:
            frame = json.loads(raw)
            if args.mode == "mute":
                continue
            if frame.get("type") in ANSWERS:
                if frame["type"] == "create-new-history" and args.mode == "masked":
                    HISTORY.clear()
                await ws.send(json.dumps({"type": ANSWERS[frame["type"]]}))
                continue
            if frame.get("type") != "text-input":
                continue
            history.append({"role": "user", "content": frame["text"]})
            if args.llm:
                reply = await asyncio.to_thread(ask_llm, args.llm, list(history))
            else:
                await asyncio.sleep(0.005)
                reply = "Hello from the tiny server."
            history.append({"role": "assistant", "content": reply})
            await ws.send(json.dumps({"type": "control", "text": "conversation-chain-start"}))
            if args.mode == "garbage":
                TURNS[0] += 1
                bad = GARBAGE[TURNS[0] % len(GARBAGE)]
                if bad is not None:
                    await ws.send(bad)
            await ws.send(json.dumps({"type": "audio", "audio": None, "volumes": [],
                                      "display_text": {"text": reply}}))
            await ws.send(json.dumps({"type": "backend-synth-complete"}))
            await ws.send(json.dumps({"type": "control", "text": "conversation-chain-end"}))
    except ConnectionClosed:
        pass
    finally:
        clean_close = ws.protocol.close_rcvd is not None
        if handle is not None and not clean_close:
            LEAKED.append(handle)
        elif handle is not None:
            handle.close()


def unreadable_heap(generation: int | None = None) -> list[object]:
    raise TypeError("unsupported operand type(s) for +: 'getset_descriptor' and 'str'")


def metrics(connection, request):  # type: ignore[no-untyped-def]
    if request.path == "/metrics":
        return connection.respond(HTTPStatus.OK, "garbage {{{ not prometheus\n")
    return None


def memory_metrics(connection, request):  # type: ignore[no-untyped-def]
    if request.path == "/metrics":
        return connection.respond(HTTPStatus.OK, f"# TYPE tiny_memory_messages gauge\n"
                                                 f"tiny_memory_messages {len(HISTORY)}\n")
    return None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="clean", choices=["clean", "fdleak", "memory", "masked", "mute", "garbage",
                                                           "sleeper"])
    parser.add_argument("--llm", default="")
    parser.add_argument("--garbage-metrics", action="store_true")
    parser.add_argument("--break-census", action="store_true")
    args = parser.parse_args()
    if args.break_census:
        gc.get_objects = unreadable_heap
    async with serve(lambda ws: handler(ws, args), "127.0.0.1", args.port,
                     process_request=metrics if args.garbage_metrics else
                     memory_metrics if args.mode == "masked" else None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
