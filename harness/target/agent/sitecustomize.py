"""The harness's census agent, loaded at interpreter start of a server it starts.

The harness puts this directory first on PYTHONPATH and sets HARNESS_CENSUS_TOKEN; Python
imports this file as `sitecustomize`, which starts the agent (_harness_census_endpoint.py,
counting with _harness_census.py) and then imports the `sitecustomize` the environment
already had, so nothing of it is lost. Kept to
syntax any Python 3 parses: on a Python too old for the census it says so and steps aside.
"""

import os
import sys


def _start_census():
    if not os.environ.get("HARNESS_CENSUS_TOKEN"):
        return
    try:
        import _harness_census_endpoint

        _harness_census_endpoint.start()
    except Exception as exc:  # never break the server: the harness reports the census as off
        sys.stderr.write("harness census agent did not start: %r\n" % (exc,))


def _chain():
    """Import the sitecustomize this one shadows, if the environment has one."""
    here = os.path.dirname(os.path.abspath(__file__))
    ours = sys.modules.pop("sitecustomize", None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:
        import sitecustomize  # noqa: F401  (the environment's own)
    except ImportError as exc:
        if getattr(exc, "name", None) != "sitecustomize":
            raise
    finally:
        sys.path[:] = saved
        if "sitecustomize" not in sys.modules and ours is not None:
            sys.modules["sitecustomize"] = ours


_start_census()
_chain()
