"""Synthetic samples for analysis tests: what a run of the given shape would write."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.rundir.records import CycleSample

MiB = 2**20
Shape = Callable[[int], float]


def flat(value: float) -> Shape:
    return lambda t: value


def make_lines(
    cycles: int = 50,
    users: int = 10,
    *,
    rss: Shape = flat(30 * MiB),
    tasks: Shape = flat(2),
    probe: Shape = flat(20.0),
    per_client: dict[str, Shape] | None = None,
    fds: Shape = flat(11),
    idle_cpu: Shape = flat(0.0),
    noise: float = 0.0,
    seed: int = 0,
    failed: Callable[[int], int] = lambda t: 0,
    probe_ok: Callable[[int], bool] = lambda t: True,
    wave: Shape | None = None,
    control: dict[str, Shape] | None = None,
) -> list[CycleSample]:
    """Lines with heavy-tailed (Student t, df=2) noise of relative size `noise` on the
    continuous figures; counters stay integers. `wave` shapes the waves' reply latency
    (else it follows the probe's), `control` the machine's figures (cpu_ms, rtt_ms, others_cpu)."""
    rng = np.random.default_rng(seed)

    def jitter(value: float) -> float:
        if not noise:
            return value
        return max(0.0, value * (1 + noise * float(np.clip(rng.standard_t(2), -20, 20))))

    lines = []
    for t in range(cycles):
        server = {name: 0.0 for name in ("chat_clients", "chat_contexts", "chat_heartbeats")}
        for name, shape in (per_client or {}).items():
            server[name] = float(round(shape(t)))
        server["chat_asyncio_tasks"] = float(round(tasks(t)))
        server["chat_sessions_total"] = float(users * (t + 1))
        ok = probe_ok(t)
        reply = jitter(probe(t))
        lines.append(
            {
                "cycle": t + 1,
                "sessions": {
                    "attempted": users,
                    "completed": users - failed(t),
                    "failed": failed(t),
                    "failures": {"reply timeout": failed(t)} if failed(t) else {},
                },
                "latency": {"reply": {"p50": jitter((wave or probe)(t)) * 2, "p95": jitter((wave or probe)(t)) * 3}},
                "probe": {
                    "ok": ok,
                    "reply_ms": reply if ok else None,
                    "first_token_ms": reply / 2 if ok else None,
                    "error": None if ok else "reply timeout",
                },
                "server": server,
                "process": {
                    "rss_bytes": jitter(rss(t)) if noise else rss(t),
                    "open_fds": float(round(fds(t))),
                    "threads": 1.0,
                    "close_wait": 0.0,
                    "idle_cpu": idle_cpu(t),
                },
                "control": {name: jitter(shape(t)) for name, shape in (control or {}).items()},
            }
        )
    return [CycleSample.from_dict(line) for line in lines]
