"""Ctrl+C (or SIGTERM, SIGHUP) lands between training steps, never inside one.

A signal raised while a step edits the model (densification replaces every parameter and its
Adam moments one tensor at a time) would leave tensors of different lengths behind, and the save
that follows Ctrl+C would then fail. Inside `StepGuard.step()` the first such signal is held and
raised when the step ends. A second one is raised at once (the user insists: a step stuck in a
collective waiting for a lost peer), and the guard is then `torn`: the model may be half edited,
so nothing should be saved from it.

With several ranks a held signal is kept instead (`step(keep=True)`) until the ranks have
agreed to stop (`pending`, then `stop`): the launcher passes Ctrl+C to every rank, each at its
own moment, and a rank that left at once could leave rank 0 waiting inside the next step's
collective for a peer that is gone, so that rank 0 would never save.
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
        self._kept: list[tuple[int, Callable[[int, FrameType | None], Any]]] = []

    @property
    def pending(self) -> bool:
        """Whether a signal held by a `step(keep=True)` waits for `stop`."""
        return bool(self._kept)

    def stop(self) -> None:
        """Raise the signal kept (its handler's exception), else KeyboardInterrupt.

        None is kept where another rank's signal stopped this one.
        """
        if not self._kept:
            raise KeyboardInterrupt
        signum, handler = self._kept[0]
        handler(signum, None)

    @contextlib.contextmanager
    def step(self, keep: bool = False) -> Iterator[None]:
        """The block runs whole unless signalled twice; a held signal is raised after it.

        With `keep` it is kept for `stop` instead. Only signals with a Python handler are held
        (that handler raises them afterwards); outside the main thread, where Python takes no
        signals, the block runs unguarded.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        held: list[int] = []
        previous: dict[int, Callable[[int, FrameType | None], Any]] = {}

        def hold(signum: int, frame: FrameType | None) -> None:
            if held or self._kept:
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
        if held and keep:
            self._kept.append((held[0], previous[held[0]]))
        elif held:
            previous[held[0]](held[0], None)
