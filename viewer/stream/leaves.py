"""The leaves of a streamed SOG's spatial tree as arrays: bounds and Gaussians per level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.formats.sog_lod_meta import LodMeta, LodRef


@dataclass(frozen=True)
class StreamLeaves:
    """Per leaf of the tree (in LodMeta.nodes order): its bounding sphere and level sizes.

    Attributes:
        nodes: [L] the leaves' indices in LodMeta.nodes.
        centres: [L, 3] float64 centres of the leaves' bounds.
        radii: [L] float64 half diagonals of the bounds (the bounding spheres' radii).
        counts: [L, levels] int64 Gaussians per level; 0 where a leaf lacks the level.
        refs: per leaf, its chunk rows by level.
    """

    nodes: np.ndarray
    centres: np.ndarray
    radii: np.ndarray
    counts: np.ndarray
    refs: tuple[dict[int, LodRef], ...]

    @classmethod
    def of(cls, meta: LodMeta) -> StreamLeaves:
        """The leaves of `meta`'s tree."""
        leaves = [
            i for i, node in enumerate(meta.nodes) if any(r.count for r in node.lods.values())
        ]
        lo = np.array([meta.nodes[i].lo for i in leaves], np.float64).reshape(-1, 3)
        hi = np.array([meta.nodes[i].hi for i in leaves], np.float64).reshape(-1, 3)
        counts = np.zeros((len(leaves), meta.levels), np.int64)
        for row, i in enumerate(leaves):
            for level, ref in meta.nodes[i].lods.items():
                counts[row, level] = ref.count
        return cls(
            np.array(leaves, np.int64),
            (lo + hi) / 2,
            np.linalg.norm(hi - lo, axis=1) / 2,
            counts,
            tuple(meta.nodes[i].lods for i in leaves),
        )

    @property
    def count(self) -> int:
        """Number of leaves."""
        return len(self.nodes)

    def coarsest(self) -> np.ndarray:
        """[L] each leaf's coarsest level (the highest it has)."""
        levels = np.arange(self.counts.shape[1])
        return np.where(self.counts > 0, levels, -1).max(axis=1)

    def rows(self, levels: np.ndarray) -> int:
        """Gaussians drawn with leaf i at `levels[i]`."""
        return int(self.counts[np.arange(self.count), levels].sum())
