"""serve(): the /client-ws route plus /health, /metrics and /debug/resources."""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import Request, Response, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers

from .faults import Faults
from .handler import ClientSession, HandlerConfig
from .metrics import debug_resources, make_registry, metrics_text
from .state import ChatState

logger = logging.getLogger("server")

WS_PATH = "/client-ws"
WEB_DIR = Path(__file__).parent / "web"
MAX_FRAME_BYTES = 1 << 20
# asyncio's default of 100 overflows when hundreds of clients connect at once, and every
# dropped SYN costs its client a 1 s retransmit (Uvicorn uses 2048).
LISTEN_BACKLOG = 1024


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 12393
    faults: Faults = field(default_factory=Faults)
    allowed_origins: tuple[str, ...] = ()
    handler: HandlerConfig = field(default_factory=HandlerConfig)
    max_frame_bytes: int = MAX_FRAME_BYTES
    log_dir: Path | None = None


def http_response(status: HTTPStatus, body: str, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Cache-Control", "no-store")])
    return Response(status.value, status.phrase, headers, body.encode())


class ChatServer:
    """The websockets server, its routes and the state they share."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.state = ChatState(config.faults)
        self.registry = make_registry(self.state)
        self.port = config.port

    def own_origins(self) -> set[str]:
        hosts = {self.config.host, "127.0.0.1", "localhost", "[::1]"}
        return {f"http://{host}:{self.port}" for host in hosts}

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            origin = request.headers.get("Origin")
            allowed = self.own_origins() | set(self.config.allowed_origins)
            if origin is not None and origin not in allowed:
                logger.warning("rejected Origin %s", origin)
                return http_response(
                    HTTPStatus.FORBIDDEN, f"Origin {origin} is not allowed\n", "text/plain"
                )
            return None
        if path == "/" or path.startswith("/assets/"):
            return self.static(path)
        if path == "/health":
            return http_response(HTTPStatus.OK, "ok\n", "text/plain")
        if path == "/metrics":
            return http_response(
                HTTPStatus.OK, metrics_text(self.registry), "text/plain; version=0.0.4"
            )
        if path == "/debug/resources":
            body = json.dumps(debug_resources(self.state), indent=1)
            return http_response(HTTPStatus.OK, body, "application/json")
        return http_response(HTTPStatus.NOT_FOUND, f"no route {path}\n", "text/plain")

    def static(self, path: str) -> Response:
        """The chat page (built from web/ with Vite; no Node needed at run time)."""
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (WEB_DIR / name).resolve()
        if WEB_DIR.resolve() not in file.parents or not file.is_file():
            return http_response(HTTPStatus.NOT_FOUND, f"no file {path}\n", "text/plain")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        headers = Headers([("Content-Type", kind), ("Cache-Control", "no-store")])
        return Response(HTTPStatus.OK.value, "OK", headers, file.read_bytes())

    async def handler(self, ws: ServerConnection) -> None:
        await ClientSession(ws, self.state, self.config.handler).run()

    async def serve_forever(self, stop: asyncio.Future[None]) -> None:
        log_dir = self.config.log_dir
        tmp = None
        if log_dir is None:
            tmp = tempfile.mkdtemp(prefix="chat-server-logs-")
            log_dir = Path(tmp)
        self.config.handler.log_dir = log_dir
        try:
            async with ws_serve(
                self.handler,
                self.config.host,
                self.config.port,
                process_request=self.process_request,
                max_size=self.config.max_frame_bytes,
                backlog=LISTEN_BACKLOG,
            ) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                logger.info(
                    "serving ws://%s:%d%s faults=%s",
                    self.config.host, self.port, WS_PATH, self.config.faults,
                )
                print(f"LISTENING {self.port}", flush=True)
                await stop
                logger.info("shutting down")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT, SIGTERM or SIGHUP, then close every connection and clean up."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, request_stop)
    await ChatServer(config).serve_forever(stop)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
