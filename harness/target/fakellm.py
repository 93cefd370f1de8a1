"""`harness fake-llm`: an OpenAI-compatible model server that costs nothing.

Its latency follows a prefill + decode model like a real model server, and it records
the prompt size of every request on its own /metrics, so a chat server whose memory leaks
across sessions shows up as prompt tokens per request climbing, before latency moves.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
import uuid
import wave
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REPLY = "Sure. Here is a short answer from the fake model. It costs nothing and says little."


class Model:
    """Timing and bookkeeping shared by all request threads."""

    def __init__(self, prefill_us_per_token: float, decode_ms_per_token: float) -> None:
        self.prefill_us_per_token = prefill_us_per_token
        self.decode_ms_per_token = decode_ms_per_token
        self.registry = CollectorRegistry()
        self.prompt_tokens = Histogram(
            "fake_llm_prompt_tokens", "Prompt size of each chat completion request, in tokens",
            buckets=(16, 64, 256, 1024, 4096, 16384, 65536), registry=self.registry,
        )
        self.requests = Counter(
            "fake_llm_requests", "Requests by endpoint", ["endpoint"], registry=self.registry
        )
        self.lock = threading.Lock()


def count_tokens(messages: Any) -> int:
    """Whitespace tokens of every message's text (string or OpenAI content parts)."""
    total = 0
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            total += sum(len(str(p.get("text", "")).split()) for p in content if isinstance(p, dict))
    return total


def short_wav(seconds: float = 0.1, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


class Handler(BaseHTTPRequestHandler):
    server: FakeLLMServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: HTTPStatus, message: str) -> None:
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def do_GET(self) -> None:
        model = self.server.model
        if self.path == "/v1/models":
            model.requests.labels("models").inc()
            self.send_json(HTTPStatus.OK, {"object": "list", "data": [
                {"id": "fake-llm", "object": "model", "created": 0, "owned_by": "harness"}]})
        elif self.path == "/metrics":
            data = generate_latest(model.registry)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/health":
            self.send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self.error(HTTPStatus.NOT_FOUND, f"no route {self.path}")

    def read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            self.error(HTTPStatus.BAD_REQUEST, f"body is not JSON: {exc.msg}")
            return None
        if not isinstance(body, dict):
            self.error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return None
        return body

    def do_POST(self) -> None:
        body = self.read_body()
        if body is None:
            return
        if self.path == "/v1/chat/completions":
            self.chat(body)
        elif self.path == "/v1/audio/speech":
            self.server.model.requests.labels("speech").inc()
            data = short_wav()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.error(HTTPStatus.NOT_FOUND, f"no route {self.path}")

    def chat(self, body: dict[str, Any]) -> None:
        model = self.server.model
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self.error(HTTPStatus.BAD_REQUEST, "'messages' must be a non-empty list")
            return
        tokens = count_tokens(messages)
        model.requests.labels("chat").inc()
        model.prompt_tokens.observe(tokens)
        time.sleep(tokens * model.prefill_us_per_token / 1e6)
        words = REPLY.split(" ")
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        name = str(body.get("model") or "fake-llm")
        if not body.get("stream"):
            time.sleep(len(words) * model.decode_ms_per_token / 1e3)
            self.send_json(HTTPStatus.OK, {
                "id": ident, "object": "chat.completion", "created": created, "model": name,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": REPLY}}],
                "usage": {"prompt_tokens": tokens, "completion_tokens": len(words),
                          "total_tokens": tokens + len(words)},
            })
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

        def chunk(delta: dict[str, str], finish: str | None) -> None:
            event = {"id": ident, "object": "chat.completion.chunk", "created": created,
                     "model": name, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()

        try:
            chunk({"role": "assistant", "content": ""}, None)
            for i, word in enumerate(words):
                time.sleep(model.decode_ms_per_token / 1e3)
                chunk({"content": word if i == 0 else " " + word}, None)
            chunk({}, "stop")
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client left mid-stream: stop decoding, as a real server does


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: Model) -> None:
        super().__init__(address, Handler)
        self.model = model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness fake-llm", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--prefill-us-per-token", type=float, default=20.0)
    parser.add_argument("--decode-ms-per-token", type=float, default=1.0)
    args = parser.parse_args(argv)
    server = FakeLLMServer((args.host, args.port), Model(args.prefill_us_per_token, args.decode_ms_per_token))
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
