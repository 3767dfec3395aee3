"""Decoded chunk files of a streamed scene, read on worker threads, under a host memory budget.

A file is read only when its decoded size fits next to what the cache holds and what is being
read (the least recently used files nobody pins are dropped to make room), so the cache never
holds more than its budget: a read's size is known before it starts (`size_of`, exact: the
reader keeps only the rows the index uses, at the stream's SH degree). Reads the camera no
longer wants are cancelled while they wait for a worker. A read that fails is remembered with
its reason and not tried again.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from viewer.scene import GaussianScene

WORKERS = 2  # reads at once (decoding is numpy and Pillow, which release the GIL)
QUEUED = 2 * WORKERS  # reads handed to the workers at a time (the rest wait here, re-ranked)


class ChunkCache:
    """Chunk files (by index into the stream's filenames) read and kept under `budget` bytes.

    Attributes:
        budget: bytes of decoded files held and being read, at most.
        failures: file -> the one-line reason its read failed.
        loads: files read so far. evictions: files dropped for room so far.
        load_ms: wall time of the newest read, milliseconds.
    """

    def __init__(
        self, read: Callable[[int], GaussianScene], size_of: Callable[[int], int], budget: int
    ) -> None:
        self._read = read
        self._size_of = size_of
        self.budget = budget
        self._held: OrderedDict[int, GaussianScene] = OrderedDict()  # least recently used first
        self._reading: dict[int, concurrent.futures.Future[GaussianScene]] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(WORKERS, "stream-chunks")
        self.failures: dict[int, str] = {}
        self.loads = 0
        self.evictions = 0
        self.load_ms = 0.0

    @property
    def nbytes(self) -> int:
        """Bytes held, and reserved for the reads under way."""
        held = sum(scene.nbytes for scene in self._held.values())
        return held + sum(self._size_of(file) for file in self._reading)

    @property
    def held(self) -> int:
        """Files held."""
        return len(self._held)

    @property
    def pending(self) -> int:
        """Reads under way or waiting for a worker."""
        return len(self._reading)

    def holds(self, file: int) -> bool:
        """Whether the file is held (its use unchanged)."""
        return file in self._held

    def get(self, file: int) -> GaussianScene | None:
        """The decoded file, if held (it becomes the most recently used)."""
        scene = self._held.get(file)
        if scene is not None:
            self._held.move_to_end(file)
        return scene

    def want(self, files: Iterable[int], pinned: set[int]) -> None:
        """Read `files` (most wanted first) as room allows; cancel waiting reads of others.

        Args:
            files: the files the camera needs and the cache does not hold.
            pinned: files that must not be dropped for room (needed, not yet used).
        """
        wanted = [f for f in dict.fromkeys(files) if f not in self.failures]
        for file, future in list(self._reading.items()):
            if file not in wanted and future.cancel():
                del self._reading[file]
        for rank, file in enumerate(wanted):
            if len(self._reading) >= QUEUED:
                break
            if file in self._held or file in self._reading:
                continue
            size = self._size_of(file)
            if size > self.budget:
                self.failures[file] = (
                    f"needs {size / 2**20:.0f} MB decoded, more than the host budget"
                )
                continue
            if not self._make_room(size, pinned | set(wanted[:rank])):
                break
            self._reading[file] = self._pool.submit(self._timed_read, file)

    def _timed_read(self, file: int) -> GaussianScene:
        start = time.perf_counter()
        scene = self._read(file)
        self.load_ms = (time.perf_counter() - start) * 1000.0
        return scene

    def _make_room(self, size: int, keep: set[int]) -> bool:
        """Drop least recently used files outside `keep` until `size` more bytes fit."""
        for file in list(self._held):
            if self.nbytes + size <= self.budget:
                break
            if file not in keep:
                del self._held[file]
                self.evictions += 1
        return self.nbytes + size <= self.budget

    def collect(self) -> list[int]:
        """The files whose reads finished since the last call (now held, or failed)."""
        done = [file for file, future in self._reading.items() if future.done()]
        for file in done:
            future = self._reading.pop(file)
            try:
                self._held[file] = future.result()
                self.loads += 1
            except Exception as exc:  # a broken chunk must not end the viewer: say why, go on
                self.failures[file] = str(exc) or type(exc).__name__
        return done

    def wait(self, timeout: float | None = None) -> None:
        """Block until a read under way finishes (or `timeout` seconds pass)."""
        if self._reading:
            concurrent.futures.wait(
                list(self._reading.values()),
                timeout,
                return_when=concurrent.futures.FIRST_COMPLETED,
            )

    def resize(self, budget: int, pinned: set[int]) -> None:
        """Set the budget; drop unpinned files until the held ones fit it."""
        self.budget = budget
        self._make_room(0, pinned)

    def close(self) -> None:
        """Cancel waiting reads, drop every file (reads under way finish on their own)."""
        for future in self._reading.values():
            future.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._reading.clear()
        self._held.clear()
