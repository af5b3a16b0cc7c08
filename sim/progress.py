"""A terminal progress bar that stays quiet when the output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Call with ``(done, total)``; draws ``[####....] done/total unit, rate, time left``.

    Parameters
    ----------
    unit : str
        What is counted (``replicas``, ``points``).
    stream : file, optional
        Where to draw (default stderr).
    enabled : bool, optional
        Force on or off; by default on only when ``stream`` is a terminal.
    """

    def __init__(
        self, unit: str, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        # Redraw at most ten times a second, and always at the end.
        if done < total and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else float("nan")
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        eta = f"{left:5.0f} s left" if left == left else "   ? s left"
        self.stream.write(f"\r[{bar}] {done}/{total} {self.unit}  {rate:7.1f}/s  {eta}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
