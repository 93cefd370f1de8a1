"""The census agent: runs inside the server under test and counts what lives in it.

Started by sitecustomize.py beside it, at interpreter start, when the harness set
HARNESS_CENSUS_TOKEN. It answers `GET /census` on a loopback port, only to a request that
carries the token, from its own thread, so the server's code is never touched:

- tasks:    asyncio tasks of every running event loop, by coroutine and the file:line where
            each is suspended, taken inside each loop by a thread-safe call with a deadline;
- objects:  live instances by type (the server's own classes, and asyncio, queue,
            websockets, starlette, uvicorn, ... types), after a gc.collect();
- entries:  lengths of dicts, lists, sets and deques held in an attribute of an instance of
            the server's own classes, or in a global of its own modules;
- threads:  by name (digits folded) and target;
- garbage:  what that gc.collect() found unreachable, by type: not a leak, and said so;
- alloc:    with HARNESS_CENSUS_ALLOC=1, tracemalloc's top growing lines since a baseline.

Stdlib only, and nothing at import time but reading the environment: it runs in any
Python 3.10+ server's own environment.
"""

import concurrent.futures
import gc
import os
import re
import site
import sys
import sysconfig
import threading
import time
import tracemalloc
from collections import deque

THREAD_NAME = "harness-census"
LIBRARY_TYPES = (
    "asyncio.", "_asyncio.", "queue.", "concurrent.futures.", "websockets.", "starlette.", "uvicorn.",
    "fastapi.", "anyio.", "aiohttp.", "socket.", "ssl.", "selectors.",
)
CONTAINERS = (dict, list, set, frozenset, deque)
MAX_GROUPS = 2000  # per kind; the largest are kept, and the census says how many were left out
MAX_CHAIN = 64  # awaits followed from a task's coroutine to where it is suspended
ALLOC_TOP = 10

_alloc_baseline = None
_census_lock = threading.Lock()


# -- which code is the server's own ----------------------------------------------------


def _library_dirs():
    paths = sysconfig.get_paths()
    dirs = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv's old site.py
        pass
    dirs.add(os.path.dirname(os.path.abspath(__file__)))
    found = {os.path.realpath(d) + os.sep for d in dirs if d}
    return tuple(sorted(found, key=len, reverse=True))  # site-packages before the stdlib around it


LIBRARY_DIRS = _library_dirs()
_own_files = {}  # type: dict[str, bool]
_own_modules = {}  # type: dict[str, bool]
_type_kinds = {}  # type: dict[type, int]  # emptied after each census: it must not keep a class of the server alive


def own_file(filename):
    """Is this file the server's own code (not the stdlib, site-packages or this agent)?"""
    own = _own_files.get(filename)
    if own is None:
        real = os.path.realpath(filename) if filename and not filename.startswith("<") else ""
        own = _own_files[filename] = bool(real) and not real.startswith(LIBRARY_DIRS)
    return own


def own_module(name):
    own = _own_modules.get(name)
    if own is None:
        module = sys.modules.get(name)
        filename = getattr(module, "__file__", None)
        own = _own_modules[name] = bool(filename) and own_file(filename)
    return own


def short(filename):
    """A file as the server's developer knows it: relative to the working directory, or a
    library's file relative to the library directory (asyncio/base_events.py)."""
    real = os.path.realpath(filename)
    for directory in LIBRARY_DIRS:
        if real.startswith(directory):
            return real[len(directory):]
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def type_name(kind):
    return f"{kind.__module__}.{kind.__qualname__}"


def type_kind(kind):
    """2: a class of the server's own, 1: a library type worth counting, 0: neither."""
    found = _type_kinds.get(kind)
    if found is None:
        module = getattr(kind, "__module__", None) or ""
        enum = sys.modules.get("enum")
        if enum is not None and issubclass(kind, enum.Enum):
            found = 0  # constants, counted once at import
        elif own_module(module):
            found = 2
        elif (module + ".").startswith(LIBRARY_TYPES):
            found = 1
        else:
            found = 0
        _type_kinds[kind] = found
    return found


# -- tasks ------------------------------------------------------------------------------


def _running_loops():
    tasks_module = sys.modules.get("asyncio.tasks")
    registry = getattr(tasks_module, "_all_tasks", None)
    if registry is None:
        registry = getattr(tasks_module, "_scheduled_tasks", None)
    if registry is None:  # a Python that keeps no task registry: find the loops themselves
        events = sys.modules.get("asyncio.events")
        if events is None:
            return []
        return [obj for obj in gc.get_objects()
                if isinstance(obj, events.AbstractEventLoop) and obj.is_running() and not obj.is_closed()]
    for _ in range(100):
        try:
            tasks = list(registry)
            break
        except RuntimeError:  # the set changed while it was copied
            continue
    else:
        return []
    loops = {}
    for task in tasks:
        loop = task.get_loop()
        loops[id(loop)] = loop
    return [loop for loop in loops.values() if loop.is_running() and not loop.is_closed()]


def suspended_at(coro):
    """file:line where a task waits: the deepest frame of its await chain in the server's
    own code, else the task's own coroutine."""
    frames = []
    for _ in range(MAX_CHAIN):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        frames.append(frame)
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    if not frames:
        return "?"
    own = [f for f in frames if own_file(f.f_code.co_filename)]
    frame = own[-1] if own else frames[0]
    return f"{short(frame.f_code.co_filename)}:{frame.f_lineno}"


def _tasks_of(loop):
    import asyncio

    counts = {}
    for task in asyncio.all_tasks(loop):
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", None) or type(coro).__qualname__
        key = f"{name} @ {suspended_at(coro)}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def task_census(deadline, notes):
    """Tasks of every running loop, each counted inside its own loop; (counts, ms the
    slowest loop took to answer)."""
    counts, slowest = {}, None
    for number, loop in enumerate(_running_loops(), 1):
        future = concurrent.futures.Future()

        def job(loop=loop, future=future):
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(_tasks_of(loop))
                except BaseException as exc:  # reported, never raised into the server's loop
                    future.set_exception(exc)

        asked = time.perf_counter()
        try:
            loop.call_soon_threadsafe(job)
            found = future.result(timeout=max(0.05, deadline - asked))
        except concurrent.futures.TimeoutError:
            future.cancel()
            notes.append(f"event loop {number} did not answer within {deadline - asked:.1f} s; "
                         "its tasks are not counted")
            continue
        except RuntimeError as exc:  # closed meanwhile
            notes.append(f"event loop {number}: {exc}")
            continue
        except Exception as exc:
            notes.append(f"event loop {number}: tasks not counted ({exc!r})")
            continue
        took = (time.perf_counter() - asked) * 1000
        slowest = took if slowest is None else max(slowest, took)
        for key, n in found.items():
            counts[key] = counts.get(key, 0) + n
    return counts, slowest


# -- garbage, objects, containers, threads ---------------------------------------------


def collect_garbage():
    """gc.collect(), keeping what it found unreachable long enough to count it by type;
    then free it for real. (counts of counted types, total unreachable, ms)."""
    started = time.perf_counter()
    flags = gc.get_debug()
    before = len(gc.garbage)
    gc.set_debug(flags | gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = gc.garbage[before:]
        del gc.garbage[before:]
    finally:
        gc.set_debug(flags)
    counts = {}
    for obj in found:
        kind = type(obj)
        if type_kind(kind):
            key = type_name(kind)
            counts[key] = counts.get(key, 0) + 1
    total = len(found)
    del found
    gc.collect()
    return counts, total, (time.perf_counter() - started) * 1000


def _add_containers(prefix, namespace, entries):
    for attr, value in namespace:
        if isinstance(value, CONTAINERS) and not (attr.startswith("__") and attr.endswith("__")):
            key = f"{prefix}.{attr}"
            entries[key] = entries.get(key, 0) + len(value)


def object_census(deadline, notes):
    """(objects by type, container entries by owner.attribute, the server's own types among
    them, objects walked, skipped)."""
    objects, entries, own = {}, {}, set()
    everything = gc.get_objects()
    walked = 0
    for walked, obj in enumerate(everything):
        if walked & 1023 == 0 and time.perf_counter() > deadline:
            break
        kind = type(obj)
        found = type_kind(kind)
        if not found:
            continue
        key = type_name(kind)
        objects[key] = objects.get(key, 0) + 1
        if found == 2:
            own.add(key)
            try:
                namespace = object.__getattribute__(obj, "__dict__")
            except Exception:
                continue
            if type(namespace) is dict:
                _add_containers(kind.__qualname__, list(namespace.items()), entries)
    else:
        walked = len(everything)
    skipped = len(everything) - walked
    del everything
    if skipped:
        notes.append(f"object walk stopped at its deadline: {skipped} of {walked + skipped} objects not counted")
    seen = set()  # a module can sit under two names (__main__ and __mp_main__)
    for name, module in list(sys.modules.items()):
        if module is not None and id(module) not in seen and own_module(name):
            seen.add(id(module))
            try:
                _add_containers(getattr(module, "__name__", name), list(vars(module).items()), entries)
            except TypeError:
                continue
    return objects, entries, own, walked, skipped


def thread_census():
    counts = {}
    for thread in threading.enumerate():
        if thread.name == THREAD_NAME:
            continue
        target = getattr(thread, "_target", None)
        name = re.sub(r"\d+", "N", thread.name)
        label = getattr(target, "__qualname__", None)
        if label and f"({label})" not in name:
            name += f" ({label})"
        counts[name] = counts.get(name, 0) + 1
    return counts


def alloc_census(mode):
    """tracemalloc's lines that grew most since the baseline (mode 'baseline' takes it)."""
    global _alloc_baseline
    if not tracemalloc.is_tracing():
        return {"error": "tracemalloc is off (start the census with alloc)"}
    snapshot = tracemalloc.take_snapshot().filter_traces((
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ))
    if mode == "baseline" or _alloc_baseline is None:
        _alloc_baseline = snapshot
        return {"lines": [], "baseline": True}
    lines = []
    for stat in snapshot.compare_to(_alloc_baseline, "lineno"):
        if stat.size_diff <= 0:
            continue
        frame = stat.traceback[0]
        lines.append({"site": f"{short(frame.filename)}:{frame.lineno}",
                      "size_diff": stat.size_diff, "count_diff": stat.count_diff})
        if len(lines) == ALLOC_TOP:
            break
    return {"lines": lines}


def _top(counts, notes, what):
    if len(counts) <= MAX_GROUPS:
        return counts
    kept = dict(sorted(counts.items(), key=lambda item: -item[1])[:MAX_GROUPS])
    notes.append(f"{len(counts) - MAX_GROUPS} smallest {what} groups left out")
    return kept


def census(budget=2.0, alloc=""):
    """One census of this process; every part bounded by `budget` seconds in all."""
    with _census_lock:
        started = time.perf_counter()
        deadline = started + budget
        notes = []
        tasks, loop_ms = task_census(deadline, notes)
        garbage, garbage_total, gc_ms = collect_garbage()
        objects, entries, own, walked, skipped = object_census(deadline, notes)
        groups = {}
        for kind, counts in (("tasks", tasks), ("objects", objects), ("entries", entries),
                             ("threads", thread_census())):
            for key, n in _top(counts, notes, kind).items():
                groups[f"{kind}:{key}"] = n
        result = {
            "pid": os.getpid(),
            "groups": groups,
            "own_types": sorted(own),
            "garbage": garbage,
            "garbage_total": garbage_total,
            "walked": walked,
            "skipped": skipped,
            "loop_ms": None if loop_ms is None else round(loop_ms, 3),
            "gc_ms": round(gc_ms, 3),
            "notes": notes,
        }
        if alloc:
            result["alloc"] = alloc_census(alloc)
        result["took_ms"] = round((time.perf_counter() - started) * 1000, 3)
        _type_kinds.clear()
        return result
