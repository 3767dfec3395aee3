"""Ctrl+C (or SIGTERM, SIGHUP) lands between training steps, never inside one.

A signal raised while a step edits the model (densification replaces every parameter and its
Adam moments one tensor at a time) would leave tensors of different lengths behind, and the save
that follows Ctrl+C would then fail. Inside `StepGuard.step()` the first such signal is held and
raised when the step ends. A second one is raised at once (the user insists: a step stuck in a
collective waiting for a lost peer), and the guard is then `torn`: the model may be half edited,
so nothing should be saved from it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["StepGuard"]

_HELD = ("SIGINT", "SIGTERM", "SIGHUP")


class StepGuard:
    """Holds stopping signals while a step runs; `torn` after a second one cut a step short."""

    def __init__(self) -> None:
        self.torn = False

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """The block runs whole unless signalled twice; a held signal is raised after it.

        Only signals with a Python handler are held (that handler raises them afterwards);
        outside the main thread, where Python takes no signals, the block runs unguarded.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        held: list[int] = []
        previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

        def hold(signum: int, frame: FrameType | None) -> None:
            if held:
                self.torn = True
                previous[signum](signum, frame)
            held.append(signum)

        for name in _HELD:
            number = getattr(signal, name, None)
            handler = signal.getsignal(number) if number is not None else None
            if number is not None and callable(handler):
                previous[number] = handler
                signal.signal(number, hold)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if held:
            previous[held[0]](held[0], None)
