"""Vectorised k-means for the SOG writer: 256-entry scalar codebooks and the SH palette.

Scalar codebooks (`codebook_1d`) are optimal on a histogram: each sorted value goes to bin
floor(HISTOGRAM_BINS (b rank + (1 - b) (value - min) / range)), b = 1 - IQR / range clamped to
[0.5, 0.999] (equal-count bins where the values are dense, a share of equal-width ones so a
sparse tail is spread over bins of its own), each bin a point at its mean weighted by
count^DENSITY_POWER, and dynamic programming over the bins finds the partition into `size` runs
of least weighted squared error; an entry is its run's weighted mean. The sub-linear weight gives
sparse tails (the few large Gaussians, the saturated colours) entries of their own, and the exact
optimum puts them there, where Lloyd's iterations stay in a local optimum that leaves a tail far
from every entry. This is how splat-transform quantises; Lloyd's k-means cost donut.ply 6-10 dB
against it at the test camera (design log). The DP costs HISTOGRAM_BINS^2 per entry as array
operations, taken in blocks of columns so that the half of the table where a run would end
before it starts (infinite) is skipped: about 0.6 s for 256 entries, half the whole table's.

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
DENSITY_POWER = 0.5  # a bin's weight is its count to this power
HISTOGRAM_BINS = 1024  # bins of the scalar codebooks' histogram
DP_COLUMNS = 128  # the dynamic programme's columns per step: the rows below the diagonal


def codebook_1d(values: np.ndarray, size: int = 256) -> np.ndarray:
    """[size] float32 ascending entries for the scalar `values` (see the module's notes).

    Fewer distinct values than `size` give each of them an entry of its own (the rest repeat
    the largest).
    """
    flat = np.sort(values.astype(np.float64).ravel())
    if flat.size == 0:
        return np.zeros(size, dtype=np.float32)
    distinct = np.unique(flat)
    if distinct.size <= size:
        padded = np.concatenate([distinct, np.full(size - distinct.size, distinct[-1])])
        return padded.astype(np.float32)
    points, weights = _histogram(flat)
    entries = _optimal_runs(points, weights, min(size, points.size))
    padded = np.concatenate([entries, np.full(size - entries.size, entries[-1])])
    return np.sort(padded).astype(np.float32)


def _histogram(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and weights (count^DENSITY_POWER) of the non-empty bins of sorted `flat`."""
    n, span = flat.size, flat[-1] - flat[0]
    bins_count = min(HISTOGRAM_BINS, n)
    spread = flat[(3 * n) // 4] - flat[n // 4]
    blend = float(np.clip(1.0 - spread / span, 0.5, 0.999))
    position = blend * np.arange(n) / n + (1.0 - blend) * (flat - flat[0]) / span
    bins = np.minimum((position * bins_count).astype(np.int64), bins_count - 1)
    counts = np.bincount(bins, minlength=bins_count).astype(np.float64)
    sums = np.bincount(bins, weights=flat, minlength=bins_count)
    used = counts > 0
    return sums[used] / counts[used], counts[used] ** DENSITY_POWER


def _optimal_runs(points: np.ndarray, weights: np.ndarray, runs: int) -> np.ndarray:
    """Weighted means of the partition of ascending `points` into `runs` runs of least error."""
    h = points.size
    w = np.concatenate([[0.0], np.cumsum(weights)])
    wx = np.concatenate([[0.0], np.cumsum(weights * points)])
    wxx = np.concatenate([[0.0], np.cumsum(weights * points * points)])
    first, last = np.arange(h)[:, None], np.arange(h)[None, :]  # run = points[first..last]
    mass = w[last + 1] - w[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = wxx[last + 1] - wxx[first] - (wx[last + 1] - wx[first]) ** 2 / mass
    cost = np.where(last >= first, np.maximum(cost, 0.0), np.inf)
    best = cost[0].copy()  # best[j]: least error of points[0..j] in the runs so far
    splits = np.zeros((runs, h), dtype=np.int64)  # splits[m][j]: first point of the last run
    following = np.empty(h)
    for m in range(1, runs):
        following[0] = np.inf
        for j0 in range(1, h, DP_COLUMNS):  # columns j0..j1-1; a run s+1..j needs s < j1 - 1
            j1 = min(h, j0 + DP_COLUMNS)
            total = best[: j1 - 1, None] + cost[1:j1, j0:j1]  # [s, j]: 0..s, then s+1..j
            previous = np.argmin(total, axis=0)
            following[j0:j1] = total[previous, np.arange(j1 - j0)]
            splits[m, j0:j1] = previous + 1
        best = following.copy()
        best[:m] = np.inf
    entries = np.empty(runs)
    end = h - 1
    for m in range(runs - 1, -1, -1):
        begin = int(splits[m][end]) if m else 0
        entries[m] = (wx[end + 1] - wx[begin]) / (w[end + 1] - w[begin])
        end = begin - 1
    return entries


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
