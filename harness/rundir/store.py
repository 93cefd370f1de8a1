"""The run directory's files: every name, writer and reader of run.json, samples.jsonl and
status.json lives here. Live and saved data are the same records: the follower and the
loader both hand on `CycleSample`s, or, for the judge alone (`harness gate`), the loader hands
on a saved run's `Columns` (columns.py), read without an object a cycle.

Each file has one writer. run.json: the command that starts the run (`harness run` or `ui`),
or the Locust child for a run it was started on by hand (or a later test in the UI), where
no command wrote one. driver.json: the cycle driver, its own account of how its cycles
ended. status.json: the command, its word on how the run ended (the driver's account, or
what the command saw: interrupted, decided early, cut short). gate.json: `harness gate`.
summary.json and the other reports: `harness run`, `ui`, `report`."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.rundir.columns import Columns, ColumnsBuilder
from harness.rundir.records import CycleSample, RecordError, Run, RunMeta, RunStatus

logger = logging.getLogger("harness.rundir")

META_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
DRAIN_FILE = "drain.jsonl"  # the drain check's samples, idle after the last wave
STATUS_FILE = "status.json"
DRIVER_FILE = "driver.json"  # the cycle driver's own account of how its cycles ended
SUMMARY_FILE = "summary.json"
GATE_FILE = "gate.json"  # `harness gate`'s verdict on a saved run, beside the run's own


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None if the file is absent. Garbage is a UsageError naming it."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: another process may be waiting for the file (the Locust child
    for run.json), and must never read half of it."""
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(part, path)


# -- run.json ------------------------------------------------------------------------


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / META_FILE, meta.to_dict())


def read_meta(run_dir: Path) -> RunMeta | None:
    data = read_json(run_dir / META_FILE)
    if data is None:
        return None
    try:
        return RunMeta.from_dict(data)
    except RecordError as exc:
        raise UsageError(f"{run_dir / META_FILE}: {exc}") from None


# -- status.json ---------------------------------------------------------------------


def write_status(run_dir: Path, status: RunStatus) -> None:
    write_json(run_dir / STATUS_FILE, status.to_dict())


def read_status(run_dir: Path) -> RunStatus | None:
    """How the run ended: the command's word, else (a run Locust was started on by hand) the
    driver's own account; None while the run goes on."""
    data = read_json(run_dir / STATUS_FILE)
    return RunStatus.from_dict(data) if data is not None else read_driver_status(run_dir)


def write_driver_status(run_dir: Path, status: RunStatus) -> None:
    write_json(run_dir / DRIVER_FILE, status.to_dict())


def read_driver_status(run_dir: Path) -> RunStatus | None:
    data = read_json(run_dir / DRIVER_FILE)
    return RunStatus.from_dict(data) if data is not None else None


# -- samples.jsonl -------------------------------------------------------------------


class SampleLog:
    """Appends one line per cycle, flushed at once so a dying run keeps its cycles."""

    def __init__(self, run_dir: Path, name: str = SAMPLES_FILE) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / name
        self.path.touch()

    def append(self, sample: CycleSample) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(sample.to_json() + "\n")
            fh.flush()


PARSE_CHUNK = 2000  # lines parsed as one JSON array: their keys are read once, not per line


def chunks(lines: bytes | Iterable[bytes], first_number: int) -> Iterable[list[tuple[int, bytes]]]:
    """The non-blank lines (a file's bytes, or its lines as they are read), numbered, in
    chunks of `PARSE_CHUNK`."""
    chunk: list[tuple[int, bytes]] = []
    for number, line in enumerate(io.BytesIO(lines) if isinstance(lines, bytes) else lines, start=first_number):
        if line.strip():
            chunk.append((number, line))
            if len(chunk) == PARSE_CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def documents(chunk: list[tuple[int, bytes]]) -> list[Any] | None:
    """The lines of a chunk read as one JSON array, or None if one is not a JSON document."""
    try:
        parsed = json.loads(b"[" + b",".join(line for _, line in chunk) + b"]")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return parsed if len(parsed) == len(chunk) else None  # else a line held a comma of its own


def parse_lines(path: Path, lines: bytes | Iterable[bytes], first_number: int) -> tuple[list[CycleSample], list[str]]:
    """The samples of these lines (a file's bytes, or its lines as they are read); a line that
    is not one is skipped with a warning naming the file and line."""
    samples: list[CycleSample] = []
    warnings: list[str] = []
    for chunk in chunks(lines, first_number):
        parsed = documents(chunk)
        if parsed is not None:
            try:
                samples.extend([CycleSample.from_dict(document) for document in parsed])  # all or none
                continue
            except RecordError:
                pass
        for number, line in chunk:  # one line at a time, to say which is bad
            try:
                samples.append(CycleSample.from_json(line))
            except RecordError as exc:
                warnings.append(f"{path}:{number}: {exc}; line skipped")
    return samples, warnings


def read_columns(path: Path) -> tuple[Columns, list[str]]:
    """The samples of a samples.jsonl as columns (columns.py), never as a `CycleSample` each;
    a line that is not a sample is skipped with a warning naming the file and line."""
    builder = ColumnsBuilder()
    warnings: list[str] = []
    with path.open("rb") as fh:
        for chunk in chunks(fh, 1):
            parsed = documents(chunk)
            if parsed is not None:
                try:
                    builder.add(parsed)
                    continue
                except (ValueError, TypeError, AttributeError):
                    pass
            for number, line in chunk:  # one line at a time: the record's own checks say what is bad
                try:
                    builder.add([CycleSample.from_json(line).to_dict()])
                except RecordError as exc:
                    warnings.append(f"{path}:{number}: {exc}; line skipped")
                except (ValueError, TypeError, AttributeError) as exc:
                    warnings.append(f"{path}:{number}: malformed cycle sample ({exc}); line skipped")
    return builder.build(), warnings


class SampleFollower:
    """Reads the complete lines that the driver has appended since the last call."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / SAMPLES_FILE
        self.offset = 0
        self.lines_read = 0
        self.warnings: list[str] = []

    def new_samples(self) -> list[CycleSample]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        samples, warnings = parse_lines(self.path, complete, self.lines_read + 1)
        self.lines_read += complete.count(b"\n")
        self.warnings += warnings
        return samples


def load_run(path: Path, columns: bool = False) -> Run:
    """A saved run; a truncated or malformed line is skipped with a warning, not fatal. The
    file is read as it is parsed, so a soak's samples are never in memory twice. With
    `columns`, its samples are `Columns` (what the judge reads), not a `CycleSample` each."""
    if not (path / SAMPLES_FILE).exists():
        raise UsageError(f"{path} is not a run directory: no {SAMPLES_FILE}")
    samples: list[CycleSample] | Columns
    if columns:
        samples, warnings = read_columns(path / SAMPLES_FILE)
    else:
        with (path / SAMPLES_FILE).open("rb") as fh:
            samples, warnings = parse_lines(path / SAMPLES_FILE, fh, 1)
    drain, drain_warnings = read_drain(path)
    return Run(path, samples, read_status(path), read_meta(path), warnings + drain_warnings, drain)


def read_drain(run_dir: Path) -> tuple[list[CycleSample], list[str]]:
    """The drain check's samples (none when the run had no drain), and warnings of bad lines."""
    path = run_dir / DRAIN_FILE
    if not path.exists():
        return [], []
    return parse_lines(path, path.read_bytes(), 1)


# -- summary.json and the UI's run directories ----------------------------------------


def read_summary(path: Path) -> dict[str, Any]:
    """A summary.json (a baseline for the gate)."""
    data = read_json(path)
    if data is None:
        raise UsageError(f"baseline {path} does not exist or is not a JSON object")
    return data


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    write_json(run_dir / SUMMARY_FILE, summary)
    return run_dir / SUMMARY_FILE


def next_run_dir(base: Path) -> Path:
    """A fresh run directory: `base`, or base-2, base-3, ... once `base` holds a run."""
    path, n = base, 1
    while (path / SAMPLES_FILE).exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def run_dirs(base: Path) -> list[Path]:
    """Every run directory `next_run_dir(base)` has handed out so far."""
    candidates = [base, *base.parent.glob(f"{base.name}-*")]
    return sorted(p for p in candidates if (p / SAMPLES_FILE).exists())
