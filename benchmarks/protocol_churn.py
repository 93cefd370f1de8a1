"""Benchmark: how fast the protocol clients churn sessions, against a plain client of the same
library on the same server, side by side.

For the JSON example (FastAPI) and the Socket.IO example (python-socketio), each round runs
`--sessions` sessions (connect, one turn to its end, close) one after another with the
harness's client (FramedClient / SocketIOClient, through the example's profile), then with a
plain client written straight on the library (websockets.sync / socketio.Client), alternating
`--repeat` times. Prints each round's sessions per second, then one JSON line per protocol
with the medians and their ratio (goal at least 0.7).

    python benchmarks/protocol_churn.py [--repeat 5] [--sessions 100]
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import socketio
from websockets.sync.client import connect

from harness.load.protocols import protocol_for

ROOT = Path(__file__).parents[1]
TEXT = "Hello! What a nice day it is today?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(ROOT / script), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{script} did not listen on {port}")


def plain_json(url: str) -> None:
    with connect(url, proxy=None) as ws:
        while json.loads(ws.recv(timeout=5)).get("type") != "ready":
            pass
        ws.send(json.dumps({"type": "message", "text": TEXT}))
        while json.loads(ws.recv(timeout=5)).get("type") != "done":
            pass


def plain_socketio(base: str) -> None:
    inbox: queue.Queue[str] = queue.Queue()
    sio = socketio.Client(reconnection=False)
    sio.on("*", lambda event, *args: inbox.put(event))
    sio.connect(base, transports=["websocket"], wait_timeout=5)
    while inbox.get(timeout=5) != "ready":
        pass
    sio.emit("message", {"text": TEXT})
    while inbox.get(timeout=5) != "done":
        pass
    sio.disconnect()


def harness_session(profile: str, url: str) -> Callable[[], None]:
    protocol = protocol_for(str(ROOT / profile))

    def one() -> None:
        session = protocol.session(url, 5.0, None)
        session.connect()
        session.turn(TEXT)
        session.close()

    return one


def rate(one: Callable[[], None], sessions: int) -> float:
    started = time.perf_counter()
    for _ in range(sessions):
        one()
    return sessions / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    cases = [
        ("json", "examples/json_chat/server.py", "examples/json_chat/profile.toml", "/chat",
         lambda url, base: (lambda: plain_json(url))),
        ("socketio", "examples/socketio_chat/server.py", "examples/socketio_chat/profile.toml", "/socket.io",
         lambda url, base: (lambda: plain_socketio(base))),
    ]
    for name, script, profile, path, plain_of in cases:
        port = free_port()
        server = start(script, port)
        try:
            url, base = f"ws://127.0.0.1:{port}{path}", f"http://127.0.0.1:{port}"
            ours, plain = harness_session(profile, url), plain_of(url, base)
            ours(), plain()  # warm both up
            rates: dict[str, list[float]] = {"harness": [], "plain": []}
            for i in range(args.repeat):
                order = [("harness", ours), ("plain", plain)]
                for label, one in order if i % 2 == 0 else order[::-1]:
                    rates[label].append(rate(one, args.sessions))
                    print(f"{name} round {i + 1}: {label} {rates[label][-1]:.1f} sessions/s", flush=True)
            medians = {k: statistics.median(v) for k, v in rates.items()}
            print(json.dumps({"protocol": name, "sessions_per_s": {k: round(v, 1) for k, v in medians.items()},
                              "ratio": round(medians["harness"] / medians["plain"], 3), "goal": ">= 0.7"}))
        finally:
            server.kill()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
