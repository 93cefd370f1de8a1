"""The verdict rules on synthetic series of known shape (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.judge.analysis import (
    DEGRADED,
    INCONCLUSIVE,
    LEAK,
    PASS,
    Config,
    analyze,
    holm,
)
from harness.judge.rules import default_warmup
from harness.rundir.records import Census, CycleSample, RecordError, RunStatus
from tests.harness.judge.synthetic import MiB, make_lines


def failing(lines, **kw) -> dict[str, str]:
    result = analyze(lines, Config(**kw))
    return {m.name: m.verdict for m in result.failing()}


@pytest.mark.parametrize("seed", range(20))
def test_flat_with_heavy_tailed_noise_passes(seed: int) -> None:
    """Flat series with Student-t noise (outliers of several x) never fail: 20 seeds."""
    lines = make_lines(noise=0.05, seed=seed)
    result = analyze(lines)
    assert result.verdict == PASS, [m.reason for m in result.failing()]


def test_linear_task_leak_is_reported_per_session() -> None:
    """Two leaked tasks per cycle of 10 sessions: 0.2 tasks per session."""
    lines = make_lines(tasks=lambda t: 2 + 2 * t)
    result = analyze(lines)
    assert result.verdict == LEAK
    tasks = result.metrics["chat_asyncio_tasks"]
    assert tasks.verdict == LEAK and tasks.slope_per_session == pytest.approx(0.2)
    assert "0.2 per session" in tasks.reason


def test_linear_memory_leak() -> None:
    """RSS growing 64 KiB per session, with noise, is a memory leak."""
    lines = make_lines(rss=lambda t: 30 * MiB + t * 640 * 1024, noise=0.002)
    result = analyze(lines)
    assert result.metrics["memory.rss"].verdict == LEAK
    assert result.metrics["memory.rss"].slope_per_session == pytest.approx(64 * 1024, rel=0.1)


def test_slow_leak_one_percent_per_cycle() -> None:
    """+1% per cycle over 50 cycles: memory leaks and the probe latency degrades."""
    lines = make_lines(
        rss=lambda t: 30 * MiB * (1 + 0.01 * t),
        probe=lambda t: 20.0 * (1 + 0.01 * t),
        noise=0.01,
        seed=3,
    )
    verdicts = failing(lines)
    assert verdicts["memory.rss"] == LEAK
    assert verdicts["probe.reply_ms"] == DEGRADED


def test_warmup_then_flat_is_not_a_leak() -> None:
    """RSS climbing in steps over 30 cycles (allocator warm-up) then flat to 50 passes.
    This is the shape measured on a correct asyncio server: 26.5 -> 33 MiB."""
    lines = make_lines(rss=lambda t: 26.5 * MiB + min(t, 30) // 3 * (0.65 * MiB), noise=0.001)
    result = analyze(lines)
    assert result.metrics["memory.rss"].verdict == PASS
    assert result.verdict == PASS


def test_bounded_saw_tooth_passes() -> None:
    """A cache that fills and is flushed every 10 cycles is bounded: not a leak."""
    lines = make_lines(
        rss=lambda t: 30 * MiB + (t % 10) * 0.5 * MiB,
        tasks=lambda t: 2 + (t % 5),
        probe=lambda t: 20 + (t % 7),
    )
    assert analyze(lines).verdict == PASS


def test_step_change_in_latency_degrades() -> None:
    """Reply latency that doubles half-way through is a degradation."""
    lines = make_lines(probe=lambda t: 20.0 if t < 25 else 40.0, noise=0.02, seed=1)
    result = analyze(lines)
    assert result.verdict == DEGRADED
    assert result.metrics["probe.reply_ms"].ratio == pytest.approx(2.0, rel=0.1)


def test_one_off_step_in_memory_or_tasks_is_not_a_leak() -> None:
    """A single allocation (+5 MiB once) or one extra long-lived task is not growth."""
    lines = make_lines(
        rss=lambda t: 30 * MiB + (5 * MiB if t >= 25 else 0), tasks=lambda t: 2 + (t >= 20)
    )
    assert analyze(lines).verdict == PASS


def test_per_client_residue_is_a_leak() -> None:
    """A per-client gauge that stays above 0 after quiesce is a leak even when flat."""
    lines = make_lines(per_client={"chat_heartbeats": lambda t: 1 if t > 30 else 0})
    result = analyze(lines)
    assert result.metrics["chat_heartbeats"].verdict == LEAK
    assert "stays at 1" in result.metrics["chat_heartbeats"].reason


def test_per_client_gauge_that_goes_back_passes() -> None:
    """Residue that returns to 0 by the end is not a leak."""
    lines = make_lines(per_client={"chat_heartbeats": lambda t: 1 if 10 < t < 40 else 0})
    assert analyze(lines).metrics["chat_heartbeats"].verdict == PASS


def test_fd_leak_by_growth_rule() -> None:
    """One fd per cycle is a leak of process.open_fds."""
    lines = make_lines(fds=lambda t: 11 + t)
    assert failing(lines) == {"process.open_fds": LEAK}


def test_idle_cpu_rising_is_orphaned_work() -> None:
    """A server whose idle CPU climbs from 0 to 40% of a core is running orphaned work."""
    lines = make_lines(idle_cpu=lambda t: 0.01 * t)
    assert failing(lines)["process.idle_cpu"] == LEAK


def test_mostly_failed_cycle_is_inconclusive() -> None:
    """A cycle where most sessions failed makes the run inconclusive, not a pass."""
    lines = make_lines(failed=lambda t: 8 if t == 12 else 0)
    result = analyze(lines)
    assert result.verdict == INCONCLUSIVE
    assert "cycle 13: 8 of 10 sessions failed (reply timeout x8)" in result.reasons[0]


def test_no_probe_reply_is_inconclusive() -> None:
    """A run where no probe completed a reply is not a pass."""
    result = analyze(make_lines(probe_ok=lambda t: False))
    assert result.verdict == INCONCLUSIVE
    assert any("no probe completed" in r for r in result.reasons)


def test_too_few_cycles_is_inconclusive() -> None:
    """Three cycles cannot be judged."""
    result = analyze(make_lines(cycles=3))
    assert result.verdict == INCONCLUSIVE and "only 2 cycles" in result.reasons[0]


def test_server_died_with_hard_evidence_is_still_a_leak() -> None:
    """A run cut short by the server dying keeps a counter leak it already showed."""
    lines = make_lines(cycles=20, tasks=lambda t: 2 + 3 * t)
    died = RunStatus("server-died", "cycle 21: server not reachable")
    assert analyze(lines, status=died).verdict == LEAK
    assert analyze(make_lines(cycles=20), status=died).verdict == INCONCLUSIVE


def test_holm_adjustment() -> None:
    """Holm: sorted p-values times (m - rank), made monotone, capped at 1."""
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_default_warmup() -> None:
    """A tenth of the run, between 1 and 5 cycles."""
    assert [default_warmup(n) for n in (5, 10, 20, 50, 200)] == [1, 1, 2, 5, 5]


def test_heavy_tailed_latency_noise_alone_never_degrades() -> None:
    """Across 50 seeds of pure noise the latency rule raises no alarm."""
    alarms = 0
    for seed in range(50):
        result = analyze(make_lines(noise=0.1, seed=seed))
        alarms += result.verdict != PASS
    assert alarms == 0
    p_value = result.metrics["probe.reply_ms"].p_value
    assert p_value is not None and 0 < p_value <= 1


def test_early_decision_on_a_counter_leak() -> None:
    """A residue leak is decided at the first look after warm-up + 4 cycles."""
    from harness.judge.early import decision_cycle

    lines = make_lines(per_client={"chat_heartbeats": lambda t: 10 * (t + 1)})
    decision = decision_cycle(lines, planned_cycles=50)
    assert decision is not None and decision.cycle == 5 + 4
    assert decision.analysis.metrics["chat_heartbeats"].verdict == LEAK


def test_early_decision_never_on_noise() -> None:
    """Looking after every cycle does not turn heavy-tailed noise into an alarm."""
    from harness.judge.early import decision_cycle

    for seed in range(20):
        assert decision_cycle(make_lines(noise=0.1, seed=seed), planned_cycles=50) is None


MEASURED_WARMUP_MIB = [  # RSS of the fixed bundled server, 30 cycles of mixed at U=10
    29.9, 30.3, 30.8, 30.9, 30.9, 31.0, 31.4, 31.9, 32.4, 32.8, 33.3, 33.9, 34.4, 34.9, 35.3,
    35.3, 35.3, 35.3, 35.3, 35.3, 35.4, 35.4, 35.4, 35.5, 35.5, 35.7, 36.2, 36.2, 36.2, 36.2,
]


def test_measured_allocator_warmup_is_not_a_leak() -> None:
    """The measured warm-up of the fixed server (a 20 KiB/session ramp that levels off
    into steps) passes: the later half's growth is too small to be a leak."""
    lines = make_lines(cycles=30, rss=lambda t: MEASURED_WARMUP_MIB[t] * MiB)
    result = analyze(lines)
    assert result.metrics["memory.rss"].verdict == PASS
    assert result.verdict == PASS


def test_memory_needs_enough_cycles() -> None:
    """A short run leaves memory unjudged, and says so: the run is too short, not a pass."""
    lines = make_lines(cycles=12, rss=lambda t: 30 * MiB + t * MiB)
    result = analyze(lines)
    assert result.metrics["memory.rss"].verdict == INCONCLUSIVE
    assert "too few" in result.metrics["memory.rss"].reason
    assert result.verdict == INCONCLUSIVE
    assert (result.too_short[0].signal, result.too_short[0].needs) == ("memory.rss", 22)


def test_the_live_judge_takes_each_cycle_once() -> None:
    """A cycle handed to the live judge twice (a drain after an interrupted feed) counts once."""
    from harness.judge.verdict import Judge

    judge = Judge(planned_cycles=10)
    lines = make_lines(cycles=3)
    for sample in [lines[0], lines[1], lines[1], lines[0], lines[2]]:
        judge.add(sample)
    assert [s.cycle for s in judge.samples] == [1, 2, 3]


def with_census(samples: list, groups: Callable[[int], dict[str, float]], own: list[str] = ()) -> list:
    """The samples, each with a census of `groups(cycle index)`, as the agent would answer."""
    for t, sample in enumerate(samples):
        sample.census = Census.from_dict({"groups": groups(t), "own_types": list(own), "took_ms": 12.0,
                                          "alloc": {"lines": []}})
    return samples


def test_census_groups_that_grow_are_leaks_named_in_the_servers_terms() -> None:
    """Tasks, classes and a map keyed per client grow by one per session; a library type
    grows twice as fast; a flat group and a group that comes and goes stay out."""
    def groups(t: int) -> dict[str, float]:
        found = {
            "tasks:Watcher.watch @ app/watch.py:42": 10.0 * t,
            "objects:app.groups.GroupManager": 1.0,
            "objects:app.context.ServiceContext": 10.0 * t,
            "objects:asyncio.locks.Event": 20.0 * t,
            "entries:GroupManager.client_group_map": 10.0 * t,
            "threads:MainThread": 1.0,
        }
        if t % 2:
            found["objects:app.turns.Turn"] = 3.0  # transient, absent (zero) in every other census
        return found

    samples = with_census(make_lines(30), groups, own=["app.context.ServiceContext", "app.groups.GroupManager"])
    a = analyze(samples)
    assert a.verdict == LEAK
    census = [m for m in a.failing() if m.kind == "census"]
    assert [m.name for m in census] == [
        "census.tasks:Watcher.watch @ app/watch.py:42",
        "census.objects:app.context.ServiceContext",
        "census.entries:GroupManager.client_group_map",
        "census.objects:asyncio.locks.Event",  # a library's type: after the server's own groups
    ]
    assert census[0].reason.startswith("asyncio tasks `Watcher.watch` suspended at app/watch.py:42: +1.00 per session")
    assert census[1].reason.endswith("retained: still there after a full garbage collection")
    assert census[2].reason.startswith("entries of `GroupManager.client_group_map`: +1.00 per session")
    assert a.census_groups == 7 and a.to_dict()["census_groups"] == 7


def test_flat_census_is_a_pass_with_no_census_metric() -> None:
    samples = with_census(make_lines(30), lambda t: {"objects:app.x.Thing": 5.0, "tasks:main @ app.py:3": 1.0})
    a = analyze(samples)
    assert a.verdict == PASS and a.census_groups == 2
    assert not [m for m in a.metrics.values() if m.kind == "census"]


ORPHANS = "orphans:Session.turn @ app/turn.py:9"


def test_tasks_holding_a_closed_connection_must_be_back_to_zero() -> None:
    """Orphans (tasks that hold a closed connection after quiesce) are residue: 2 of them that
    stay, never growing, fail at once, in the server's terms; those that come and go do not."""
    a = analyze(with_census(make_lines(9), lambda t: {ORPHANS: 2.0}))
    orphans = a.metrics[f"census.{ORPHANS}"]
    assert a.verdict == LEAK and orphans.verdict == LEAK and orphans.kind == "census"
    assert orphans.reason == ("asyncio tasks `Session.turn` suspended at app/turn.py:9 that hold a closed connection: "
                              "2 after quiesce in each of the last 3 cycles (should be 0: their clients have left)")
    growing = analyze(with_census(make_lines(30), lambda t: {ORPHANS: 2.0 * t}))
    assert growing.metrics[f"census.{ORPHANS}"].reason.endswith("growing +0.20 per session")
    passing = analyze(with_census(make_lines(30), lambda t: {ORPHANS: 1.0} if t % 3 == 0 else {}))
    assert passing.verdict == PASS and f"census.{ORPHANS}" not in passing.metrics


def test_orphans_released_in_the_drain_are_no_leak_and_those_that_stay_are() -> None:
    """A grace that holds each closed connection's task a while: released in the drain, to 0."""
    from tests.harness.judge.test_drain import drained

    samples = with_census(make_lines(30), lambda t: {ORPHANS: 6.0})
    after = drained([(1.0, 6.0), (2.5, 0.0)], name="x")
    for sample, (_, level) in zip(after, [(1.0, 6.0), (2.5, 0.0)]):
        sample.census = Census(groups={ORPHANS: level} if level else {})
    released = analyze(samples, drain=after).metrics[f"census.{ORPHANS}"]
    assert released.verdict == PASS and released.drain == {"released_after_s": 2.5, "level": 0.0, "early": 0.0}
    for sample in after:
        sample.census = Census(groups={ORPHANS: 6.0})
    assert analyze(samples, drain=after).metrics[f"census.{ORPHANS}"].verdict == LEAK


def test_census_survives_samples_jsonl() -> None:
    """The agent's answer (alloc as {"lines": [...]}) becomes a Census, and a sample line
    with it reads back as written."""
    answer = {"groups": {"tasks:main @ app.py:3": 1}, "own_types": ["app.X"], "garbage": {"app.X": 2},
              "garbage_total": 40, "walked": 1000, "skipped": 0, "took_ms": 3.5, "loop_ms": 0.2, "gc_ms": 1.0,
              "notes": ["n"], "alloc": {"lines": [{"site": "app.py:9", "size_diff": 4096, "count_diff": 4}]}}
    sample = make_lines(1)[0]
    sample.census = Census.from_dict(answer)
    again = CycleSample.from_json(sample.to_json())
    assert again.census == sample.census and again.census.alloc[0]["site"] == "app.py:9"
    with pytest.raises(RecordError, match="census.groups"):
        Census.from_dict({"groups": [1, 2]})


def test_a_short_run_whose_probe_doubles_steadily_is_not_a_pass():
    """20 cycles, probe latency doubling steadily: windows of 6 cannot reach significance
    after Holm; the whole-run trend test can, so the verdict is degraded, not a silent pass."""
    lines = make_lines(20, probe=lambda t: 20.0 * (1 + t / 19), noise=0.01)
    for t, line in enumerate(lines):  # ten more signals under test, as a real server's metrics give
        for i in range(10):
            line.server[f"other{i}_sum"], line.server[f"other{i}_count"] = 5.0 * (t + 1) * (1 + (t * i) % 3), t + 1.0
    result = analyze(lines)
    assert result.metrics["probe.reply_ms"].verdict == DEGRADED
    assert result.verdict != PASS


def test_looks_thin_out_beyond_a_hundred_cycles() -> None:
    """Early stop looks after each of the first 100 cycles, then every n/100: a 10,000-cycle
    soak is judged about 100 * (1 + ln 100) = 560 times (615 with rounding), not 10,000, and
    never more than 1% of the run after a cycle."""
    from harness.judge.early import looks_at

    looks, last = [], 0
    for cycle in range(1, 10_001):
        if looks_at(cycle, last):
            looks.append(cycle)
            last = cycle
    assert looks[:100] == list(range(1, 101))
    assert len(looks) == 615
    assert all(b - a <= max(1, b // 100) for a, b in zip(looks, looks[1:], strict=False))


def test_a_cache_that_fills_and_stays_full_is_bounded_not_leaked() -> None:
    """An LRU that fills over 35 cycles, then stays at its cap: its floors rise in every window
    of the run, but not over the later half; no leak, and it says where it saturated."""
    lines = make_lines(per_client={"app_lru_entries": lambda t: min(240, 7 * t)})
    result = analyze(lines)
    metric = result.metrics["app_lru_entries"]
    assert result.verdict == PASS, [m.reason for m in result.failing()]
    assert metric.bounded == {"low": 240.0, "high": 240.0, "from_cycle": 36}
    assert "bounded at 240 from cycle 36 on" in metric.reason and result.bounded() == [metric]


def test_a_leak_that_keeps_growing_is_no_cache() -> None:
    """The same rise, kept up to the end of the run: a leak, whatever its level."""
    lines = make_lines(per_client={"app_lru_entries": lambda t: 7 * t})
    result = analyze(lines)
    assert result.metrics["app_lru_entries"].verdict == LEAK and result.metrics["app_lru_entries"].bounded is None



def test_a_cache_that_levels_off_early_is_bounded_even_where_its_floors_stall() -> None:
    """A cache that levels off at 37 (38 * (1 - exp(-t/4))): its floors over the whole run stop
    rising by the last window (27 -> 37 -> 37), so the -R rule alone is not met; it rose, and
    stopped, and is said to be bounded, not silently passed."""
    lines = make_lines(per_client={"app_level_entries": lambda t: int(38 * (1 - np.exp(-t / 4)))})
    metric = analyze(lines).metrics["app_level_entries"]
    assert metric.verdict == PASS and metric.bounded is not None, metric.reason
    assert metric.bounded["low"] == 37 and "then stopped growing" in metric.reason


def test_one_step_of_memory_in_the_later_half_is_no_leak() -> None:
    """RSS that creeps 5 KiB a cycle and jumps 5.4 MiB once late in the run (an arena taken
    once, seen on an aiohttp server) and stays: the later half's slope is positive, but its
    windows do not rise one after another by like amounts, so it is no leak; the same growth
    spread over every cycle is one."""
    for at in (30, 34, 38, 44):
        stepped = make_lines(rss=lambda t, at=at: 42.5 * MiB + 0.005 * MiB * t + (5.4 * MiB if t >= at else 0.0))
        assert analyze(stepped).metrics["memory.rss"].verdict == PASS, at
    growing = make_lines(rss=lambda t: 42.5 * MiB + 0.25 * MiB * t)
    assert analyze(growing).metrics["memory.rss"].verdict == LEAK


def test_a_step_of_memory_that_straddles_a_window_and_a_smaller_one_later_are_no_leak() -> None:
    """The LRU server's RSS in a CI run (MiB, cycles 1-50): pymalloc arenas fragmented by a
    block of audio-dropping waves (+5.1 over cycles 30-32), then +1 at the next such block.
    The later half's window medians rose twice (the first window straddles the step), so it
    was failed; its floors rise once, as a single step does. A leak of the same size spread
    over the later half still fails."""
    ci = [39.9, 40.8, 40.9, 40.9, 41.1, 40.9, 41.0, 41.0, 41.3, 41.3, 41.3, 41.3, 41.3, 41.3, 41.3, 41.3, 41.3,
          41.3, 41.3, 41.3, 41.4, 41.3, 41.3, 41.3, 41.4, 41.4, 41.4, 41.4, 41.5, 44.9, 45.5, 46.6, 46.6, 46.6,
          46.6, 46.6, 46.6, 46.6, 46.6, 46.6, 46.6, 46.6, 46.6, 46.6, 47.4, 47.5, 47.6, 47.6, 47.6, 47.6]
    stepped = make_lines(rss=lambda t: ci[t] * MiB)  # t is 0 for cycle 1
    assert analyze(stepped).metrics["memory.rss"].verdict == PASS
    spread = make_lines(rss=lambda t: (41.5 + max(0, t - 28) * 6.1 / 22) * MiB)
    assert analyze(spread).metrics["memory.rss"].verdict == LEAK


def test_steps_at_two_blocks_of_audio_dropping_waves_are_no_leak() -> None:
    """The LRU server's RSS in another CI run (MiB): +3.3, +0.1, +0.6 over the block of
    audio-dropping waves at cycles 30-32, +2.4, 0, +0.1 over the next at 38-40, flat after.
    Both steps fall in the later half, whose window floors so rose twice (41.5 -> 45.5 -> 48.0),
    and it was failed. A leak adds in every wave of the behaviour that leaks; these steps are
    each one block's first wave, and without them the later half grows 0.8 MiB. The same rise
    shared by every wave of both blocks is a leak."""
    early = [39.9, 40.8, 40.9, 40.9, 41.1, 41.0, 41.0, 41.3, 41.3] + [41.4] * 12 + [41.5] * 8
    ci = early + [44.8, 44.9, 45.5] + [45.5] * 5 + [47.9, 47.9, 48.0] + [48.0] * 10
    assert len(ci) == 50
    stepped = make_lines(rss=lambda t: ci[t] * MiB)
    metric = analyze(stepped).metrics["memory.rss"]
    assert metric.verdict == PASS and not metric.practical, metric.reason
    in_blocks = early + [42.6, 43.7, 44.8] + [44.8] * 5 + [45.9, 47.0, 48.1] + [48.1] * 10
    leak = analyze(make_lines(rss=lambda t: in_blocks[t] * MiB)).metrics["memory.rss"]
    assert leak.verdict == LEAK, leak.reason
    assert "not counting each window's largest one-wave step" in leak.reason


def test_a_block_whose_later_waves_add_a_little_is_no_leak() -> None:
    """The LRU server's RSS in a run here: +3.5, +0.5, +0.5 MiB over one block of
    audio-dropping waves (cycles 34-36), then flat: one step, not a leak."""
    run = [39.88, 40.62, 40.79, 40.79, 40.82, 40.93, 40.94, 40.94, 40.94, 41.02, 41.02, 41.02, 41.03,
           41.04, 41.04, 41.04, 41.15, 41.15, 41.15, 41.15, 41.24, 41.4, 41.4, 41.4, 41.52, 41.53, 41.53,
           41.53, 41.54, 41.62, 41.72, 41.72, 41.63, 45.16, 45.67] + [46.16] * 14 + [46.28]
    assert analyze(make_lines(rss=lambda t: run[t] * MiB)).metrics["memory.rss"].verdict == PASS


def test_a_leak_that_adds_in_lumps_is_still_one() -> None:
    """A leak of 2 MiB objects, one every third wave (a rare path that keeps a big buffer):
    each window has more than one lump, so it is caught without its largest one."""
    lumps = make_lines(rss=lambda t: 30 * MiB + (t // 3) * 2 * MiB)
    assert analyze(lumps).metrics["memory.rss"].verdict == LEAK


# V8's count of arrays in the Node Socket.IO example's fixed server, one census a cycle: it
# comes and goes by a few (the agent's own request, socket.io's buffers) and settles by a few
# more over the run. Its floors rose 1332 -> 1334 -> 1335, by less than it jitters.
V8_ARRAYS = [1327, 1330, 1331, 1333, 1332, 1334, 1334, 1334, 1334, 1332, 1334, 1334, 1332, 1334, 1332, 1339, 1333,
             1334, 1332, 1336, 1334, 1336, 1335, 1337, 1335, 1337, 1335, 1337, 1335, 1337, 1335, 1342, 1336, 1342,
             1336, 1337, 1342, 1336, 1337, 1335, 1337, 1346, 1342, 1347, 1337, 1342, 1336, 1342, 1336, 1337]


def settling(rise: float, pace: float) -> list[float]:
    """V8_ARRAYS' shape: a count that settles by `rise` over the run (at `pace` cycles), jitters by
    2 from one census to the next, and spikes by 6 every 7th."""
    return [np.floor(1330 + rise * (1 - np.exp(-t / pace))) + 2 * (t % 2) + 6 * (t % 7 == 3) for t in range(50)]


@pytest.mark.parametrize("counts", [V8_ARRAYS] + [settling(rise, pace) for rise in (6, 8, 10) for pace in (20, 30, 40)])
def test_a_count_that_settles_by_less_than_it_jitters_is_no_leak(counts: list[float]) -> None:
    samples = with_census(make_lines(50), lambda t: {"objects:Array": float(counts[t])})
    a = analyze(samples)
    assert a.verdict == PASS, [m.reason for m in a.failing()]


def test_a_leak_of_one_array_a_cycle_on_that_jitter_is_caught() -> None:
    """The same jitter with a leak of one array a cycle (0.1 per session) under it: each window's
    floor rises by about its length, well past the jitter."""
    samples = with_census(make_lines(50), lambda t: {"objects:Array": float(V8_ARRAYS[t] + t)})
    metric = analyze(samples).metrics["census.objects:Array"]
    assert metric.verdict == LEAK and metric.slope_per_session == pytest.approx(0.1, abs=0.03), metric.reason


def test_noise_whose_floors_happen_to_rise_is_no_leak() -> None:
    """Timer handles of the bundled server in a 17-cycle run: noise between 10 and 93, whose three
    windows' floors happened to rise (14 -> 31 -> 43 is no growth when a cycle moves it by 30)."""
    handles = [46, 10, 70, 50, 21, 81, 50, 14, 66, 41, 93, 62, 31, 43, 55, 67, 51]
    samples = with_census(make_lines(17), lambda t: {"objects:asyncio.events.TimerHandle": float(handles[t])})
    assert "census.objects:asyncio.events.TimerHandle" not in failing(samples, planned_cycles=50)
