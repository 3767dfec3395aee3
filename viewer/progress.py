"""Progress of a long step on stderr: one line redrawn on a terminal, whole lines elsewhere.

On a terminal the line is redrawn in place (carriage return, at most every TERMINAL_PERIOD
seconds) and ends with a newline when the step is done. In a file or a pipe every line ends
with a newline and comes at most every LOG_PERIOD seconds (plus the first and the last), so a
log holds readable lines, not one line of carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24
TERMINAL_PERIOD = 0.2  # seconds between redraws on a terminal
LOG_PERIOD = 10.0  # seconds between lines when stderr is a file or a pipe
_CLEAR_LINE = "\x1b[K"


class Progress:
    """`label done/total unit [####....] fields rate` for a step of `total` units.

    Call it as `progress(done, total)` (the form the scoring and training loops report in),
    or use `update` with extra fields, or `fraction` for a job that reports 0..1.
    """

    def __init__(
        self, label: str, total: int = 1, stream: TextIO | None = None, unit: str = "it"
    ) -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.shown = -1e9
        self.first = 0
        self.finished = False

    def begin(self, done: int) -> None:
        """Count the rate from `done` (a resumed run's first step)."""
        self.first = done
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        """Show `done` of `total` units."""
        self.total = max(total, 1)
        self.update(done)

    def fraction(self, fraction: float) -> None:
        """Show a job that reports how far it is (0..1) as a percentage."""
        self.total, self.unit = 100, "%"
        self.update(round(100 * min(max(fraction, 0.0), 1.0)))

    def update(self, done: int, fields: str = "", force: bool = False) -> None:
        """Show progress when due (every TERMINAL_PERIOD or LOG_PERIOD seconds) or `force`d.

        The first call and the one reaching `total` always show; the latter only once.
        """
        now = time.monotonic()
        last = done >= self.total
        if self.finished or (
            not (force or last or self.shown < 0)
            and now - self.shown < (TERMINAL_PERIOD if self.terminal else LOG_PERIOD)
        ):
            return
        self.finished = last
        self.shown = now
        filled = round(BAR_WIDTH * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        elapsed = now - self.start
        rate = (done - self.first) / elapsed if elapsed > 0 and self.unit != "%" else 0.0
        speed = f"{rate:.1f} {self.unit}/s" if rate else f"{elapsed:.1f} s"
        count = f"{done} %" if self.unit == "%" else f"{done}/{self.total} {self.unit}"
        line = " ".join(part for part in (self.label, count, f"[{bar}]", fields, speed) if part)
        if self.terminal:
            print(f"\r{line}{_CLEAR_LINE}", end="\n" if last else "", file=self.stream, flush=True)
        else:
            print(line, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line of its own (the bar is redrawn after it)."""
        if self.terminal:
            print(f"\r{_CLEAR_LINE}{text}", file=self.stream, flush=True)
            self.shown = -1e9
        else:
            print(text, file=self.stream, flush=True)
