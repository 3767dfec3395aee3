"""The cpu backend's per-tile sort: each tile's pairs into depth order (numba).

The binning (viewer/render/cpu_kernels.py) emits each tile's pairs as the depth ranks of their
splats, in the splats' own order; this sorts every tile's ranks and maps them back to splat
indices. Tiles hold tens to hundreds of pairs: numba's quicksort (np.sort, which also copies)
took 18 ms of a 35 ms binning on donut.ply at 1280x720 (370k pairs); a least-significant-digit
radix sort on bytes, insertion sort below `SMALL` pairs, takes 4-8 ms.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from viewer.render.jit_setup import configure_numba

configure_numba()

DIGIT_BITS = 8
DIGITS = 1 << DIGIT_BITS
SMALL = 48  # tiles of fewer pairs are insertion-sorted


@njit(cache=True, parallel=True)
def sort_tiles(pairs: np.ndarray, starts: np.ndarray, order: np.ndarray, runs: int) -> None:
    """Sort each tile's ranks pairs[starts[t]:starts[t + 1]], then replace rank r by order[r].

    The tiles are split into `runs` runs of consecutive tiles, handed to numba's threads.
    """
    tiles = starts.size - 1
    scratch = np.empty_like(pairs)
    passes = 1
    while order.size > 1 << (passes * DIGIT_BITS):
        passes += 1
    groups = max(1, min(tiles, runs))
    for group in prange(groups):
        counts = np.empty(DIGITS + 1, np.int64)
        for t in range(tiles * group // groups, tiles * (group + 1) // groups):
            first, last = starts[t], starts[t + 1]
            if last - first < SMALL:
                _insertion_sort(pairs[first:last])
            else:
                _radix_sort(pairs[first:last], scratch[first:last], counts, passes)
            for j in range(first, last):
                pairs[j] = order[pairs[j]]


@njit(cache=True, inline="always")
def _insertion_sort(values: np.ndarray) -> None:
    for j in range(1, values.size):
        value = values[j]
        k = j - 1
        while k >= 0 and values[k] > value:
            values[k + 1] = values[k]
            k -= 1
        values[k + 1] = value


@njit(cache=True, inline="always")
def _radix_sort(values: np.ndarray, scratch: np.ndarray, counts: np.ndarray, passes: int) -> None:
    """Sort non-negative `values` of at most `passes` digits; `scratch` is as large."""
    source, target = values, scratch
    for digit in range(passes):
        shift = digit * DIGIT_BITS
        counts[:] = 0
        for value in source:
            counts[((value >> shift) & (DIGITS - 1)) + 1] += 1
        for d in range(DIGITS):
            counts[d + 1] += counts[d]
        for value in source:
            d = (value >> shift) & (DIGITS - 1)
            target[counts[d]] = value
            counts[d] += 1
        source, target = target, source
    if passes % 2:  # the sorted values are in the scratch
        values[:] = scratch
