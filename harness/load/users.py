"""The abstract `ChatUser` that every scenario file subclasses: one Locust task run is one
session of the current wave. Importing it also registers the cycle driver's Locust hooks."""

from __future__ import annotations

import time

from locust import User, constant, task

from harness.load import hooks  # noqa: F401 - registers the cycle driver's event listeners
from harness.load.behaviours import BY_NAME
from harness.load.client import SessionError
from harness.load.protocols import ProfileError, protocol_for
from harness.load.wave import WAVE

DEFAULT_HOST = hooks.DEFAULT_HOST


class ChatUser(User):
    """One client of the chat protocol. Each task run is one session of one wave, running
    the behaviour the wave design gave its token (`scenario` only names the plan)."""

    abstract = True
    host = DEFAULT_HOST
    wait_time = constant(0)
    scenario = "clean_close"

    @task
    def session(self) -> None:
        name = WAVE.take()
        if name is None:
            return
        try:
            protocol = protocol_for(WAVE.protocol)
        except ProfileError as exc:  # a worker whose machine has no such profile: every session says so
            self.fire("session", 0.0, exc)
            WAVE.finish("bad protocol")
            return
        client = protocol.session(WAVE.url or self.host or DEFAULT_HOST, WAVE.reply_timeout, None)
        behaviour = BY_NAME[name]
        reason: str | None = None
        started = time.perf_counter()
        try:
            behaviour(client, self.record)
        except SessionError as exc:
            reason = exc.reason
            self.fire("session", (time.perf_counter() - started) * 1000, exc)
        finally:
            # Also on GreenletExit (a stop): the socket goes, and as WAVE.finish below is
            # not reached, a session cut short never counts, and its unfinished step was
            # never fired, so no cut-short step is recorded as a good latency.
            client.drop()
        WAVE.finish(reason)

    def record(self, name: str, ms: float) -> None:
        WAVE.record(name, ms)
        self.fire(name, ms, None)

    def fire(self, name: str, ms: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=ms, response_length=0,
            exception=exception, context={},
        )
