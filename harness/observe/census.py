"""Ask the census agent inside the server what lives there, once per cycle after quiesce.

No Locust import: this runs wherever the sampler runs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from harness.rundir.records import Census, RecordError

BUDGET_S = 2.0  # the agent's own bound on one census (task calls, object walk)
SLACK_S = 3.0  # on top of it, for the request itself


class CensusError(Exception):
    """No census this cycle; the message says why in one line."""


def agent_error(exc: urllib.error.HTTPError) -> str:
    """The agent's own word on why it failed (its JSON `error`), as ': <error>', or ''."""
    try:
        error = json.loads(exc.read() or b"{}").get("error")
    except (OSError, ValueError, AttributeError):
        return ""
    return f": {error}" if isinstance(error, str) and error else ""


class CensusClient:
    """The agent at `url`. With `alloc_from`, the census of that call takes tracemalloc's
    baseline and every later one lists the lines that grew since."""

    def __init__(self, url: str, token: str, alloc_from: int | None = None, budget: float = BUDGET_S) -> None:
        self.url = url
        self.token = token
        self.alloc_from = alloc_from
        self.budget = budget
        self.calls = 0

    def alloc_mode(self) -> str:
        if self.alloc_from is None:
            return ""
        if self.calls < self.alloc_from:
            return ""
        return "baseline" if self.calls == self.alloc_from else "compare"

    def take(self, counted: bool = True) -> Census:
        """One census; `counted=False` for one outside the cycles (the drain's sample before
        the first client), which neither counts towards nor takes part in `alloc_from`."""
        self.calls += counted
        query = f"?budget={self.budget:g}"
        mode = self.alloc_mode() if counted else ""
        if mode:
            query += f"&alloc={mode}"
        request = urllib.request.Request(self.url + query, headers={"X-Census-Token": self.token})
        try:
            with urllib.request.urlopen(request, timeout=self.budget + SLACK_S) as response:
                document = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise CensusError(f"the census agent answered HTTP {exc.code}{agent_error(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CensusError(f"the census agent did not answer ({getattr(exc, 'reason', exc)})") from None
        except ValueError as exc:
            raise CensusError(f"the census agent's answer is not JSON ({exc})") from None
        try:
            return Census.from_dict(document)
        except RecordError as exc:
            raise CensusError(f"the census agent's answer is not a census ({exc})") from None
