"""The options, declared once (RunOptions's fields and their `cli` entries): `harness run`
and `harness ui` take exactly the table's options, with its defaults, from the command line
or HARNESS_* variables; and RunOptions.validate refuses what cannot run, saying why."""

from __future__ import annotations

from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from harness.cli import run, ui
from harness.errors import UsageError
from harness.options import RunOptions


def table(command: str) -> list[tuple[str, object]]:
    """(field, default) of each field the command takes, in the table's order."""
    out = []
    for f in fields(RunOptions):
        spec = f.metadata["cli"]
        if command in spec["commands"]:
            override = spec.get("ui", {}) if command == "ui" else {}
            default = override.get("default", spec.get("default", None if f.default is MISSING else f.default))
            out.append((f.name, default))
    return out


@pytest.mark.parametrize("command", [run, ui])
def test_the_commands_take_the_tables_options_with_its_defaults(command) -> None:
    params = [(p.name, p.default) for p in command.params if p.name not in ("help", "web_port")]
    expected = table(command.name)
    assert [name for name, _ in params] == [name for name, _ in expected]
    for (name, default), (_, wanted) in zip(params, expected, strict=True):
        if name in ("leaks", "metrics"):  # Click keeps a multiple option's empty default as None
            assert default in ((), None), name
        elif name not in ("fake_llm", "stop_early"):  # flags default to False
            assert default == wanted, name


def test_every_field_is_an_option_of_run() -> None:
    assert {f.name for f in fields(RunOptions)} == {p.name for p in run.params} - {"help"}


def test_options_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_RUN_USERS", "3")
    monkeypatch.setenv("HARNESS_RUN_DRAIN", "0")
    monkeypatch.setenv("HARNESS_RUN_LEAKS", "tasks")
    ctx = run.make_context("run", [], auto_envvar_prefix="HARNESS_RUN")
    assert (ctx.params["users"], ctx.params["drain"], ctx.params["leaks"]) == (3, 0.0, ("tasks",))


@pytest.mark.parametrize(("changes", "says"), [
    ({"cycles": 0}, "--cycles must be at least 1"),
    ({"drain": -1.0}, "--drain must be 0"),
    ({"server_cmd": "x {port}", "target": "ws://127.0.0.1:1/x"}, "either --server-cmd or --target"),
    ({"server_cmd": "x {port}", "leaks": ("tasks",)}, "--leak applies to the bundled server only"),
    ({"inspect": "heap"}, "--inspect takes no value or 'alloc'"),
    ({"pid": 42}, "--pid goes with --target"),
    ({"metrics": ("([",)}, "is not a regular expression"),
    ({"warmup": 50}, "--warmup must be between 0 and cycles - 1"),
    ({"scenario": "page", "workers": 2}, "--workers does not apply"),
    ({"page_leak": "subscriptions"}, "--page-leak goes with --scenario page"),
    ({"users": 0}, "--users must be at least 1"),
])
def test_what_cannot_run_is_refused_saying_why(tmp_path: Path, changes: dict, says: str) -> None:
    options = RunOptions(out=tmp_path / "run", **changes)
    with pytest.raises(UsageError, match=None) as caught:
        options.validate()
    assert says in str(caught.value)


def test_a_run_directory_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "samples.jsonl").write_text("")
    with pytest.raises(UsageError, match="already holds a run"):
        RunOptions(out=tmp_path).validate()
    RunOptions(out=tmp_path / "fresh").validate()  # and a fresh one is fine
