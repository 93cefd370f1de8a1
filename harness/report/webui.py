"""The Leaks tab of Locust's web UI: one row per finished cycle, the verdict so far, a
CSV of samples.jsonl and the latest plots.

No Locust import here: `install` gets the Locust environment from scenarios/common.py
and uses only its Flask app (Locust 2.x `extended_tabs` / `extended_tables` /
`extended_stats`, as in Locust's examples/extend_web_ui.py).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.judge.analysis import PER_CLIENT_GAUGES, Config, analyze, default_warmup
from harness.load.driver import SAMPLES_FILE
from harness.rundir.store import load_run

KEY = "leaks"
SHORT = {name: name.removeprefix("chat_") for name in PER_CLIENT_GAUGES}


def row_of(line: dict[str, Any], verdict: str) -> dict[str, Any]:
    server, process = line.get("server", {}), line.get("process", {})
    probe = line.get("probe", {})
    reply = (line.get("latency") or {}).get("reply") or {}
    row: dict[str, Any] = {
        "cycle": line["cycle"],
        "sessions": f"{line['sessions']['completed']} ok / {line['sessions']['failed']} failed",
        "probe_ms": round(probe["reply_ms"], 1) if probe.get("ok") else "failed",
        "wave_p95_ms": round(reply["p95"], 1) if reply.get("p95") is not None else "",
    }
    for name, short in SHORT.items():
        row[short] = server.get(name, "")
    row["asyncio_tasks"] = server.get("chat_asyncio_tasks", "")
    row["rss_mib"] = round(process["rss_bytes"] / 2**20, 1) if "rss_bytes" in process else ""
    row["open_fds"] = process.get("open_fds", "")
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
    """Rows for the current run directory, judged incrementally as lines arrive."""

    def __init__(self, run_dir: Callable[[], Path | None]) -> None:
        self.run_dir = run_dir
        self._dir: Path | None = None
        self._rows: list[dict[str, Any]] = []

    def rows(self) -> list[dict[str, Any]]:
        path = self.run_dir()
        if path is None or not (path / SAMPLES_FILE).exists():
            return self._rows
        if path != self._dir:
            self._dir, self._rows = path, []
        run = load_run(path)
        planned = int(run.meta.get("cycles") or len(run.lines))
        warmup = default_warmup(planned)
        config = Config(warmup=warmup)
        for k in range(len(self._rows), len(run.lines)):
            verdict = analyze(run.lines[: k + 1], config).verdict
            if k + 1 < warmup + config.min_post_warmup_cycles:
                verdict = "warming up"
            self._rows.append(row_of(run.lines[k], verdict))
        return self._rows

    def csv(self) -> str:
        path = self.run_dir()
        lines = load_run(path).lines if path and (path / SAMPLES_FILE).exists() else []
        flat = [flatten(line) for line in lines]
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
        from harness.report.plots import latency_figure, memory_figure, resources_figure

        path = self.run_dir()
        if path is None or not (path / SAMPLES_FILE).exists():
            return None
        run = load_run(path)
        if not run.lines:
            return None
        draw = {"latency.png": latency_figure, "resources.png": resources_figure,
                "memory.png": memory_figure}[name]
        analysis = analyze(run.lines, status=run.status)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / name
            draw(run.lines, analysis, target)
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
