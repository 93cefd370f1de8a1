"""Signal names, parsed once (pure): where each figure sits and how the findings say it."""

from __future__ import annotations

import pytest

from harness.judge.signal import Signal, figure_kind, histogram_of


@pytest.mark.parametrize(("name", "source", "figure", "derived"), [
    ("chat_asyncio_tasks", "server", "chat_asyncio_tasks", ""),
    ("process.open_fds", "process", "open_fds", ""),
    ("process.no_such_field", "server", "process.no_such_field", ""),  # a server figure with a dot
    ("probe.reply_ms", "probe", "reply_ms", ""),
    ("page.subscriptions_message", "page", "subscriptions_message", ""),
    ("control.cpu_ms", "control", "cpu_ms", ""),
    ("wave.first-token.p95", "wave", "first-token.p95", ""),
    ("memory.rss", "memory", "rss", ""),
    ("census.entries:__main__.SESSIONS", "census", "entries:__main__.SESSIONS", ""),
    ("chat_turns_total:per_cycle", "server", "chat_turns_total", "per_cycle"),
    ('llm_tokens_sum{model="a:b"}:mean_per_cycle', "server", 'llm_tokens_sum{model="a:b"}', "mean_per_cycle"),
    ("census.tasks:Watcher.watch @ app/w.py:42", "census", "tasks:Watcher.watch @ app/w.py:42", ""),
])
def test_each_name_says_where_its_figure_sits(name: str, source: str, figure: str, derived: str) -> None:
    signal = Signal.parse(name)
    assert (signal.name, signal.source, signal.figure, signal.derived) == (name, source, figure, derived)


def test_census_groups_are_said_in_the_servers_terms() -> None:
    task = Signal.parse("census.tasks:Watcher.watch @ app/w.py:42")
    assert (task.census_kind, task.site) == ("tasks", "app/w.py:42")
    assert task.label == "asyncio tasks `Watcher.watch` suspended at app/w.py:42"
    assert task.short == "Watcher.watch" and not task.orphans
    orphans = Signal.parse("census.orphans:Watcher.watch @ app/w.py:42")
    assert orphans.orphans and orphans.site == "app/w.py:42"
    assert orphans.label == "asyncio tasks `Watcher.watch` suspended at app/w.py:42 that hold a closed connection"
    assert orphans.short == "Watcher.watch (orphans)"  # its own column beside the tasks'
    objects = Signal.parse("census.objects:pkg.mod.Session")
    assert objects.label == "objects `pkg.mod.Session`" and objects.short == "Session"
    entries = Signal.parse("census.entries:server.(closure).socket")
    assert entries.label == "entries of `server.(closure).socket`" and entries.in_a_call
    assert not Signal.parse("census.entries:Registry.byId").in_a_call
    assert Signal.parse("chat_clients").label == "chat_clients" and Signal.parse("chat_clients").short == "clients"


def test_wave_latency_names_give_step_and_statistic() -> None:
    signal = Signal.parse("wave.first-token.p95")
    assert (signal.step, signal.stat) == ("first-token", "p95")


@pytest.mark.parametrize(("figure", "kind"), [
    ("chat_turns_total", "counter"),
    ('http_requests_total{code="200"}', "counter"),
    ("llm_prompt_tokens_sum", "part"),
    ('llm_prompt_tokens_bucket{le="10"}', "part"),
    ("chat_turns_created", "part"),
    ("chat_clients", "gauge"),
])
def test_server_figures_are_told_apart_by_their_prometheus_names(figure: str, kind: str) -> None:
    assert figure_kind(figure) == kind


def test_a_histogram_is_named_from_its_sum() -> None:
    assert histogram_of("llm_prompt_tokens_sum") == "llm_prompt_tokens"
    assert histogram_of("llm_prompt_tokens_count") == ""
