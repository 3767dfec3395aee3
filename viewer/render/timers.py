"""Named per-pass timing: GL timer queries read a few frames late, or glFinish + wall clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import moderngl

CLOCK_GL_TIMER = "gl-timer"
CLOCK_FINISH = "finish+wall"
LAG_FRAMES = 2  # timer queries are read this many frames after they were issued


def choose_clock(kind: str, software_gl: bool) -> str:
    """'auto' -> finish+wall on software GL (its timer queries are unreliable), else GL timers."""
    if kind == "auto":
        return CLOCK_FINISH if software_gl else CLOCK_GL_TIMER
    if kind not in (CLOCK_GL_TIMER, CLOCK_FINISH):
        raise ValueError(f"unknown clock {kind!r}; use auto, {CLOCK_GL_TIMER} or {CLOCK_FINISH}")
    return kind


class FrameClock:
    """One frame's timed sections; a frame drawn in parts runs a section name more than once.

    Attributes:
        index: the frame's number (`PassTimer.begin_frame` counts them).
        cpu_ms: host milliseconds per section name, summed over its runs.
    """

    def __init__(self, timer: PassTimer, index: int) -> None:
        self._timer = timer
        self.index = index
        self.queries: dict[str, list[moderngl.Query]] = {}
        self.device_ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self._open: list[str] = []  # the sections open now, innermost last

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Time the GL work issued inside the block under `name` (added to its earlier runs).

        A section opened inside another is taken out of the enclosing one's time, so that the
        sections add up to the frame; with GL timer queries, which do not nest, it is not timed
        on its own and stays in the enclosing section.
        """
        timer = self._timer
        finish = timer.clock == CLOCK_FINISH
        parent = self._open[-1] if self._open else None
        if parent is not None and not finish:
            yield
            return
        self._open.append(name)
        try:
            if finish:
                timer.ctx.finish()
            start = time.perf_counter()
            if finish:
                yield
                timer.ctx.finish()
            else:
                query = timer.query()
                self.queries.setdefault(name, []).append(query)
                with query:
                    yield
        finally:
            self._open.pop()
        elapsed = (time.perf_counter() - start) * 1e3
        self.cpu_ms[name] = self.cpu_ms.get(name, 0.0) + elapsed
        if finish:
            self.device_ms[name] = self.device_ms.get(name, 0.0) + elapsed
        if parent is not None:
            self.cpu_ms[parent] = self.cpu_ms.get(parent, 0.0) - elapsed
            self.device_ms[parent] = self.device_ms.get(parent, 0.0) - elapsed


class PassTimer:
    """Times named sections of frames: `with timer.begin_frame().section("sort"): ...`.

    With GL timer queries nothing ever waits: each frame's queries are read LAG_FRAMES frames
    later. With finish+wall each section is bracketed by ctx.finish() (exact but serialising).
    Frames end in the order they began or in any other (a frame drawn in parts may see whole
    frames begin and end while it is drawn); their times come back in the order they ended.
    """

    def __init__(self, ctx: moderngl.Context, clock: str) -> None:
        self.ctx = ctx
        self.clock = clock
        self.lag = LAG_FRAMES if clock == CLOCK_GL_TIMER else 0
        self._free: list[moderngl.Query] = []
        self._pending: list[FrameClock] = []
        self.frame = -1

    def begin_frame(self) -> FrameClock:
        """A new frame's sections."""
        self.frame += 1
        return FrameClock(self, self.frame)

    def query(self) -> moderngl.Query:
        """A free GL time query."""
        return self._free.pop() if self._free else self.ctx.query(time=True)

    def end_frame(self, frame: FrameClock) -> tuple[FrameClock, dict[str, float]] | None:
        """End `frame`; return a frame now complete with its device ms per pass, if any is."""
        if self.clock == CLOCK_FINISH:
            return frame, frame.device_ms
        self._pending.append(frame)
        if len(self._pending) <= self.lag:
            return None
        done = self._pending.pop(0)
        times = {
            name: sum(q.elapsed for q in queries) / 1e6 for name, queries in done.queries.items()
        }
        for queries in done.queries.values():
            self._free.extend(queries)
        return done, times
