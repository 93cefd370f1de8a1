"""The `harness` command: thin Click wrappers over the commands and stages.

Each command returns its exit code; `main` is the one place that turns errors into codes."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness import __version__
from harness.errors import EXIT_INCONCLUSIVE, EXIT_USAGE, HarnessError, interruption
from harness.options import SCENARIOS, RunOptions, default_out, fault_names
from harness.rundir.store import GATE_FILE, load_run, read_summary, write_json
from harness.target.children import signals_handled

if TYPE_CHECKING:
    from harness.judge.verdict import Judgement

# The judge (scipy) and the reports (matplotlib) are imported where a command needs them:
# `harness run` starts Locust first, which boots meanwhile.

CONTEXT = {"auto_envvar_prefix": "HARNESS", "help_option_names": ["-h", "--help"]}


def echo(message: str) -> None:
    click.echo(message)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Leak-detection stress harness for WebSocket chat servers."""


def run_options(command: str):  # type: ignore[no-untyped-def]
    """The Click options of `command`, one per field of RunOptions that it takes, made from
    the field's name, default and `cli` entry (options.py), in the fields' order."""

    def decorate(func):  # type: ignore[no-untyped-def]
        for f in reversed(fields(RunOptions)):
            spec = dict(f.metadata.get("cli") or {})
            if command not in spec.pop("commands", ()):
                continue
            override = spec.pop("ui", {})
            if command == "ui":
                spec.update(override)
            flag = spec.pop("flag", "--" + f.name.replace("_", "-"))
            choices = spec.pop("choices", None)
            if choices is not None:
                spec["type"] = click.Choice(list(choices() if callable(choices) else choices))
            path = spec.pop("path", None)
            if path is not None:
                spec["type"] = click.Path(path_type=Path, **path)
            if not spec.get("is_flag") and "default" not in spec:
                spec["default"] = f.default
            if not spec.get("help"):
                spec.pop("help", None)
            func = click.option(flag, f.name, **spec)(func)
        return func

    return decorate


@cli.command()
@run_options("run")
def run(out: Path | None, **given: Any) -> int:
    """Churn clients in waves against a server and judge leaks and latency.

    With no --server-cmd or --target, the bundled server is started and stopped."""
    from harness.load.launch import start_early
    from harness.target.children import signals_deferred

    options = RunOptions(**given)
    if out is not None:
        options.out = out
    locusts = start_early(options)
    try:
        # Ctrl-C while the judge's modules load (a second or two on a slow machine, Locust
        # already booting) is held, then handled by the run like one that lands later.
        with signals_deferred() as pending:
            from harness.commands.run import run as run_job
            from harness.judge.analysis import Config

        return conclude(run_job(options, echo, Config(warmup=options.warmup), locusts=locusts, pending=pending))
    finally:
        for process in locusts:
            process.stop()


def conclude(judgement: Judgement) -> int:
    from harness.report.html import REPORT_FILE
    from harness.report.summary import headline

    click.echo(headline(judgement))
    click.echo(f"reports: {judgement.run.path}/summary.md")
    click.echo(f"open: {judgement.run.path / REPORT_FILE}")
    return judgement.exit_code


@cli.command()
@run_options("ui")
@click.option("--web-port", default=8089, show_default=True)
def ui(out: Path | None, web_port: int, **given: Any) -> int:
    """Locust's web UI with the cycle driver and a live Leaks tab."""
    from harness.commands.ui import serve_ui

    options = RunOptions(**given)
    options.out = out or default_out().with_name("ui-" + default_out().name)
    options.validate_target()
    return serve_ui(options, echo, web_port)


@cli.command(name="try")
@run_options("try")
def try_(**given: Any) -> int:
    """One session of each behaviour, printing every frame: does the protocol fit the server?

    Run it first on your own server, with --server-cmd or --target and --protocol."""
    from harness.commands.tryout import try_protocol

    return try_protocol(RunOptions(**given), echo)


@cli.command()
@click.option("--master-host", required=True, help="Where `harness run --workers` or `locust --master` runs.")
@click.option("--master-port", default=5557, show_default=True)
@click.option("--scenario", default="mixed", show_default=True, type=click.Choice(SCENARIOS))
def worker(master_host: str, master_port: int, scenario: str) -> int:
    """A Locust worker for a master on another machine."""
    from harness.load.launch import LocustProcess, worker_command

    worker = LocustProcess(worker_command(scenario, master_host, master_port, None), log=None)
    try:
        return worker.proc.wait()
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP
        click.echo(f"{interruption(exc)}: stopping the worker", err=True)
        return EXIT_INCONCLUSIVE
    finally:
        worker.stop()


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--baseline", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="A summary.json to compare against.")
@click.option("--warmup", type=int, default=None, help="Cycles left out of the verdicts [default: a tenth, 1..5].")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=f"Where the gate's verdict goes [default: RUN_DIR/{GATE_FILE}].")
def gate(run_dir: Path, baseline: Path | None, warmup: int | None, out: Path | None) -> int:
    """Re-judge a saved run (no load) and exit with its verdict.

    The run's own reports are left as they are; the gate's judgement (summary.json's layout,
    with the comparison to --baseline) goes to gate.json. `harness report` re-renders them."""
    from harness.judge.analysis import Config
    from harness.judge.verdict import judge
    from harness.report.summary import headline

    run = load_run(run_dir, columns=True)  # the judge reads a soak as arrays, not an object a cycle
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    reference = read_summary(baseline) if baseline else None
    judgement = judge(run, Config(warmup=warmup), reference, baseline)
    out = out or run_dir / GATE_FILE
    write_json(out, judgement.to_dict())
    click.echo(headline(judgement))
    click.echo(f"gate: {out}")
    return judgement.exit_code


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def report(run_dir: Path) -> int:
    """Re-render the plots and summaries of a saved run."""
    from harness.judge.verdict import judge
    from harness.report.summary import headline, write_reports

    judgement = judge(load_run(run_dir, columns=True))
    for path in write_reports(judgement):
        click.echo(f"wrote {path}")
    click.echo(headline(judgement))
    return 0


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path), default=Path("compare.png"), show_default=True)
def compare(run_dirs: tuple[Path, ...], out: Path) -> int:
    """Overlay several runs' curves on one figure."""
    from harness.report.plots import compare_figure

    runs = [load_run(path) for path in run_dirs]
    compare_figure([(r.label, r.samples) for r in runs], out)
    click.echo(f"wrote {out}")
    return 0


@cli.command()
@click.option("--cycles", default=30, show_default=True,
              help="Cycles per run (faults stop early); under 22 the fixed server is too short to judge.")
@click.option("--repeat", default=3, show_default=True, help="Runs per target.")
@click.option("--users", default=10, show_default=True)
@click.option("--fault", "faults", multiple=True, type=click.Choice(fault_names()[:-1]),
              help="Only these faults (repeatable). [default: every fault]")
@click.option("--cpu-hog", is_flag=True, help="Keep one core busy with a spinning process meanwhile.")
@click.option("--cpu-step", is_flag=True,
              help="Instead: the fixed server and the handlers fault, each with a CPU hog started a third "
                   "of the way in; the first must not fail, the second must be caught.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: reports/selftest-<timestamp>]")
def selftest(cycles: int, repeat: int, users: int, faults: tuple[str, ...], cpu_hog: bool, cpu_step: bool,
             out: Path | None) -> int:
    """Check the gate on this machine: every fault caught every time, no false alarm."""
    from harness.commands.selftest import SelftestInterrupted, step_selftest, table
    from harness.commands.selftest import selftest as run_selftest
    from server.faults import FAULTS

    out = out or default_out().with_name("selftest-" + default_out().name)
    if cpu_step:
        click.echo(f"selftest --cpu-step: {repeat} x (fixed, handlers), {cycles} cycles of {users}, "
                   f"a CPU hog from a third of the way in -> {out}")
    else:
        click.echo(f"selftest: {repeat} x (fixed + {', '.join(faults) or 'every fault'}), {cycles} cycles of "
                   f"{users} -> {out}" + (" with a CPU hog" if cpu_hog else ""))
    try:
        if cpu_step:
            steps = step_selftest(out, cycles, repeat, users, echo)
            ok = all(row.ok for row in steps)
        else:
            rows = run_selftest(out, cycles, repeat, users, echo, hog=cpu_hog, faults=faults or tuple(FAULTS))
            click.echo(table(rows))
            ok = all(row.ok for row in rows)
    except SelftestInterrupted as exc:
        click.echo(f"selftest {exc}: no verdict")
        return EXIT_INCONCLUSIVE
    click.echo("selftest passed" if ok else "selftest FAILED")
    return 0 if ok else 1


@cli.command("fake-llm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=0, show_default=True, help="0 picks a free port (printed as LISTENING <port>).")
@click.option("--prefill-us-per-token", default=20.0, show_default=True)
@click.option("--decode-ms-per-token", default=1.0, show_default=True)
def fake_llm(host: str, port: int, prefill_us_per_token: float, decode_ms_per_token: float) -> int:
    """An OpenAI-compatible model server that costs nothing.

    POST /v1/chat/completions (streaming or not), GET /v1/models, POST /v1/audio/speech
    (a short WAV), GET /metrics (fake_llm_prompt_tokens histogram, request counts)."""
    from harness.target.fakellm import main as fake_main

    return fake_main(["--host", host, "--port", str(port),
                      "--prefill-us-per-token", str(prefill_us_per_token),
                      "--decode-ms-per-token", str(decode_ms_per_token)])


@cli.command(context_settings={"ignore_unknown_options": True})
@click.option("--leak", "leaks", multiple=True, type=click.Choice(fault_names()))
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED)
def serve(leaks: tuple[str, ...], server_args: tuple[str, ...]) -> int:
    """The bundled server (same as python -m server; other options pass through)."""
    from server.__main__ import main as server_main

    argv = [arg for leak in leaks for arg in ("--leak", leak)] + list(server_args)
    return server_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (testable without a subprocess)."""
    try:
        with signals_handled():
            code = cli.main(args=argv, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if exc.exit_code == 2 else exc.exit_code
    except SystemExit as exc:  # --help and --version end this way inside Click
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return code if isinstance(code, int) else 0


def entry() -> None:
    """Console script: exit with main()'s code."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
