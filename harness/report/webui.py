"""The Leaks tab of Locust's web UI, live: the verdict so far with its findings, charts of
probe latency and of every flagged signal that grow as cycles arrive, and the cycles
newest first with few columns (the rest one click away); report.html once the run ends.

The tab is a React component on Locust's own UI, published by Locust as `locust-ui`
(source in web/leaks-tab, built into leaks_ui/ here; rebuild: cd web/leaks-tab && npm
install && npm run build). It polls /leaks/data. No Locust import here: the load stage's
hooks hand `install` the web UI and feed the board each sample as the driver takes it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from harness.judge.analysis import Analysis, analyze
from harness.judge.early import looks_at
from harness.judge.series import PER_CLIENT_GAUGES, listed, rate_series, rss_series, series
from harness.judge.signal import Signal
from harness.judge.verdict import WARMING_UP, Judge
from harness.report.summary import wave_label
from harness.rundir.records import CycleSample

LEAKS_UI = Path(__file__).parent / "leaks_ui"
LOCUST_DEFAULT_UI = ("locust", "webui", "dist")
SHORT = {name: Signal.parse(name).short for name in PER_CLIENT_GAUGES}
BASE_COLUMNS = ["cycle", "wave", "verdict", "sessions", "probe_ms"]
MAX_SIGNAL_CHARTS = 5
MAX_CENSUS_COLUMNS = 3


def row_of(sample: CycleSample, verdict: str) -> dict[str, Any]:
    server, process, probe = sample.server, sample.process, sample.probe
    reply = sample.step("reply")
    row: dict[str, Any] = {
        "cycle": sample.cycle,
        "wave": wave_label(sample),
        "verdict": verdict,
        "sessions": f"{sample.sessions.completed} ok / {sample.sessions.failed} failed",
        "probe_ms": round(probe.reply_ms, 1) if probe.ok and probe.reply_ms is not None else "failed",
        "wave_p95_ms": round(reply.p95, 1) if reply and reply.p95 is not None else "",
        "asyncio_tasks": server.get("chat_asyncio_tasks", ""),
        "rss_mib": round(process.rss_bytes / 2**20, 1) if process else "",
        "open_fds": process.open_fds if process else "",
    }
    for name, short in SHORT.items():
        row[short] = server.get(name, "")
    return row


def column_of(metric: str) -> str:
    """The table column that shows a flagged metric."""
    if Signal.parse(metric).source == "census":  # objects:pkg.mod.Type -> Type; tasks:Coro.name @ f.py:1 -> Coro.name
        return Signal.parse(metric).short
    if metric in SHORT:
        return SHORT[metric]
    return {"chat_asyncio_tasks": "asyncio_tasks", "memory.rss": "rss_mib", "process.open_fds": "open_fds",
            "probe.reply_ms": "probe_ms", "wave.reply.p95": "wave_p95_ms"}.get(metric, metric)


class LeaksBoard:
    """The current run as the tab shows it, updated as each sample arrives."""

    def __init__(self) -> None:
        self.start(0, None)

    def start(self, planned_cycles: int, run_dir: Path | None) -> None:
        """A new run (a new test in the UI) replaces the last one."""
        self.judge = Judge(planned_cycles)
        self.run_dir = run_dir
        self.analysis: Analysis | None = None
        self.finished = False
        self._rows: list[dict[str, Any]] = []
        self._looked = 0

    def add(self, sample: CycleSample) -> None:
        self.judge.add(sample)
        n = len(self.judge.samples)
        if self.analysis is None or looks_at(n, self._looked):  # a soak's tab re-judges every n/100 cycles
            self._looked = n
            self.analysis = self.judge.analysis_so_far()
        self._rows.append(row_of(sample, self.analysis.verdict if self.analysis else WARMING_UP))

    def finish(self) -> None:
        self.finished = True
        self.analysis = self.judge.analysis_so_far()  # the last cycles, whatever the schedule

    def data(self) -> dict[str, Any]:
        """What /leaks/data answers: everything the tab draws."""
        samples = self.judge.samples
        columns = self.judge.columns()
        failing = self.analysis.failing() if self.analysis else []
        flagged = [m.name for m in failing]
        cycles = [s.cycle for s in samples]
        rates = rate_series(columns) if any(Signal.parse(n).derived for n in flagged) else {}
        charts = [{"name": "probe", "title": "probe reply (ms)", "values": listed(series(columns, "probe.reply_ms"))}]
        for metric in failing[:MAX_SIGNAL_CHARTS]:
            if metric.name == "probe.reply_ms":
                continue
            if metric.name in rates:
                values = rates[metric.name]
            else:
                values = rss_series(columns) if metric.name == "memory.rss" else series(columns, metric.name)
            title = Signal.parse(metric.name).label.replace("`", "")
            charts.append({"name": metric.name, "title": title, "values": listed(values)})
        in_census = {n for n in flagged if Signal.parse(n).source == "census"}
        census = [n for n in flagged if n in in_census][:MAX_CENSUS_COLUMNS]  # most per session first
        flagged = [n for n in flagged if n not in in_census] + census
        shown = BASE_COLUMNS + [c for c in dict.fromkeys(column_of(n) for n in flagged) if c not in BASE_COLUMNS]
        rows = self._rows
        if census:  # the census groups that grew, which no row held when it was made
            grown = {column_of(n): listed(series(columns, n)) for n in census}
            rows = [row | {column: values[i] for column, values in grown.items()} for i, row in enumerate(rows)]
        report = self.run_dir is not None and self.finished and (self.run_dir / "report.html").exists()
        return {
            "verdict": self.analysis.verdict if self.analysis else WARMING_UP,
            "cycle": len(samples),
            "planned": self.judge.planned,
            "finished": self.finished,
            "warmup": self.analysis.warmup if self.analysis else len(samples),
            "findings": [{"name": m.name, "text": m.reason, "by_behaviour": m.to_dict()["by_behaviour"]}
                         for m in failing]
            + notes(self.analysis),
            "cycles": cycles,
            "charts": charts,
            "columns": shown,
            "all_columns": list(rows[0]) if rows else shown,
            "rows": rows[::-1],
            "report": "./leaks/report.html" if report else None,
        }

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


def notes(analysis: Analysis | None) -> list[dict[str, Any]]:
    """What keeps a run without findings from passing, as findings the tab lists: the
    instruments that failed, the verdicts a change of the machine (or the probe) took from the
    server, and the signals too short to judge."""
    if analysis is None:
        return []
    out = [{"name": failures.instrument, "text": failures.describe()} for failures in analysis.instruments]
    out += [{"name": f"machine {i}" if i else "machine", "text": change.describe()}
            for i, change in enumerate(analysis.machine)]
    out += [{"name": m.name, "text": f"confounded: {m.reason}"} for m in analysis.confounded()]
    out += [{"name": m.name, "text": m.reason} for m in analysis.bounded()]
    out += [{"name": m.name, "text": m.reason} for m in analysis.under_load()]
    out += [{"name": short.signal, "text": f"too short to judge: needs {short.needs} cycles ({short.why})"}
            for short in analysis.too_short]
    return out


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
    """Serve Locust's UI with the Leaks tab (unless the user chose another build with
    --build-path), and add the tab's data, the CSV, the plots and report.html routes."""
    from flask import Response, send_file

    app = web_ui.app
    if Path(app.template_folder).parts[-3:] == LOCUST_DEFAULT_UI:
        app.template_folder = str(LEAKS_UI)
    web_ui.template_args.update(
        extended_csv_files=[
            {"href": "/leaks/samples.csv", "title": "Leaks: samples of every cycle (CSV)"},
            {"href": "/leaks/latency.png", "title": "Leaks: latency.png of the run so far"},
            {"href": "/leaks/resources.png", "title": "Leaks: resources.png of the run so far"},
            {"href": "/leaks/memory.png", "title": "Leaks: memory.png of the run so far"},
        ],
    )

    @app.route("/leaks/data")
    def leaks_data() -> Response:
        return Response(json.dumps(board.data()), mimetype="application/json")

    @app.route("/leaks/report.html")
    def leaks_report() -> Any:
        path = board.run_dir / "report.html" if board.run_dir else None
        if path is None or not path.exists():
            return Response("the report is written when the run ends\n", status=404, mimetype="text/plain")
        return send_file(path.resolve(), mimetype="text/html")

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
