"""Per-Gaussian flag words composed from the layers that features write independently."""

from __future__ import annotations

import numpy as np


class FlagLayers:
    """Each feature owns one named layer of [N] uint32 flag bits; the GPU gets their OR.

    Attributes:
        version: increases whenever the composed flags change (for caches of the image).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.version = 0
        self._layers: dict[str, np.ndarray] = {}

    def set(self, name: str, flags: np.ndarray | None) -> None:
        """Replace layer `name` with [N] uint32 `flags` (None removes it)."""
        if flags is None:
            self._layers.pop(name, None)
        else:
            flags = np.asarray(flags, np.uint32)
            if flags.shape != (self.count,):
                raise ValueError(f"flag layer {name!r} needs shape ({self.count},)")
            self._layers[name] = flags
        self.version += 1

    def get(self, name: str) -> np.ndarray | None:
        """Layer `name`, or None when it was never set."""
        return self._layers.get(name)

    def compose(self) -> np.ndarray:
        """[N] uint32: the OR of every layer."""
        out = np.zeros(self.count, np.uint32)
        for flags in self._layers.values():
            out |= flags
        return out
