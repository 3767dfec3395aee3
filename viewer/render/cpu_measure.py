"""The cpu backend's measure of a view (numba): contributions.comp's records, on the host.

Per pixel the splat of largest weight alpha*T, the count of splats blended and the depth where
T reaches 0.5; per (tile, splat) pair the weights summed over the tile's pixels, from which the
caller sums each Gaussian's. The rules are the composite's (viewer/render/cpu_kernels.py), one
pixel at a time: measuring is not on the frame's path (a pick, the orbit pivot, pruning's and
foveation's view scores), so the loop is written for clarity, not SIMD.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from viewer.render.cpu_kernels import (
    ALPHA_MAX,
    ALPHA_MIN,
    CX,
    CXX,
    CXY,
    CY,
    CYY,
    OPACITY,
    T_MIN,
    tile_rect,
)
from viewer.render.jit_setup import configure_numba
from viewer.render.layout import TILE_SIZE

configure_numba()

Z = 11  # the splat row's camera depth column (SPLAT_DTYPE's last float)
NO_SPLAT = -1


@njit(cache=True)
def _measure_tile(
    splats: np.ndarray,
    pairs: np.ndarray,
    first: int,
    last: int,
    x0: int,
    y0: int,
    top: np.ndarray,
    top_weight: np.ndarray,
    blended: np.ndarray,
    median: np.ndarray,
    pair_weight: np.ndarray,
) -> None:
    """Measure the tile at (x0, y0) from its pairs[first:last], front to back.

    `top` gets splat indices (NO_SPLAT where none); the per-pixel arrays are [height, width],
    row 0 at the top; `pair_weight[j]` sums pair j's alpha*T over the tile's pixels.
    """
    height, width = top.shape
    for y in range(y0, min(y0 + TILE_SIZE, height)):
        py = np.float32(y) + np.float32(0.5)
        for x in range(x0, min(x0 + TILE_SIZE, width)):
            px = np.float32(x) + np.float32(0.5)
            t = np.float32(1.0)
            best, best_weight, count, depth = NO_SPLAT, np.float32(0.0), 0, np.float32(0.0)
            for j in range(first, last):
                s = splats[pairs[j]]
                dx, dy = px - s[CX], py - s[CY]
                power = np.float32(-0.5) * (s[CXX] * dx * dx + s[CYY] * dy * dy) - s[CXY] * dx * dy
                if power > 0.0:
                    continue
                alpha = min(ALPHA_MAX, s[OPACITY] * np.float32(math.exp(power)))
                if alpha < ALPHA_MIN:
                    continue
                next_t = t * (np.float32(1.0) - alpha)
                if next_t < T_MIN:
                    break
                weight = alpha * t
                pair_weight[j] += weight
                if weight > best_weight:
                    best, best_weight = pairs[j], weight
                count += 1
                if depth == 0.0 and next_t <= 0.5:
                    depth = s[Z]
                t = next_t
            top[y, x], top_weight[y, x] = best, best_weight
            blended[y, x], median[y, x] = count, depth


@njit(cache=True, parallel=True)
def measure_tiles(
    splats: np.ndarray, pairs: np.ndarray, starts: np.ndarray, tiles: np.ndarray, width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Measure `tiles` (row-major indices) of a view binned into `starts` and `pairs`.

    Returns:
        top ([height, width] int32 splat, NO_SPLAT where none), top_weight and median depth
        ([height, width] float32), blended ([height, width] uint32), and per pair its weight
        summed over its tile's pixels ([pairs] float64; 0 in tiles not measured).
    """
    columns = (width + TILE_SIZE - 1) // TILE_SIZE
    top = np.full((height, width), NO_SPLAT, np.int32)
    top_weight = np.zeros((height, width), np.float32)
    blended = np.zeros((height, width), np.uint32)
    median = np.zeros((height, width), np.float32)
    pair_weight = np.zeros(pairs.size, np.float64)
    for i in prange(tiles.size):
        t = tiles[i]
        _measure_tile(
            splats, pairs, starts[t], starts[t + 1], t % columns * TILE_SIZE,
            t // columns * TILE_SIZE, top, top_weight, blended, median, pair_weight,
        )  # fmt: skip
    return top, top_weight, blended, median, pair_weight


@njit(cache=True)
def box_tiles(splats: np.ndarray, width: int, height: int) -> np.ndarray:
    """[n] uint32 tiles of each splat's box (tiles_count.comp's count; 0 off the image)."""
    out = np.zeros(splats.shape[0], np.uint32)
    for i in range(splats.shape[0]):
        x0, y0, x1, y1 = tile_rect(splats[i], width, height)
        out[i] = max(x1 - x0 + 1, 0) * max(y1 - y0 + 1, 0)
    return out
