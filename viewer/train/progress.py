"""A progress bar on stderr: one line rewritten in place on a terminal, a line a while elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
TERMINAL_PERIOD = 0.2  # seconds between redraws on a terminal
LOG_PERIOD = 10.0  # seconds between lines when stderr is a file or a pipe


class Progress:
    """`update(done, fields)` draws `label done/total [####....] fields rate`."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.shown = -1e9
        self.first = 0

    def begin(self, done: int) -> None:
        """Count the rate from `done` (a resumed run's first step)."""
        self.first = done
        self.start = time.monotonic()

    def update(self, done: int, fields: str = "", force: bool = False) -> None:
        """Show progress when due (every TERMINAL_PERIOD or LOG_PERIOD seconds) or `force`d."""
        now = time.monotonic()
        period = TERMINAL_PERIOD if self.terminal else LOG_PERIOD
        if not force and done < self.total and now - self.shown < period:
            return
        self.shown = now
        filled = round(BAR_WIDTH * done / self.total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = now - self.start
        rate = (done - self.first) / elapsed if elapsed > 0 else 0.0
        line = f"{self.label} {done}/{self.total} [{bar}] {fields} {rate:.1f} it/s"
        if self.terminal:
            end = "\n" if done >= self.total else ""
            print(f"\r{line}\x1b[K", end=end, file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line of its own (the bar is redrawn after it)."""
        if self.terminal:
            print(f"\r\x1b[K{text}", file=self.stream, flush=True)
            self.shown = -1e9
        else:
            print(text, file=self.stream, flush=True)
