"""A progress line on stderr for long runs on a terminal; nothing when stderr is not a terminal."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, *, enabled: bool | None = None,
                 min_seconds: float = 1.0):
        self.label = label
        self.total = total
        self.count = 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._start = time.monotonic()
        self._last = 0.0
        self._min = min_seconds
        self._shown = False

    def advance(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._start < self._min or now - self._last < 0.1:
            return
        self._last = now
        self._shown = True
        if self.total:
            pct = 100 * self.count / self.total
            sys.stderr.write(f"\r{self.label}: {self.count}/{self.total} ({pct:.0f}%)")
        else:
            sys.stderr.write(f"\r{self.label}: {self.count}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
