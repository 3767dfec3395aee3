"""Spatial partition of a scene's centres into leaves of bounded size (a median k-d tree).

A node holding more than `leaf_size` centres splits at the median of its widest axis (by the
centres' extent), so sibling leaves hold equal counts (within one) and the tree is about
log2(N / leaf_size) deep. Besides the [N, 3] float32 centres, a split holds the node's row
indices, one column and the partition order (about 28 bytes per Gaussian at the root, whatever
the SH degree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Part:
    """A node of the partition: two children, or (a leaf) the sorted rows it holds."""

    children: tuple[Part, Part] | None
    rows: np.ndarray | None

    def leaves(self) -> list[np.ndarray]:
        """The rows of every leaf, depth first (left before right)."""
        if self.children is None:
            assert self.rows is not None
            return [self.rows]
        return self.children[0].leaves() + self.children[1].leaves()


def partition(positions: np.ndarray, leaf_size: int) -> Part:
    """The median k-d tree of `positions` ([N, 3]) with at most `leaf_size` rows per leaf."""
    if leaf_size < 1:
        raise ValueError(f"leaf_size must be >= 1, got {leaf_size}")
    return _split(positions, np.arange(positions.shape[0]), leaf_size)


def _split(positions: np.ndarray, rows: np.ndarray, leaf_size: int) -> Part:
    if rows.size <= leaf_size:
        return Part(None, np.sort(rows))
    extents = [np.ptp(positions[rows, axis]) for axis in range(3)]  # one column at a time
    half = rows.size // 2
    order = np.argpartition(positions[rows, int(np.argmax(extents))], half)
    left, right = rows[order[:half]], rows[order[half:]]
    del order, rows
    return Part((_split(positions, left, leaf_size), _split(positions, right, leaf_size)), None)
