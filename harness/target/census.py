"""Put the census agent into a Python or Node server the harness starts, and find it once it runs.

Python loads agent/_harness_census.py through a `sitecustomize` first on PYTHONPATH; Node
loads agent/harness_census.js through NODE_OPTIONS=--require. Either announces its loopback
port in a file named by the environment, and answers only requests that carry the random
token it was given there, with the same record.

The server also starts with glibc's mmap threshold fixed at 128 KiB (unless it is set
already): a census's large passing buffers (Node's heap snapshot, in the tens of MB) are
then mapped and unmapped, not left in the heap for glibc to keep, where they showed as the
server's RSS growing census after census (116 -> 154 MiB over 60 censuses of an idle Node
server, 115 -> 126 MiB with it fixed).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

AGENT_DIR = Path(__file__).with_name("agent")
NODE_AGENT = AGENT_DIR / "harness_census.js"
ANNOUNCE_TIMEOUT = 3.0  # after the server listens; the agent starts before the server's code
MMAP_THRESHOLD = str(128 * 1024)  # glibc's default, made fixed (it otherwise rises after each large free)


@dataclass
class CensusFound:
    """The agent as found: where to ask (None: nowhere), and what to tell the user once."""

    url: str | None
    token: str | None
    note: str
    alloc: bool = False


class CensusPlan:
    """The environment that loads the agent, and the place where it announces itself."""

    def __init__(self, alloc: bool = False) -> None:
        self.token = secrets.token_urlsafe(24)
        self.alloc = alloc
        self._dir = tempfile.mkdtemp(prefix="harness-census-")
        self.announce = Path(self._dir) / "agent.json"

    def env(self) -> dict[str, str]:
        paths = [str(AGENT_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        node = f'--require "{NODE_AGENT}"'
        return {
            "PYTHONPATH": os.pathsep.join(paths),
            "NODE_OPTIONS": " ".join(filter(None, [os.environ.get("NODE_OPTIONS", ""), node])),
            "HARNESS_CENSUS_TOKEN": self.token,
            "HARNESS_CENSUS_FILE": str(self.announce),
            "HARNESS_CENSUS_ALLOC": "1" if self.alloc else "0",
            "MALLOC_MMAP_THRESHOLD_": os.environ.get("MALLOC_MMAP_THRESHOLD_") or MMAP_THRESHOLD,
        }

    def find(self, pid: int | None, timeout: float = ANNOUNCE_TIMEOUT) -> CensusFound:
        """Wait for the agent's announcement; say why there is none."""
        try:
            deadline = time.monotonic() + timeout
            while not self.announce.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.announce.exists():
                return CensusFound(None, None, why_no_agent(pid))
            info = json.loads(self.announce.read_text())
        except (OSError, ValueError) as exc:
            return CensusFound(None, None, f"no census: the agent's announcement was unreadable ({exc})")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
        if "port" not in info:
            return CensusFound(None, None, f"no census: {info.get('error', 'the agent did not start')}")
        runtime = f"Node {info['node']}" if "node" in info else f"Python {info.get('python', '?')}"
        note = f"census: on, inside pid {info.get('pid')} ({runtime})"
        if self.alloc:
            note += ", with tracemalloc"
        return CensusFound(f"http://127.0.0.1:{info['port']}/census", self.token, note, self.alloc)

    def discard(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


def why_no_agent(pid: int | None) -> str:
    """The one line that says why a started server has no census, and what would give it one."""
    names = []
    if pid is not None:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                try:
                    names.append(proc.name())
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
    if any(name.lower().startswith("node") for name in names):
        return ("no census: the server's Node did not load the agent (NODE_OPTIONS replaced, or a runtime "
                "that ignores it?); --inspect needs NODE_OPTIONS to reach the server's node at startup")
    if names and not any("python" in name.lower() for name in names):
        return (f"no census: the server is neither a Python nor a Node process ({', '.join(dict.fromkeys(names))}); "
                "--inspect sees inside Python 3.10+ and Node 18+ servers")
    return ("no census: the server's Python did not load the agent (started with -I, -E or -S, or with "
            "PYTHONPATH replaced?); --inspect needs the agent directory first on PYTHONPATH at startup")


def not_started_note(target: str) -> str:
    return (f"no census: the harness did not start this server ({target}); start it with --server-cmd "
            "and --inspect to see inside it")
