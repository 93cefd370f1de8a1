"""The table of signal kinds (pure): every metric comes from one kind, and attribution reads
levels always and memory only once its own rule failed."""

from __future__ import annotations

from harness.judge.analysis import analyze
from harness.judge.kinds import KINDS, Evidence, attributable, judge_kinds
from harness.judge.rules import Config
from tests.harness.judge.synthetic import MiB, make_lines


def evidence_of(samples) -> Evidence:  # type: ignore[no-untyped-def]
    warmup = 5
    return Evidence(samples, warmup, 10.0, Config(), [i >= warmup for i in range(len(samples))])


def test_each_metric_of_a_run_is_judged_by_one_kind_in_the_tables_order() -> None:
    samples = make_lines(rss=lambda t: 30 * MiB + t * 2 * MiB)
    metrics = judge_kinds(evidence_of(samples))
    assert list(metrics) == list(analyze(samples).metrics)
    kinds = {kind.name: kind for kind in KINDS}
    assert metrics["memory.rss"].kind == "memory" and kinds["memory"].names(evidence_of(samples)) == ["memory.rss"]
    assert metrics["chat_asyncio_tasks"].kind == "growth" and metrics["probe.reply_ms"].kind == "latency"


def test_attribution_reads_levels_always_and_memory_only_where_its_rule_failed() -> None:
    flat = make_lines()
    ev = evidence_of(flat)
    hard, soft = attributable(ev, judge_kinds(ev))
    assert {"chat_asyncio_tasks", "process.open_fds"} <= set(hard) and soft == {}
    growing = make_lines(rss=lambda t: 30 * MiB + t * 2 * MiB)
    ev = evidence_of(growing)
    metrics = judge_kinds(ev)
    metrics["memory.rss"].verdict = "leak"  # as Holm would leave it
    hard, soft = attributable(ev, metrics)
    assert list(soft) == ["memory.rss"] and "memory.rss" not in hard
    assert "probe.reply_ms" not in soft  # a latency its rule passed is not attributed
