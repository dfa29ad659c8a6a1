"""A dependency-free progress bar, drawn only when stderr is a terminal.

Frames are throttled to ten a second, so ``close`` always draws the final state: a bar whose
work completed ends at 100 %, never at the last throttled frame.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, *, enabled: bool | None = None, min_total: int = 64 << 20) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() and total >= min_total
        self.enabled = enabled
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self._last = 0.0

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total)

    def advance(self, amount: int) -> None:
        self.done += amount
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        filled = int(self.fraction * 30)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.fraction:6.1%}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
