"""Scene files read on worker threads, so the window keeps answering while a big file loads.

Each request reads on its own daemon thread: a read that hangs (a stalled network file, a pipe)
blocks only itself, never a later open nor the viewer's exit. The newest request wins: an older
one still running is superseded, and its scene (or error) is dropped when it finally comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from viewer.scene import GaussianScene


@dataclass(frozen=True)
class LoadResult:
    """A finished load: the scene, or the one-line reason it failed."""

    path: str
    scene: GaussianScene | None
    error: str = ""


class SceneLoader:
    """Loads scenes with `read`; only the newest request's result is ever returned."""

    def __init__(self, read: Callable[[str], GaussianScene]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._ticket = 0  # the newest request's number; results of older ones are dropped
        self._busy = ""  # the newest request's path until its result is returned
        self._result: LoadResult | None = None  # the newest request's, once it finished

    @property
    def busy(self) -> str:
        """The path of the newest request until its result has been returned, else ""."""
        return self._busy

    def request(self, path: str) -> None:
        """Start reading `path`, superseding any request still running."""
        with self._lock:
            self._ticket += 1
            ticket = self._ticket
            self._busy, self._result = path, None
        threading.Thread(
            target=self._load, args=(ticket, path), name="scene-loader", daemon=True
        ).start()

    def _load(self, ticket: int, path: str) -> None:
        try:
            result = LoadResult(path, self._read(path))
        except Exception as exc:  # a broken file must not end the viewer: report any failure
            result = LoadResult(path, None, str(exc) or type(exc).__name__)
        with self._lock:
            if ticket == self._ticket:
                self._result = result

    def poll(self) -> LoadResult | None:
        """The newest request's result once it finished (returned once), else None."""
        with self._lock:
            result, self._result = self._result, None
            if result is not None:
                self._busy = ""
        return result

    def shutdown(self) -> None:
        """Drop every request (a read in progress is left to finish on its daemon thread)."""
        with self._lock:
            self._ticket += 1
            self._busy, self._result = "", None
