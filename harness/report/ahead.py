"""The figures of a run drawn ahead: once every cycle is in, while the drain check idles and
Locust exits, a thread draws them from the samples (which the drain never changes). The
final reports keep them if the final analysis draws the same figures (`drawn_from`), and
draw them again if the drain changed what they show (a verdict, a trend)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from harness.judge.analysis import Analysis, Config, analyze
from harness.judge.series import columns_of
from harness.report.plots import drawn_from, render_all
from harness.rundir.records import CycleSample

logger = logging.getLogger(__name__)


class FiguresAhead:
    """Draws the figures of `samples` into `run_dir` in a thread of its own, started at once."""

    def __init__(self, samples: list[CycleSample], config: Config, run_dir: Path) -> None:
        self.count = len(samples)
        self.key: tuple[object, ...] | None = None
        self.paths: list[Path] | None = None
        self.thread = threading.Thread(target=self.draw, args=(list(samples), config, run_dir),
                                       name="harness-figures", daemon=True)
        self.thread.start()

    def draw(self, samples: list[CycleSample], config: Config, run_dir: Path) -> None:
        try:
            columns = columns_of(samples)
            analysis = analyze(columns, config)
            self.paths = render_all(columns, analysis, run_dir)
            self.key = drawn_from(analysis)
        except Exception:  # drawn again by the final reports, where an error is not swallowed
            logger.debug("figures drawn ahead failed; the final reports draw them", exc_info=True)

    def for_final(self, samples: list[CycleSample], analysis: Analysis) -> list[Path] | None:
        """The figures drawn ahead, if they are the final analysis's; else None (draw them)."""
        self.thread.join()
        if self.paths is None or len(samples) != self.count or self.key != drawn_from(analysis):
            return None
        return self.paths
