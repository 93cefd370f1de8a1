"""The Leaks tab of Locust's web UI: one row per finished cycle, the verdict so far, a
CSV of the samples and the latest plots.

No Locust import here: the load stage's Locust hooks hand `install` the web UI and feed
the board each sample as the driver takes it, so nothing is read back from disk. Uses
only Locust's Flask app (Locust 2.x `extended_tabs` / `extended_tables` /
`extended_stats`, as in Locust's examples/extend_web_ui.py).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from harness.judge.analysis import analyze
from harness.judge.series import PER_CLIENT_GAUGES
from harness.judge.verdict import Judge
from harness.rundir.records import CycleSample

KEY = "leaks"
SHORT = {name: name.removeprefix("chat_") for name in PER_CLIENT_GAUGES}


def row_of(sample: CycleSample, verdict: str) -> dict[str, Any]:
    server, process, probe = sample.server, sample.process, sample.probe
    reply = sample.step("reply")
    row: dict[str, Any] = {
        "cycle": sample.cycle,
        "sessions": f"{sample.sessions.completed} ok / {sample.sessions.failed} failed",
        "probe_ms": round(probe.reply_ms, 1) if probe.ok and probe.reply_ms is not None else "failed",
        "wave_p95_ms": round(reply.p95, 1) if reply and reply.p95 is not None else "",
    }
    for name, short in SHORT.items():
        row[short] = server.get(name, "")
    row["asyncio_tasks"] = server.get("chat_asyncio_tasks", "")
    row["rss_mib"] = round(process.rss_bytes / 2**20, 1) if process else ""
    row["open_fds"] = process.open_fds if process else ""
    row["verdict"] = verdict
    return row


STRUCTURE = [
    {"key": "cycle", "title": "Cycle"},
    {"key": "verdict", "title": "Verdict so far"},
    {"key": "sessions", "title": "Sessions"},
    {"key": "probe_ms", "title": "Probe reply (ms)"},
    {"key": "wave_p95_ms", "title": "Wave reply p95 (ms)"},
    {"key": "asyncio_tasks", "title": "asyncio tasks"},
    {"key": "rss_mib", "title": "RSS (MiB)"},
    {"key": "open_fds", "title": "open fds"},
    *({"key": short, "title": short} for short in SHORT.values()),
]


class LeaksBoard:
    """The current run's rows, each with the verdict of the run up to that cycle."""

    def __init__(self) -> None:
        self.judge = Judge(0)
        self._rows: list[dict[str, Any]] = []

    def start(self, planned_cycles: int) -> None:
        """A new run (a new test in the UI) replaces the last one."""
        self.judge = Judge(planned_cycles)
        self._rows = []

    def add(self, sample: CycleSample) -> None:
        self.judge.add(sample)
        self._rows.append(row_of(sample, self.judge.so_far()))

    def rows(self) -> list[dict[str, Any]]:
        return self._rows

    def csv(self) -> str:
        flat = [flatten(sample.to_dict()) for sample in self.judge.samples]
        columns: dict[str, None] = {}
        for row in flat:
            columns.update(dict.fromkeys(row))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(flat)
        return out.getvalue()

    def figure(self, name: str) -> bytes | None:
        """Render latency.png / resources.png / memory.png of the run so far."""
        from harness.report.plots import FIGURES  # matplotlib only once someone asks

        samples = list(self.judge.samples)
        if not samples:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / name
            FIGURES[name](samples, analyze(samples), target)
            return target.read_bytes()


def flatten(line: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in line.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value)
        else:
            flat[name] = value
    return flat


def install(web_ui: Any, board: LeaksBoard) -> None:
    """Add the Leaks tab, its data, the CSV and the plot routes to Locust's Flask app."""
    from flask import Response, request

    app = web_ui.app
    web_ui.template_args.update(
        extended_tabs=[{"title": "Leaks", "key": KEY}],
        extended_tables=[{"key": KEY, "structure": STRUCTURE}],
        extended_csv_files=[
            {"href": "/leaks/samples.csv", "title": "Leaks: samples of every cycle (CSV)"},
            {"href": "/leaks/latency.png", "title": "Leaks: latency.png of the run so far"},
            {"href": "/leaks/resources.png", "title": "Leaks: resources.png of the run so far"},
            {"href": "/leaks/memory.png", "title": "Leaks: memory.png of the run so far"},
        ],
    )

    @app.after_request
    def add_leak_rows(response: Response) -> Response:
        if request.path != "/stats/requests" or response.json is None:
            return response
        data = dict(response.json)
        data["extended_stats"] = [*data.get("extended_stats", []), {"key": KEY, "data": board.rows()}]
        response.set_data(json.dumps(data))
        return response

    @app.route("/leaks/samples.csv")
    def leaks_csv() -> Response:
        return Response(board.csv(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment;filename=samples.csv"})

    @app.route("/leaks/<any('latency.png', 'resources.png', 'memory.png'):name>")
    def leaks_figure(name: str) -> Response:
        data = board.figure(name)
        if data is None:
            return Response("no cycle has finished yet\n", status=404, mimetype="text/plain")
        return Response(data, mimetype="image/png")
