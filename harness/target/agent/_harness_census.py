"""The census agent: runs inside the server under test and counts what lives in it.

Started by sitecustomize.py beside it, at interpreter start, when the harness set
HARNESS_CENSUS_TOKEN. It answers `GET /census` on a loopback port, only to a request that
carries the token, from its own thread, so the server's code is never touched:

- tasks:    asyncio tasks of every running event loop, by coroutine and the file:line where
            each is suspended, taken inside each loop by a thread-safe call with a deadline;
            for a group whose every task sleeps until a loop timer (asyncio.sleep, wait_for),
            `wakes` says in how many seconds the last of them wakes;
- orphans:  those of the tasks that still hold a closed WebSocket connection (in a local of
            their await chain, or in an attribute of a local that is an instance of the
            server's own classes): work left running for a client that is gone;
- objects:  live instances by type (the server's own classes, and asyncio, queue,
            websockets, starlette, uvicorn, ... types), after a gc.collect();
- entries:  lengths of dicts, lists, sets and deques held in an attribute of an instance of
            the server's own classes, or in a global of its own modules;
- threads:  by name (digits folded) and target;
- garbage:  how many objects that gc.collect() found unreachable: not a leak, and said so;
            by type on every 10th census (typing it costs a second full collection);
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
import types
import weakref
from collections import Counter, deque
from itertools import chain, repeat

THREAD_NAME = "harness-census"
LIBRARY_TYPES = (
    "asyncio.", "_asyncio.", "queue.", "concurrent.futures.", "websockets.", "starlette.", "uvicorn.",
    "fastapi.", "anyio.", "aiohttp.", "socket.", "ssl.", "selectors.", "uvloop.", "httptools.",
)
CONTAINERS = (dict, list, set, frozenset, deque)
MAX_GROUPS = 2000  # per kind; the largest are kept, and the census says how many were left out
MAX_CHAIN = 64  # awaits followed from a task's coroutine to where it is suspended
# Where a WebSocket connection's class comes from; a class of one of these whose name says it is
# a WebSocket (or any connection class of `websockets`) is one, if it reads as closed.
CONNECTION_MODULES = ("websockets.", "starlette.", "fastapi.", "aiohttp.", "uvicorn.", "tornado.",
                      "sanic.", "engineio.", "socketio.")
CLOSED_STATES = ("CLOSED", "DISCONNECTED")  # websockets' State, Starlette's WebSocketState
ORPHAN_DEPTH = 2  # own instances followed from a task's locals to a connection (self.session.ws)
ALLOC_TOP = 10
GARBAGE_TYPED_EVERY = 10  # typing the garbage costs a second full collection: the 1st census, 11th, ...

_alloc_baseline = None
_censuses = 0
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
_container_bases = {}  # type: dict[type, type | None]  # emptied after each census: it must not keep a class alive


class TypeCache:
    """type -> what the census worked out about it, kept from one census to the next (a heap
    holds hundreds of types, and reading each anew took a tenth of a census) without keeping
    a class of the server alive: an entry is keyed by the type's id beside a weak reference,
    which tells the type from a later one at the same address; `prune` drops the entries of
    types that are gone. One weak reference a type, no callback: few objects for the
    collector to walk."""

    def __init__(self):
        self.refs = {}
        self.values = {}

    def get(self, kind):
        ref = self.refs.get(id(kind))
        return self.values[id(kind)] if ref is not None and ref() is kind else None

    def put(self, kind, value):
        try:
            self.refs[id(kind)] = weakref.ref(kind)
        except TypeError:  # a type that takes no weak reference: worked out again next time
            return value
        self.values[id(kind)] = value
        return value

    def prune(self):
        for key, ref in list(self.refs.items()):
            if ref() is None:
                self.refs.pop(key, None)
                self.values.pop(key, None)


_type_kinds = TypeCache()  # type -> 2, 1 or 0 (type_kind)
_OBJECT_GETATTRIBUTE = object.__getattribute__


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
        filename = None
        module = sys.modules.get(name)
        if module is not None:
            try:  # a lazy module or a proxy in sys.modules may raise, or answer anything
                namespace = object.__getattribute__(module, "__dict__")
                filename = namespace.get("__file__") if type(namespace) is dict else None
            except Exception:
                filename = None
        own = _own_modules[name] = type(filename) is str and bool(filename) and own_file(filename)
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


# A type's own attributes read through `type`'s descriptors, never the type's (or its
# metaclass's) overrides: a Cython 3 metatype's `__module__` is a getset_descriptor, a proxy's
# `__class__` lies, a mock answers any name. Every read of a foreign object goes through these.
_TYPE_MODULE = type.__dict__["__module__"].__get__
_TYPE_QUALNAME = type.__dict__["__qualname__"].__get__
_TYPE_REPR = type.__repr__
_TYPE_DICTOFFSET = type.__dict__["__dictoffset__"].__get__
_type_names = TypeCache()  # type -> (module, qualname)


def type_parts(kind):
    """(module, qualname) of a type, as strings whatever the type says of itself."""
    parts = _type_names.get(kind)
    if parts is None:
        module = qualname = None
        try:
            module = _TYPE_MODULE(kind)
            qualname = _TYPE_QUALNAME(kind)
        except Exception:
            pass
        if type(module) is not str or type(qualname) is not str:
            try:  # "<class 'pkg.mod.Name'>", built from the type's C-level name
                text = _TYPE_REPR(kind)
                text = text[text.index("'") + 1:text.rindex("'")] if "'" in text else text
            except Exception:
                text = "?"
            found_module, _, found_name = text.rpartition(".")
            qualname = qualname if type(qualname) is str else found_name
            module = module if type(module) is str else (found_module or _defining_module(kind, qualname))
        parts = _type_names.put(kind, (module, qualname))
    return parts


def _defining_module(kind, qualname):
    """The module that holds `kind` under its name, for a heap type that lost its __module__
    (rare, and cached per type by the caller); '?' when none does."""
    for name, module in list(sys.modules.items()):
        try:
            namespace = object.__getattribute__(module, "__dict__")
            if type(namespace) is dict and namespace.get(qualname) is kind and type(name) is str:
                return name
        except Exception:
            continue
    return "?"


def type_name(kind):
    module, qualname = type_parts(kind)
    return f"{module}.{qualname}"


def _is_enum(kind):
    enum = sys.modules.get("enum")
    if enum is None:
        return False
    try:
        return enum.Enum in type.__dict__["__mro__"].__get__(kind)
    except Exception:
        return False


def type_kind(kind):
    """2: a class of the server's own, 1: a library type worth counting, 0: neither."""
    found = _type_kinds.get(kind)
    if found is None:
        module = type_parts(kind)[0]
        if _is_enum(kind):
            found = 0  # constants, counted once at import
        elif own_module(module):
            found = 2
        elif (module + ".").startswith(LIBRARY_TYPES):
            found = 1
        else:
            found = 0
        _type_kinds.put(kind, found)
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
        try:
            loop = task.get_loop()
            loops[id(loop)] = loop
        except Exception:  # a task subclass of a library's, or a task torn down meanwhile
            continue
    running = []
    for loop in loops.values():
        try:
            if loop.is_running() and not loop.is_closed():
                running.append(loop)
        except Exception:
            continue
    return running


def suspended_at(chain):
    """file:line where a task waits: the deepest frame of its await chain (`_chain`) in the
    server's own code, else the task's own coroutine."""
    try:
        return _suspended_at([frame for _, frame in chain])
    except Exception:  # a frame that went meanwhile
        return "?"


def _suspended_at(frames):
    if not frames:
        return "?"
    own = [f for f in frames if own_file(f.f_code.co_filename)]
    frame = own[-1] if own else frames[0]
    return f"{short(frame.f_code.co_filename)}:{frame.f_lineno}"


def _chain(coro):
    """The coroutines (generators, async generators) of an await chain that still have a
    frame, outermost first, each with its frame."""
    chain = []
    for _ in range(MAX_CHAIN):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        chain.append((coro, frame))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    return chain


_connection_types = TypeCache()  # type -> whether it is a WebSocket connection's


def is_connection_type(kind):
    found = _connection_types.get(kind)
    if found is None:
        found = False
        try:
            for base in type.__dict__["__mro__"].__get__(kind):
                module, name = type_parts(base)
                if not (module + ".").startswith(CONNECTION_MODULES):
                    continue
                if "WebSocket" in name or "WSProtocol" in name or (
                        module.startswith("websockets.") and name.endswith(("Connection", "Protocol"))):
                    found = True
                    break
        except Exception:  # a type that cannot be read is no connection's
            found = False
        _connection_types.put(kind, found)
    return found


def is_closed(connection):
    """Whether a WebSocket connection (websockets', Starlette's, aiohttp's, uvicorn's) is closed:
    its state says CLOSED or DISCONNECTED, or its `closed` is True. Only library types are asked."""
    for attr in ("state", "client_state", "application_state"):
        state = getattr(connection, attr, None)
        if state is not None and getattr(state, "name", None) in CLOSED_STATES:
            return True
    return getattr(connection, "closed", None) is True


def _holds_closed(value, depth, seen):
    kind = type(value)
    if kind is types.MethodType:  # a bound method kept to send with (upstream's `websocket_send`)
        value = value.__self__
        kind = type(value)
    if is_connection_type(kind):
        return is_closed(value)
    if depth == 0 or id(value) in seen or type_kind(kind) != 2:
        return False
    seen.add(id(value))
    try:
        namespace = object.__getattribute__(value, "__dict__")
    except Exception:  # an instance of a class with slots only
        return False
    if type(namespace) is not dict:
        return False
    return any(_holds_closed(v, depth - 1, seen) for v in list(dict.values(namespace)))


def _locals(coro):
    """What a suspended coroutine's frame holds (its locals, closure cells' contents, the values
    on its stack), as the collector sees them: `frame.f_locals` would leave a snapshot of the
    locals on the frame (before Python 3.13), keeping what the coroutine has since let go."""
    found = []
    for value in gc.get_referents(coro):
        if type(value) is types.FrameType:  # Python 3.10: the frame is an object of its own
            found.extend(v for v in gc.get_referents(value) if type(v) is not types.FrameType)
        else:
            found.append(value)
    for index, value in enumerate(found):
        if type(value) is types.CellType:
            try:
                found[index] = value.cell_contents
            except ValueError:  # an empty cell
                found[index] = None
    return found


def holds_closed_connection(chain):
    """Whether a task's await chain (`_chain`) holds a closed WebSocket connection: in a local
    of one of its coroutines, or in an attribute of a local that is an instance of the server's
    own classes (two deep). Such a task works for a client that has gone."""
    seen = set()
    for link, _ in chain:
        for value in _locals(link):
            if _holds_closed(value, ORPHAN_DEPTH, seen):
                return True
    return False


def _timers(loop):
    """id of each future a loop timer will wake -> in how many seconds (asyncio.sleep's and
    wait_for's futures; asyncio.timeout's task). Empty for loops that keep no readable timers
    (uvloop's)."""
    due = {}
    now = loop.time()
    for handle in list(getattr(loop, "_scheduled", None) or ()):
        try:
            if handle.cancelled():
                continue
            targets = [arg for arg in (handle._args or ()) if hasattr(arg, "add_done_callback")]
            task = getattr(getattr(handle._callback, "__self__", None), "_task", None)  # asyncio.timeout
            if task is not None:
                targets.append(task)
            for target in targets:
                due[id(target)] = max(due.get(id(target), 0.0), handle.when() - now)
        except Exception:  # a handle of a loop subclass's own kind
            continue
    return due


def _tasks_of(loop):
    """(count of each group of the loop's tasks; for each group whose every task sleeps until a
    loop timer wakes it, in how many seconds the last of them wakes; the count of each group's
    tasks that hold a closed connection; tasks whose locals could not be read, and the first
    reason)."""
    import asyncio

    due = _timers(loop)
    counts, wakes, orphans, unread = {}, {}, {}, [0, None]
    for task in asyncio.all_tasks(loop):
        try:
            coro = task.get_coro()
            name = getattr(coro, "__qualname__", None)
            if type(name) is not str:
                name = type_parts(type(coro))[1]
        except Exception:
            coro, name = None, "?"
        chain, orphan = [], False  # the await chain is walked once, for the site and the orphans
        try:
            chain = _chain(coro) if coro is not None else []
            orphan = holds_closed_connection(chain)
        except Exception as exc:  # counted, and said: a task not read is no evidence of health
            unread[0] += 1
            unread[1] = unread[1] or f"{type(exc).__name__}: {exc}"
        key = f"{name} @ {suspended_at(chain)}"
        counts[key] = counts.get(key, 0) + 1
        if orphan:
            orphans[key] = orphans.get(key, 0) + 1
        try:
            waiter = getattr(task, "_fut_waiter", None)
            wake = due.get(id(waiter)) if waiter is not None else due.get(id(task))
        except Exception:
            wake = None
        if wake is None:
            wakes[key] = None  # one task of the group waits on something other than a timer
        elif key not in wakes or wakes[key] is not None:
            wakes[key] = max(wakes.get(key) or 0.0, wake)
    return counts, {key: round(s, 3) for key, s in wakes.items() if s is not None}, orphans, unread


def task_census(deadline, notes):
    """Tasks of every running loop, each counted inside its own loop; (counts, seconds until
    the tasks of a group that all sleep on loop timers wake, counts of the orphans among them,
    ms the slowest loop took to answer)."""
    counts, wakes, awake, orphans, slowest = {}, {}, set(), {}, None
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
            found, asleep, held, (unread, why) = future.result(timeout=max(0.05, deadline - asked))
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
            if key in asleep:
                wakes[key] = max(wakes.get(key, 0.0), asleep[key])
            else:
                awake.add(key)
        for key, n in held.items():
            orphans[key] = orphans.get(key, 0) + n
        if unread:
            notes.append(f"event loop {number}: {unread} tasks' locals could not be read, so whether "
                         f"they hold a closed connection is not known; first: {why}")
    return counts, {key: wake for key, wake in wakes.items() if key not in awake}, orphans, slowest


# -- garbage, objects, containers, threads ---------------------------------------------


def collect_garbage(typed):
    """gc.collect(); with `typed`, keeping what it found unreachable long enough to count it
    by type, then freeing it for real, which takes a second full collection. (counts of
    counted types or None, total unreachable, ms)."""
    started = time.perf_counter()
    if not typed:
        total = gc.collect()
        return None, total, (time.perf_counter() - started) * 1000
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
    for kind, n in Counter(map(type, found)).items():
        try:
            if type_kind(kind):
                key = type_name(kind)
                counts[key] = counts.get(key, 0) + n
        except Exception:  # counted as garbage all the same (garbage_total)
            continue
    total = len(found)
    del found
    gc.collect()
    return counts, total, (time.perf_counter() - started) * 1000


def container_base(kind):
    """The container type `kind` is or derives from (dict, list, set, frozenset, deque), or None."""
    base = _container_bases.get(kind, False)
    if base is False:
        base = _container_bases[kind] = next((b for b in CONTAINERS if issubclass(kind, b)), None)
    return base


def container_length(value):
    """Entries of a dict, list, set or deque (or a subclass's, by the base type's own length:
    an overridden __len__ may raise, lie or run the server's code); None for anything else.
    type(), not isinstance: isinstance asks a proxy's __class__, which can lie or raise."""
    base = container_base(type(value))
    return None if base is None else base.__len__(value)


def _add_containers(prefix, namespace, entries):
    for attr, value in namespace:
        base = _container_bases.get(type(value), False)
        if base is False:
            base = container_base(type(value))
        if base is None or type(attr) is not str or (attr.startswith("__") and attr.endswith("__")):
            continue
        key = f"{prefix}.{attr}"
        entries[key] = entries.get(key, 0) + base.__len__(value)


_holding = set()  # the classes (by qualname) whose instances held a container at the last census


class Unreadable:
    """Objects a census skipped because reading them raised: counted, the first one named."""

    def __init__(self, what):
        self.what = what
        self.count = 0
        self.first = None

    def add(self, obj, exc):
        self.count += 1
        if self.first is None:
            try:
                kind = type_name(type(obj))
            except Exception:
                kind = "?"
            self.first = f"{type(exc).__name__}: {exc} (a {kind})"

    def note(self, notes):
        if self.count:
            notes.append(f"{self.count} {self.what} could not be read and were skipped, first: {self.first}")


def none_hold(instances, holders):
    """Whether none of these instances holds a value of a `holders` type in its __dict__,
    told in one pass in C; False when that cannot be told (an instance without a plain
    __dict__): then each is read in turn."""
    try:
        namespaces = map(_OBJECT_GETATTRIBUTE, instances, repeat("__dict__"))
        return holders.isdisjoint(map(type, chain.from_iterable(map(dict.values, namespaces))))
    except Exception:
        return False


def object_census(deadline, notes):
    """(objects by type, container entries by owner.attribute, the server's own types among
    them, objects walked, skipped). Objects are counted by type in one pass in C; only the
    instances of the server's own classes are visited one by one, for their containers."""
    objects, entries, own, slotted = {}, {}, {}, set()
    holders = set(CONTAINERS)  # every container type on the heap: containers' subclasses are tracked
    unreadable = Unreadable("objects")
    everything = gc.get_objects()
    for kind, n in Counter(map(type, everything)).items():
        try:
            if kind not in holders and container_base(kind) is not None:
                holders.add(kind)
            found = type_kind(kind)
            if not found:
                continue
            key = type_name(kind)
            objects[key] = objects.get(key, 0) + n
            if found == 2:
                prefix = type_parts(kind)[1]
                own[kind] = (prefix, prefix not in _holding)
                if not _TYPE_DICTOFFSET(kind):  # slots only: no __dict__ to hold a container in
                    slotted.add(kind)
        except Exception as exc:  # a type that cannot be read is skipped, never the census
            unreadable.count += n - 1
            unreadable.add(kind, exc)
    walk = {kind: value for kind, value in own.items() if kind not in slotted}
    mine = [obj for obj in everything if type(obj) in walk] if walk else []
    total = len(everything)
    del everything
    # Instances of the classes none of which held a container last time (a config model's
    # strings) are told all at once, in C, whether any holds one now; if none does, none is
    # read one by one.
    checked = [obj for obj in mine if walk[type(obj)][1]]
    if checked and none_hold(checked, holders):
        mine = [obj for obj in mine if not walk[type(obj)][1]]
    del checked
    read = 0
    for read, obj in enumerate(mine):
        if read & 1023 == 0 and time.perf_counter() > deadline:
            break
        try:
            namespace = object.__getattribute__(obj, "__dict__")
            if type(namespace) is not dict:
                continue
            prefix, check = walk[type(obj)]
            if not check or not holders.isdisjoint(map(type, dict.values(namespace))):
                _add_containers(prefix, list(dict.items(namespace)), entries)
        except Exception as exc:  # one object that cannot be read is skipped, never the census
            unreadable.add(obj, exc)
    else:
        read = len(mine)
    skipped = len(mine) - read
    del mine
    if skipped:
        notes.append(f"object walk stopped at its deadline: the containers of {skipped} of {read + skipped} "
                     "instances of the server's own classes not counted")
    unreadable.note(notes)
    modules = Unreadable("modules")
    seen = set()  # a module can sit under two names (__main__ and __mp_main__)
    for name, module in list(sys.modules.items()):
        try:
            if module is None or id(module) in seen or type(name) is not str or not own_module(name):
                continue
            seen.add(id(module))
            namespace = object.__getattribute__(module, "__dict__")
            if type(namespace) is not dict:
                continue
            label = namespace.get("__name__")
            _add_containers(label if type(label) is str else name, list(dict.items(namespace)), entries)
        except Exception as exc:
            modules.add(module, exc)
    modules.note(notes)
    _holding.clear()
    _holding.update(key.rpartition(".")[0] for key in entries)
    return objects, entries, set(type_name(kind) for kind in own), total, skipped + unreadable.count


def thread_census(notes):
    counts = {}
    unreadable = Unreadable("threads")
    for thread in threading.enumerate():
        try:
            name = thread.name
            if name == THREAD_NAME:
                continue
            name = re.sub(r"\d+", "N", name if type(name) is str else "?")
            try:  # a target's __qualname__ is its own to answer: a mock answers anything
                label = getattr(object.__getattribute__(thread, "__dict__").get("_target"), "__qualname__", None)
            except Exception:
                label = None
            if type(label) is str and label and f"({label})" not in name:
                name += f" ({label})"
        except Exception as exc:
            unreadable.add(thread, exc)
            continue
        counts[name] = counts.get(name, 0) + 1
    unreadable.note(notes)
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
    global _censuses
    with _census_lock:
        started = time.perf_counter()
        typed = _censuses % GARBAGE_TYPED_EVERY == 0
        _censuses += 1
        deadline = started + budget
        notes = []
        tasks, wakes, orphans, loop_ms = task_census(deadline, notes)
        garbage, garbage_total, gc_ms = collect_garbage(typed)
        objects, entries, own, walked, skipped = object_census(deadline, notes)
        groups = {}
        for kind, counts in (("tasks", tasks), ("orphans", orphans), ("objects", objects),
                             ("entries", entries), ("threads", thread_census(notes))):
            for key, n in _top(counts, notes, kind).items():
                groups[f"{kind}:{key}"] = n
        result = {
            "pid": os.getpid(),
            "groups": groups,
            "own_types": sorted(own),
            "wakes": {f"tasks:{key}": wake for key, wake in wakes.items() if f"tasks:{key}" in groups},
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
        _container_bases.clear()
        for cache in (_type_kinds, _type_names, _connection_types):
            cache.prune()
        return result
