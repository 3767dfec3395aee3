"""Vectorised k-means for the SOG writer: 256-entry scalar codebooks and the SH palette.

Scalar codebooks (`codebook_1d`) run Lloyd's iterations on sorted values: the nearest centroid
of every value is one `searchsorted` against the midpoints between centroids, the update one
`bincount`, so a pass over millions of values costs O(n log k).

The SH palette (`palette`) has up to 64k centroids in 45 dimensions, too many to compare every
Gaussian with every centroid on a CPU (1M x 64k x 45 is 3e12 multiply-adds a pass). It is built
in two levels: a coarse k-means of COARSE_CLUSTERS centroids (fitted on a sample), then within
each coarse cell a fine k-means whose share of the palette follows the cell's share of the points.
Each point is compared with the coarse centroids and with the fine centroids of its own cell only,
about 1M x 2 x 256 x 45 a pass; the labels are those of the last pass, and every centroid is the
mean of the points that carry its label. Distances come from matrix products, in blocks that
bound the memory of the distance matrix.
"""

from __future__ import annotations

import numpy as np

COARSE_CLUSTERS = 256
COARSE_SAMPLE = 65536  # points the coarse centroids are fitted on
BLOCK_ELEMENTS = 1 << 24  # entries of one block of the distance matrix (64 MiB of float32)


def codebook_1d(values: np.ndarray, size: int = 256, iterations: int = 12) -> np.ndarray:
    """[size] float32 ascending centroids of the scalar `values` (Lloyd's algorithm, 1D).

    Starts from quantiles; an empty cell keeps its centroid. Fewer distinct values than `size`
    give each of them a centroid of its own (the rest repeat the largest).
    """
    flat = np.sort(values.astype(np.float64).ravel())
    if flat.size == 0:
        return np.zeros(size, dtype=np.float32)
    distinct = np.unique(flat)
    if distinct.size <= size:
        padded = np.concatenate([distinct, np.full(size - distinct.size, distinct[-1])])
        return padded.astype(np.float32)
    centroids = np.quantile(flat, (np.arange(size) + 0.5) / size)
    for _ in range(iterations):
        cells = np.searchsorted((centroids[1:] + centroids[:-1]) * 0.5, flat)
        counts = np.bincount(cells, minlength=size)
        sums = np.bincount(cells, weights=flat, minlength=size)
        centroids = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        centroids.sort()
    return centroids.astype(np.float32)


def nearest_1d(values: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """uint8 index of the nearest entry of an ascending 256-entry `codebook` for each value."""
    bounds = (codebook[1:].astype(np.float64) + codebook[:-1]) * 0.5
    return np.searchsorted(bounds, values.astype(np.float64)).astype(np.uint8)


def nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """[N] int64 index of the nearest of [K, D] `centroids` for each of [N, D] `points`."""
    labels = np.empty(points.shape[0], dtype=np.int64)
    squared = np.einsum("ij,ij->i", centroids, centroids)  # [K]
    rows = max(1, BLOCK_ELEMENTS // max(1, centroids.shape[0]))
    for start in range(0, points.shape[0], rows):
        block = points[start : start + rows]
        distances = squared[None, :] - 2.0 * (block @ centroids.T)  # |p|^2 is the same per row
        labels[start : start + rows] = distances.argmin(axis=1)
    return labels


def _update(points: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Centroids moved to the mean of their points; an empty cluster keeps its centroid."""
    k = centroids.shape[0]
    counts = np.bincount(labels, minlength=k).astype(np.float32)
    sums = np.zeros_like(centroids)
    _scatter(sums, labels, points)
    filled = counts > 0
    centroids = centroids.copy()
    centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def _scatter(sums: np.ndarray, labels: np.ndarray, points: np.ndarray) -> None:
    """sums[labels[i]] += points[i] for all i, by sorting the labels (np.add.at is slow)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sums[sorted_labels[starts]] = np.add.reduceat(points[order], starts, axis=0)


def kmeans(
    points: np.ndarray, k: int, iterations: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's algorithm on [N, D] float32 points, from k distinct random points.

    Returns:
        ([k', D] float32 centroids, k' = min(k, N), each the mean of its cluster; [N] int64
        cluster of each point, from the last assignment).
    """
    rng = np.random.default_rng(seed)
    k = min(k, points.shape[0])
    centroids = points[rng.choice(points.shape[0], size=k, replace=False)].copy()
    labels = np.zeros(points.shape[0], dtype=np.int64)
    for _ in range(iterations):
        labels = nearest(points, centroids)
        centroids = _update(points, labels, centroids)
    return centroids, labels


def palette(
    points: np.ndarray, size: int, iterations: int = 6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A palette of at most `size` centroids for [N, D] points and the label of each point.

    Two-level k-means (see the module docstring).

    Returns:
        ([P, D] float32 centroids, P <= size; [N] int64 labels into them).
    """
    points = np.ascontiguousarray(points, dtype=np.float32)
    n = points.shape[0]
    if n <= size:
        return points.copy(), np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sample = points[rng.choice(n, size=min(n, COARSE_SAMPLE), replace=False)]
    coarse, _ = kmeans(sample, min(COARSE_CLUSTERS, size), iterations, seed)
    cells = nearest(points, coarse)
    order = np.argsort(cells, kind="stable")
    counts = np.bincount(cells, minlength=coarse.shape[0])
    shares = np.maximum(1, np.floor(counts * (size / n))).astype(np.int64)
    shares = np.where(counts > 0, np.minimum(shares, counts), 0)
    centroids: list[np.ndarray] = []
    labels = np.empty(n, dtype=np.int64)
    start, base = 0, 0
    for cell, count in enumerate(counts):
        members = order[start : start + count]
        start += count
        if count == 0:
            continue
        fine, members_labels = kmeans(points[members], int(shares[cell]), iterations, seed + cell)
        labels[members] = base + members_labels
        centroids.append(fine)
        base += fine.shape[0]
    return np.concatenate(centroids), labels
