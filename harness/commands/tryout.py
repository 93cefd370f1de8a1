"""`harness try`: one session of each behaviour the protocol expresses, against the target,
printing every frame sent and received with its time and what it matched. The first command
to run on your own server: it says "this profile works" or the first step that failed, why,
and the frames that came instead.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import EXIT_FAIL
from harness.load.behaviours import BY_NAME
from harness.load.client import SessionError
from harness.load.protocols import Protocol, protocol_of
from harness.options import RunOptions
from harness.target.up import target_up

Echo = Callable[[str], None]
FRAME_CHARS = 110


def shown(frame: object) -> str:
    """A frame on one line, cut to FRAME_CHARS (audio chunks are long)."""
    text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
    return text if len(text) <= FRAME_CHARS else text[: FRAME_CHARS - 3] + "..."


class Tracer:
    """Prints each frame of one session: ms since it began, direction, frame, what it matched."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.started = time.perf_counter()
        self.frames = 0

    def __call__(self, direction: str, frame: object, matched: str) -> None:
        self.frames += 1
        ms = (time.perf_counter() - self.started) * 1000
        note = f"   [{matched}]" if matched else ""
        self.echo(f"    {ms:8.1f} ms  {direction}  {shown(frame)}{note}")


def try_protocol(options: RunOptions, echo: Echo) -> int:
    """Run each behaviour once; 0 if every one worked, 1 at the first that did not."""
    options.validate_target()
    protocol = protocol_of(options)
    options.out = Path(tempfile.mkdtemp(prefix="harness-try-"))  # the server's log, kept if anything failed
    code = EXIT_FAIL
    try:
        with target_up(options, echo) as running:
            url = running.target.ws_url
            echo(f"protocol {protocol.name} on {url}")
            for behaviour, why in protocol.left_out().items():
                echo(f"  {behaviour}: left out ({why})")
            code = try_each(protocol, url, options.reply_timeout, echo)
    finally:
        if code == 0:
            shutil.rmtree(options.out, ignore_errors=True)
        elif any(options.out.iterdir()):
            echo(f"the server's output: {options.out}")
        else:
            options.out.rmdir()
    return code


def try_each(protocol: Protocol, url: str, timeout: float, echo: Echo) -> int:
    names = protocol.behaviours
    for i, name in enumerate(names, 1):
        echo(f"[{i}/{len(names)}] {name}")
        tracer = Tracer(echo)
        session = protocol.session(url, timeout, tracer)
        tracer.started = time.perf_counter()  # from the first step, not the client's making
        steps: list[tuple[str, float]] = []

        def record(step: str, ms: float, steps: list[tuple[str, float]] = steps) -> None:
            steps.append((step, ms))

        try:
            BY_NAME[name](session, record)
        except SessionError as exc:
            after = f" after its {steps[-1][0]} step" if steps else ""
            echo(f"  FAILED{after}: {exc}")
            if tracer.frames == 0:
                echo("  (no frame was sent or received)")
            echo(f"the profile does not work: {name} failed{after} ({exc.reason}); "
                 f"{i - 1}/{len(names)} behaviours worked before it")
            return EXIT_FAIL
        finally:
            session.drop()
        echo("  ok: " + ", ".join(f"{step} {ms:.1f} ms" for step, ms in steps))
    echo(f"this profile works: {len(names)}/{len(names)} behaviours ({', '.join(names)})")
    return 0
