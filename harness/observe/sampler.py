"""Sample the server after each wave: its /metrics, /debug/resources and its process.

No Locust import: this runs inside the Locust process (under gevent), in the harness
process (page waves) and in plain tests.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil
from prometheus_client.parser import text_string_to_metric_families

from harness.errors import TargetError
from harness.observe.census import CensusClient, CensusError
from harness.observe.control import ControlMeter, cpu_seconds
from harness.options import SETTLE_TIMEOUT_S
from harness.rundir.records import Census, ProcessFigures, Target

logger = logging.getLogger("harness.observe.sampler")

CLIENT_GAUGE = "chat_clients"


@dataclass
class Observation:
    """The server half of a cycle's sample."""

    server: dict[str, float]
    process: ProcessFigures | None
    warnings: list[str] = field(default_factory=list)
    census: Census | None = None
    failed: dict[str, str] = field(default_factory=dict)  # instrument -> why it gave nothing this cycle
    seconds: dict[str, float] = field(default_factory=dict)  # what each part took: process, scrape, census


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {name or name{labels}: value}; raises ValueError on garbage."""
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            key = sample.name
            if sample.labels:
                key += "{" + ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items())) + "}"
            figures[key] = float(sample.value)
    return figures


def http_get(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


# The idle-CPU window: the server's CPU over this long, with no client, after each wave. Read to
# the nanosecond (control.cpu_seconds), so its length need not outlast a 10 ms clock tick: a
# server judged spinning uses 0.05 cores (rules.Config.min_idle_cpu), 0.75 ms of CPU in 15 ms.
# The fixed bundled server reads 0 in every window; the window is a tenth of a cycle.
IDLE_WINDOW_S = 0.015

class Sampler:
    """Reads the server's figures; `pid` adds the process (and its children) via psutil."""

    def __init__(
        self,
        metrics_url: str | None,
        resources_url: str | None = None,
        pid: int | None = None,
        settle_timeout: float = SETTLE_TIMEOUT_S,
        idle_window: float = IDLE_WINDOW_S,
        http_timeout: float = 5.0,
        extra_urls: list[str] | None = None,
        patterns: list[str] | None = None,
        server_port: int | None = None,
        census: CensusClient | None = None,
    ) -> None:
        self.metrics_url = metrics_url
        self.resources_url = resources_url
        self.extra_urls = extra_urls or []
        self.patterns = [re.compile(p) for p in patterns or []]
        self.server_port = server_port
        self.pid = pid
        self.settle_timeout = settle_timeout
        self.idle_window = idle_window
        self.http_timeout = http_timeout
        self.census = census
        self._warned: set[str] = set()
        self.warnings: list[str] = []  # new since the last sample, reported once each
        self._process = psutil.Process(pid) if pid else None

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(message)
            logger.warning(message)

    def scrape(self, failed: dict[str, str] | None = None) -> dict[str, float]:
        """The server's own figures; {} when it has none. Unreachable -> TargetError. A source
        that answers an error or garbage is warned of once and, into `failed`, every time."""
        figures: dict[str, float] = {}
        sources = [(self.metrics_url, parse_metrics), (self.resources_url, parse_json)]
        sources += [(url, parse_metrics) for url in self.extra_urls]
        for url, parse in sources:
            if not url:
                continue
            try:
                text = http_get(url, self.http_timeout)
            except (urllib.error.URLError, OSError) as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    self._failed(failed, url, f"answered HTTP {exc.code}")
                    continue
                raise TargetError(f"server not reachable at {url}: {exc}") from None
            try:
                figures.update(parse(text))
            except ValueError as exc:
                self._failed(failed, url, f"did not return parseable figures ({exc})")
        if self.patterns:
            figures = {
                name: value for name, value in figures.items()
                if name == CLIENT_GAUGE or any(p.search(name) for p in self.patterns)
            }
        return figures

    def _failed(self, failed: dict[str, str] | None, url: str, why: str) -> None:
        self._warn_once(url, f"{url} {why}; this cycle has none of its figures")
        if failed is not None:
            failed[f"metrics {url}"] = why

    def live_clients(self, figures: dict[str, float]) -> float:
        """Connected clients: the server's own gauge, else its established TCP connections
        on the chat port, else 0 (nothing to wait for)."""
        if CLIENT_GAUGE in figures:
            return figures[CLIENT_GAUGE]
        if self._process is None or self.server_port is None:
            return 0.0
        count = 0
        for proc in self.processes():
            try:
                count += sum(
                    1 for c in proc.net_connections(kind="tcp")
                    if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.server_port
                )
            except psutil.NoSuchProcess:
                continue
        return float(count)

    def wait_quiet(self) -> tuple[bool, float]:
        """Wait until the server reports no live clients; (reached, seconds waited)."""
        start = time.monotonic()
        delay = 0.01
        while True:
            figures = self.scrape()
            if self.live_clients(figures) == 0.0:
                return True, time.monotonic() - start
            if time.monotonic() - start > self.settle_timeout:
                return False, time.monotonic() - start
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def processes(self) -> list[psutil.Process]:
        if self._process is None:
            return []
        if not self._process.is_running():
            raise TargetError(f"server process {self.pid} is gone")
        try:
            return [self._process, *self._process.children(recursive=True)]
        except psutil.NoSuchProcess:
            raise TargetError(f"server process {self.pid} is gone") from None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.processes())

    def control_meter(self) -> ControlMeter:
        """The control series' meter, told the server's processes where this sampler has its pid."""
        return ControlMeter(self.processes if self._process is not None else None)

    def process_figures(self) -> ProcessFigures | None:
        """RSS, fds, threads and TCP states of the server's process tree; CPU while idle,
        over a window that the other figures are read in (the kernel charges reading a
        process's /proc files to the reader, not to the server)."""
        if self._process is None:
            return None
        before = self.cpu_seconds()
        opened = time.monotonic()
        rss = fds = threads = 0
        states: Counter[str] = Counter()
        for proc in self.processes():
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    fds += proc.num_fds()
                    threads += proc.num_threads()
                    for conn in proc.net_connections(kind="tcp"):
                        states[conn.status] += 1
            except psutil.NoSuchProcess:
                continue
        time.sleep(max(0.0, opened + self.idle_window - time.monotonic()))
        idle_cpu = max(0.0, self.cpu_seconds() - before) / (time.monotonic() - opened)
        return ProcessFigures(
            rss_bytes=rss,
            open_fds=fds,
            threads=threads,
            tcp=dict(states),
            close_wait=states.get(psutil.CONN_CLOSE_WAIT, 0),
            idle_cpu=round(idle_cpu, 4),
        )

    def take_census(self, failed: dict[str, str] | None = None, counted: bool = True) -> Census | None:
        """The census after the other figures: its gc.collect() must not touch them."""
        if self.census is None:
            return None
        try:
            return self.census.take(counted)
        except CensusError as exc:
            self._warn_once("census", f"no census this cycle: {exc}")
            if failed is not None:
                failed["census"] = str(exc)
            return None

    def sample(self, cycle: bool = True) -> Observation:
        """The server half of a sample; `cycle=False` for one taken outside the cycles."""
        started = time.monotonic()
        process = self.process_figures()
        processed = time.monotonic()
        failed: dict[str, str] = {}
        figures = self.scrape(failed)
        scraped = time.monotonic()
        census = self.take_census(failed, counted=cycle)
        seconds = {"process": processed - started, "scrape": scraped - processed, "census": time.monotonic() - scraped}
        observation = Observation(figures, process, self.warnings, census, failed,
                                  {k: round(v, 4) for k, v in seconds.items()})
        self.warnings = []
        return observation


def parse_json(text: str) -> dict[str, float]:
    """The numeric top-level fields of a JSON object (the /debug/resources document)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return {
        k: float(v)
        for k, v in document.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def http_base(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def sampler_for(target: Target, settle_timeout: float = SETTLE_TIMEOUT_S, alloc_from: int | None = None) -> Sampler:
    """The sampler of a target, at the endpoints it names. With tracemalloc on in the
    server, the census of cycle `alloc_from` is the baseline of the growing lines."""
    census = None
    if target.census_url and target.census_token:
        census = CensusClient(target.census_url, target.census_token, alloc_from if target.census_alloc else None)
    return Sampler(
        metrics_url=target.metrics_url,
        resources_url=target.resources_url,
        extra_urls=list(target.extra_metrics_urls),
        patterns=list(target.patterns),
        pid=target.pid,
        server_port=urlsplit(target.ws_url).port,
        settle_timeout=settle_timeout,
        census=census,
    )
