"""python -m server: run the bundled chat server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .agent import LatencyModel
from .app import ServerConfig, configure_logging, serve
from .faults import FAULTS, UnknownFault, parse_faults
from .handler import SAMPLE_RATE, HandlerConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="The fixed chat server (Open-LLM-VTuber /client-ws protocol).",
        epilog="faults: " + "; ".join(f"{k}: {v}" for k, v in FAULTS.items()),
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12393, help="0 picks a free port")
    parser.add_argument(
        "--leak", action="append", default=[], metavar="FAULT",
        help="enable a fault from the catalogue (repeatable; 'all' = the pre-fix server)",
    )
    parser.add_argument(
        "--allowed-origin", action="append", default=[], metavar="ORIGIN",
        help="browser Origin allowed besides the server's own (repeatable)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-dir", type=Path, default=None, help="per-client log files")
    parser.add_argument("--playback-timeout", type=float, default=10.0)
    parser.add_argument(
        "--audio-buffer-seconds", type=float, default=30.0,
        help="per-client mic audio cap; frames past it are refused",
    )
    parser.add_argument(
        "--llm-url", default=None,
        help="OpenAI-compatible base URL (e.g. http://127.0.0.1:PORT/v1 of harness fake-llm) "
        "for the agent's replies instead of the built-in latency model",
    )
    parser.add_argument("--sentences", type=int, default=3, help="sentences per reply")
    parser.add_argument("--decode-ms", type=float, default=4.0, help="decode time per sentence")
    parser.add_argument("--prefill-us-per-token", type=float, default=15.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        faults = parse_faults(args.leak)
    except UnknownFault as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_level)
    model = LatencyModel(
        sentences=args.sentences,
        decode_ms_per_sentence=args.decode_ms,
        prefill_us_per_token=args.prefill_us_per_token,
    )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        faults=faults,
        allowed_origins=tuple(args.allowed_origin),
        handler=HandlerConfig(
            model=model,
            playback_timeout=args.playback_timeout,
            audio_buffer_cap=int(args.audio_buffer_seconds * SAMPLE_RATE),
            llm_url=args.llm_url,
        ),
        log_dir=args.log_dir,
    )
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
