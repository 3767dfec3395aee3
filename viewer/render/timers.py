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


class PassTimer:
    """Times named sections of each frame: `with timer.section("sort"): ...`.

    With GL timer queries nothing ever waits: each frame's queries are read LAG_FRAMES frames
    later. With finish+wall each section is bracketed by ctx.finish() (exact but serialising).
    """

    def __init__(self, ctx: moderngl.Context, clock: str) -> None:
        self.ctx = ctx
        self.clock = clock
        self.lag = LAG_FRAMES if clock == CLOCK_GL_TIMER else 0
        self._free: list[moderngl.Query] = []
        self._pending: list[tuple[int, dict[str, moderngl.Query]]] = []
        self._queries: dict[str, moderngl.Query] = {}
        self._device_ms: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self.frame = -1

    def begin_frame(self) -> None:
        """Start a new frame's sections."""
        self.frame += 1
        self._queries = {}
        self._device_ms = {}
        self.cpu_ms = {}

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Time the GL work issued inside the block under `name`."""
        if self.clock == CLOCK_FINISH:
            self.ctx.finish()
        start = time.perf_counter()
        if self.clock == CLOCK_GL_TIMER:
            query = self._free.pop() if self._free else self.ctx.query(time=True)
            self._queries[name] = query
            with query:
                yield
        else:
            yield
            self.ctx.finish()
        elapsed = (time.perf_counter() - start) * 1e3
        self.cpu_ms[name] = self.cpu_ms.get(name, 0.0) + elapsed
        if self.clock == CLOCK_FINISH:
            self._device_ms[name] = self._device_ms.get(name, 0.0) + elapsed

    def end_frame(self) -> tuple[int, dict[str, float]] | None:
        """Finish the frame; return (frame index, device ms per pass) of a frame now complete."""
        if self.clock == CLOCK_FINISH:
            return self.frame, self._device_ms
        self._pending.append((self.frame, self._queries))
        if len(self._pending) <= self.lag:
            return None
        frame, queries = self._pending.pop(0)
        times = {name: q.elapsed / 1e6 for name, q in queries.items()}
        self._free.extend(queries.values())
        return frame, times
