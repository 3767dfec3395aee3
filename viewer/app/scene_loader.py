"""Scene files read on a worker thread, so the window keeps answering while a big file loads."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from viewer.scene import GaussianScene


@dataclass(frozen=True)
class LoadResult:
    """A finished load: the scene, or the one-line reason it failed."""

    path: str
    scene: GaussianScene | None
    error: str = ""


class SceneLoader:
    """Loads one scene at a time with `read`; a new request while one runs waits for it."""

    def __init__(self, read: Callable[[str], GaussianScene]) -> None:
        self._read = read
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene-loader")
        self._pending: list[tuple[str, Future]] = []

    @property
    def busy(self) -> str:
        """The path being loaded, or "" when idle."""
        return self._pending[0][0] if self._pending else ""

    def request(self, path: str) -> None:
        """Start reading `path`."""
        self._pending.append((path, self._pool.submit(self._read, path)))

    def poll(self) -> LoadResult | None:
        """The oldest finished load, if one finished (each is returned once)."""
        if not self._pending or not self._pending[0][1].done():
            return None
        path, future = self._pending.pop(0)
        try:
            return LoadResult(path, future.result())
        except Exception as exc:  # a broken file must not end the viewer: report any failure
            return LoadResult(path, None, str(exc) or type(exc).__name__)

    def shutdown(self) -> None:
        """Stop the worker (a load in progress is left to finish in the background)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
