"""A saved run read as columns (the judge's input for `harness gate`) holds what the samples
hold: every figure, the session failures, probe errors and failed instruments, for the same
cycles, and bad lines are skipped and named as the object reader names them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.judge.analysis import analyze
from harness.rundir.columns import Columns, Growing
from harness.rundir.records import Census, CycleSample
from harness.rundir.store import PARSE_CHUNK, SampleLog, load_run, read_columns
from tests.harness.judge.synthetic import make_lines


def varied(cycles: int = 60) -> list[CycleSample]:
    """Samples with every part a run writes, some only in some cycles, and a census group and a
    server figure that appear only part-way."""
    samples = make_lines(cycles, control={"cpu_ms": lambda t: 1.0}, noise=0.01, seed=4)
    for i, sample in enumerate(samples):
        sample.composition = {"clean_close": 10} if i % 4 else {"clean_close": 5, "audio_drop": 5}
        sample.phases = {"wave": 0.05, "census": 0.01}
        if i % 3:
            groups = {"tasks:serve @ app.py:1": 1.0, "objects:app.Session": float(i // 3)}
            if i > 30:
                groups["entries:App.cache"] = float(i)
            sample.census = Census(groups=groups, own_types=["app.Session"], took_ms=3.0)
        if i == 7:
            sample.sessions.fail("reply timeout", 2)
            sample.probe.ok, sample.probe.reply_ms, sample.probe.error = False, None, "connect refused"
        if i in (9, 10):
            sample.instruments_failed = {"census": "TypeError: boom"}
        if i > 20:
            sample.server["late_gauge"] = float(i % 5)
            sample.page = {"subscriptions_message": 1.0}
        if i == 40:
            sample.control = None
    return samples


def write(path: Path, samples: list[CycleSample]) -> Path:
    log = SampleLog(path)
    for sample in samples:
        log.append(sample)
    return log.path


def same(a: Columns, b: Columns) -> None:
    assert len(a) == len(b)
    assert a.names == b.names
    for store in ("figures", "meta"):
        left, right = getattr(a, store), getattr(b, store)
        assert set(left) == set(right), store
        for name in left:
            np.testing.assert_array_equal(left[name], right[name], err_msg=name)
    assert (a.failures, a.probe_errors, a.instruments_failed, a.own_types) == (
        b.failures, b.probe_errors, b.instruments_failed, b.own_types)


def test_a_saved_run_read_as_columns_holds_what_its_samples_hold(tmp_path: Path) -> None:
    """Read from the file without a CycleSample each, or made from the samples in memory: the
    same arrays, the same sparse parts, and the figures in the places series.py names."""
    samples = varied()
    columns, warnings = read_columns(write(tmp_path, samples))
    assert warnings == []
    same(columns, Columns.of(samples))
    assert columns.figure("process.rss_bytes")[3] == samples[3].process.rss_bytes
    assert columns.figure("wave.reply.p50")[5] == samples[5].latency["reply"].p50
    assert columns.figure("control.cpu_ms")[40] != columns.figure("control.cpu_ms")[40]  # NaN: no control
    assert columns.failures == {7: {"reply timeout": 2}} and columns.probe_errors == {7: "connect refused"}
    assert set(columns.instruments_failed) == {9, 10}
    cache = columns.figure("census.entries:App.cache")
    assert np.isnan(cache[0]) and cache[1] == 0.0 and cache[31] == 31.0  # no census; a census without it; listed
    assert columns.section("server")[-1] == "late_gauge" and "late_gauge" not in columns[:20].section("server")


def test_a_slice_of_columns_is_the_same_cycles_with_their_sparse_parts() -> None:
    columns = Columns.of(varied())[8:12]
    assert list(columns.cycle) == [9, 10, 11, 12]
    assert set(columns.instruments_failed) == {1, 2} and columns.failures == {}
    assert "census.entries:App.cache" not in [f"census.{g}" for g in columns.section("census")]


def test_the_judge_gives_one_verdict_whether_it_reads_samples_or_columns(tmp_path: Path) -> None:
    samples = varied()
    write(tmp_path, samples)
    from_objects = analyze(load_run(tmp_path).samples).to_dict()
    from_columns = analyze(load_run(tmp_path, columns=True).samples).to_dict()
    assert from_columns == from_objects
    assert from_objects["session_failures"] == {"reply timeout": 2}
    assert from_objects["instruments_failed"][0]["failed"] == 2


def test_bad_lines_are_skipped_and_named_as_the_object_reader_names_them(tmp_path: Path) -> None:
    """A chunk with a bad line is read line by line: not JSON, two samples on one line, a figure
    that is no number (dropped, as CycleSample drops it), a probe time that is no number."""
    sample = varied(1)[0]
    lines = []
    for cycle in range(1, PARSE_CHUNK + 11):
        sample.cycle = cycle
        lines.append(sample.to_json())
    lines[3] = "{oops"
    lines[PARSE_CHUNK + 5] = lines[PARSE_CHUNK + 5] + "," + lines[PARSE_CHUNK + 5]
    lines[10] = lines[10].replace('"server":{', '"server":{"odd":"text",')
    lines[12] = lines[12].replace('"reply_ms":', '"reply_ms":"fast","x":')
    (tmp_path / "samples.jsonl").write_text("\n".join(lines) + "\n")
    objects, columns = load_run(tmp_path), load_run(tmp_path, columns=True)
    assert columns.warnings == objects.warnings and len(columns.warnings) == 3
    assert list(columns.samples.cycle) == [s.cycle for s in objects.samples]
    assert "odd" not in columns.samples.section("server")


def test_a_live_runs_columns_grow_with_its_samples_and_earlier_ones_stay_as_they_were() -> None:
    """The judge's looks and the Leaks tab's polls take in only the samples that came since the
    last: the columns then are those of all the samples at once, and the columns an earlier
    look got are not changed by a later one."""
    samples = varied()
    growing = Growing()
    early = growing.of(samples[:25])
    copy = {name: values.copy() for name, values in early.figures.items()}
    for n in (26, 26, 40, 60):
        columns = growing.of(samples[:n])
    same(columns, Columns.of(samples))
    assert len(early) == 25 and all(np.array_equal(early.figures[k], v, equal_nan=True) for k, v in copy.items())
