"""Per-Gaussian flag words composed from the layers that features write independently."""

from __future__ import annotations

import numpy as np

from viewer.render.layout import CPU_FLAGS


class FlagLayers:
    """Named layers of [N] uint32 flag bits, one per CPU-side feature, ORed for the GPU scene.

    Each CPU-side feature (crop, pruning, selection) owns one layer; the GPU scene's `flags`
    buffer gets their OR (GPU passes own `gpu_flags`).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._layers: dict[str, np.ndarray] = {}

    def set(self, name: str, flags: np.ndarray | None) -> None:
        """Replace layer `name` with [N] uint32 `flags` of CPU_FLAGS bits (None removes it)."""
        if flags is None:
            self._layers.pop(name, None)
            return
        flags = np.asarray(flags, np.uint32)
        if flags.shape != (self.count,):
            raise ValueError(f"flag layer {name!r} needs shape ({self.count},)")
        if (flags & ~np.uint32(CPU_FLAGS)).any():
            raise ValueError(f"flag layer {name!r} holds bits that GPU passes own")
        self._layers[name] = flags

    def compose(self) -> np.ndarray:
        """[N] uint32: the OR of every layer."""
        out = np.zeros(self.count, np.uint32)
        for flags in self._layers.values():
            out |= flags
        return out
