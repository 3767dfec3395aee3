"""The rows of a GPU scene handed out to pieces of a streamed scene, lowest first.

A piece may get several ranges (no fragmentation can refuse a request that the free rows
could hold); freed ranges merge with their neighbours. `end` is one past the highest row in
use: the GPU scene's count, so that frames do not run over free rows at the top.
"""

from __future__ import annotations

import bisect

Ranges = list[tuple[int, int]]  # [start, stop) row ranges


class RowPool:
    """Free and used rows of [0, capacity)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free: Ranges = [(0, capacity)] if capacity > 0 else []

    @property
    def free(self) -> int:
        """Rows not in use."""
        return sum(stop - start for start, stop in self._free)

    @property
    def used(self) -> int:
        """Rows in use."""
        return self.capacity - self.free

    @property
    def end(self) -> int:
        """One past the highest row in use (0 when none is)."""
        if not self._free or self._free[-1][1] < self.capacity:
            return self.capacity
        return self._free[-1][0]

    def take(self, rows: int) -> Ranges | None:
        """`rows` rows, from the lowest free ones, or None (nothing taken) when too few are free."""
        if rows > self.free:
            return None
        taken: Ranges = []
        while rows > 0:
            start, stop = self._free[0]
            part = min(rows, stop - start)
            taken.append((start, start + part))
            rows -= part
            if start + part == stop:
                self._free.pop(0)
            else:
                self._free[0] = (start + part, stop)
        return taken

    def give(self, ranges: Ranges) -> None:
        """Return `ranges` (taken before) to the free rows."""
        for start, stop in ranges:
            if start < stop:
                i = bisect.bisect_left(self._free, (start, stop))
                self._free.insert(i, (start, stop))
        merged: Ranges = []
        for start, stop in self._free:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], stop)
            else:
                merged.append((start, stop))
        self._free = merged

    def resize(self, capacity: int) -> None:
        """Change the capacity: rows added at the top, or free top rows dropped (to `end`)."""
        capacity = max(capacity, self.end)
        if capacity > self.capacity:
            self.give([(self.capacity, capacity)])
        elif capacity < self.capacity:
            start, _ = self._free.pop()  # the free range at the top (end < capacity)
            if start < capacity:
                self._free.append((start, capacity))
        self.capacity = capacity
