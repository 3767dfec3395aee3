"""The cpu backend's numba kernels: bin splats into 16x16 tiles, composite tiles, resolve.

Splats come as the frame buffers' `SPLAT_DTYPE` records viewed as [n, 12] float32 rows (centre
x y, extent x y, conic xx xy yy, opacity, colour r g b, depth). The rules are tiles_count.comp's
tile rectangle (narrowed to the tiles the ellipse reaches, viewer/render/cpu_footprint.py) and
tiles_traverse.glsl's compositing: alpha = min(0.99, opacity exp(power)), skipped below 1/255 or
where power > 0, front to back, a pixel stops before T would fall below 1e-4. The kernels run in
parallel on numba's threads; the results do not depend on how many. The resolve pass's kernel
serves viewer/render/host_resolve.py.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from viewer.render.cpu_footprint import band_range, ellipse, pixel_span, reach
from viewer.render.cpu_tile_sort import sort_tiles
from viewer.render.fovea import LEVEL_NONE
from viewer.render.jit_setup import configure_numba
from viewer.render.layout import TILE_SIZE

configure_numba()

# columns of a splat row (SPLAT_DTYPE as float32 words)
CX, CY, EX, EY, CXX, CXY, CYY, OPACITY, RED, GREEN, BLUE = range(11)
SPLAT_FLOATS = 12
# planes of a tile's state: transmittance, 1 while the pixel blends, premultiplied colour,
# splats blended into the pixel
TRANSMITTANCE, LIVE, PREMUL_R, PREMUL_G, PREMUL_B, DEPTH = range(6)
STATE = 6
# columns of the per-tile statistics: pixels that saturated, splats blended into them
SATURATED, SATURATION_DEPTH = range(2)

F0 = np.float32(0.0)
F1 = np.float32(1.0)
HALF = np.float32(0.5)
ALPHA_MAX = np.float32(0.99)
ALPHA_MIN = np.float32(1.0 / 255.0)
T_MIN = np.float32(1e-4)
THREE = np.float32(3.0)
# exp(x) for x in [EXP_FLOOR, 0]: (Taylor series of exp(x / 16)) ^ 16. At x = EXP_FLOOR an alpha
# is below 1/255 for any opacity <= 1, so clamping there changes no blend.
EXP_FLOOR = np.float32(-6.0)
SIXTEENTH = np.float32(1.0 / 16.0)
TAYLOR = tuple(np.float32(1.0 / math.factorial(k)) for k in range(7))


@njit(cache=True, inline="always")
def tile_rect(splat: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Inclusive tiles (x0, y0, x1, y1) holding pixel centres in the splat's box; x0 > x1: none."""
    lo_x = max(math.ceil(splat[CX] - splat[EX] - 0.5), 0)
    lo_y = max(math.ceil(splat[CY] - splat[EY] - 0.5), 0)
    hi_x = min(math.floor(splat[CX] + splat[EX] - 0.5), width - 1)
    hi_y = min(math.floor(splat[CY] + splat[EY] - 0.5), height - 1)
    if lo_x > hi_x or lo_y > hi_y:
        return 1, 1, 0, 0
    return lo_x // TILE_SIZE, lo_y // TILE_SIZE, hi_x // TILE_SIZE, hi_y // TILE_SIZE


@njit(cache=True, inline="always")
def _transposed(splat: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[float, ...]:
    """The splat's `ellipse` with u = y, v = x (for bands of rows), where `_tiles_reached` needs it.

    It does where the box of tiles (x0, y0, x1, y1) has more than one row and column.
    """
    if x0 == x1 or y0 == y1:
        return ellipse(1.0, 0.0, 1.0, -1.0)
    return ellipse(splat[CYY], splat[CXY], splat[CXX], reach(splat[OPACITY]))


@njit(cache=True, inline="always")
def _tiles_reached(
    splat: np.ndarray,
    shape: tuple[float, ...],
    ty: int,
    x0: int,
    y0: int,
    x1: int,
    y1: int,
    width: int,
    height: int,
) -> tuple[int, int]:
    """The tiles of the box's [x0, x1] in tile row `ty` that the splat's ellipse reaches.

    `shape`: the splat's `ellipse` with u = y (`_transposed`).
    """
    if x0 == x1 or y0 == y1:  # one column, or one row of tiles holding all of the ellipse
        return x0, x1
    first_y = ty * TILE_SIZE
    last_y = min(first_y + TILE_SIZE, height) - 1
    cy = float(splat[CY])
    lo, hi = band_range(shape, first_y + 0.5 - cy, last_y + 0.5 - cy)
    first, last = pixel_span(lo, hi, float(splat[CX]), x0 * TILE_SIZE, x1 * TILE_SIZE + 15)
    if first > last:
        return 1, 0
    return first // TILE_SIZE, min(last, width - 1) // TILE_SIZE


@njit(cache=True, inline="always")
def _unbinned(t, i, hidden, stored, floors):
    """Whether splat i gets no pair in tile t: the tile is hidden, or the fovea weighs i 0 there."""
    if hidden[t]:
        return True
    return stored is not None and floors is not None and stored[i] <= floors[t]


@njit(cache=True, parallel=True)
def bin_tiles(
    splats: np.ndarray,
    order: np.ndarray,
    width: int,
    height: int,
    chunks: int,
    hidden: np.ndarray,
    stored: np.ndarray | None = None,
    floors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The (tile, splat) pairs of `splats`, each tile's front to back as `order` lists them.

    The splats are read in their own order (one pass to count, one to emit, each of `chunks`
    runs on its own thread), their pairs carry the splat's place in `order`, and each tile's
    pairs are then sorted by it (viewer/render/cpu_tile_sort.py): reading the records in depth
    order instead costs a cache miss per splat (see the design log). A splat's pairs are the
    tiles of its box that its ellipse reaches (`_tiles_reached`); in a foveated frame
    (`stored`: per splat its stored levels b, `floors`: per tile its pixels' lowest level l)
    not those where b <= l, where the weight w(b, l) is 0 at every pixel. Tiles whose
    `hidden` ([tiles] uint8, row-major) is set get no pairs: no pixel of theirs is shown.

    Returns:
        starts: [tiles + 1] int64, tile t's pairs are pairs[starts[t]:starts[t + 1]] (tiles
            row-major, 16x16 pixels each).
        pairs: int32 splat indices.
    """
    columns = (width + TILE_SIZE - 1) // TILE_SIZE
    tiles = columns * ((height + TILE_SIZE - 1) // TILE_SIZE)
    n = order.size
    rank = np.empty(n, np.int32)
    for i in prange(n):
        rank[order[i]] = i
    cursor = np.zeros((chunks, tiles), np.int64)
    for c in prange(chunks):
        for i in range(n * c // chunks, n * (c + 1) // chunks):
            x0, y0, x1, y1 = tile_rect(splats[i], width, height)
            shape = _transposed(splats[i], x0, y0, x1, y1)
            for ty in range(y0, y1 + 1):
                first, last = _tiles_reached(splats[i], shape, ty, x0, y0, x1, y1, width, height)
                for tx in range(first, last + 1):
                    t = ty * columns + tx
                    if _unbinned(t, i, hidden, stored, floors):
                        continue
                    cursor[c, t] += 1
    starts = np.empty(tiles + 1, np.int64)
    total = 0
    for t in range(tiles):
        starts[t] = total
        for c in range(chunks):
            count = cursor[c, t]
            cursor[c, t] = total
            total += count
    starts[tiles] = total
    pairs = np.empty(total, np.int32)
    for c in prange(chunks):
        for i in range(n * c // chunks, n * (c + 1) // chunks):
            x0, y0, x1, y1 = tile_rect(splats[i], width, height)
            shape = _transposed(splats[i], x0, y0, x1, y1)
            for ty in range(y0, y1 + 1):
                first, last = _tiles_reached(splats[i], shape, ty, x0, y0, x1, y1, width, height)
                for tx in range(first, last + 1):
                    t = ty * columns + tx
                    if _unbinned(t, i, hidden, stored, floors):
                        continue
                    pairs[cursor[c, t]] = rank[i]
                    cursor[c, t] += 1
    sort_tiles(pairs, starts, order, 2 * chunks)
    return starts, pairs


@njit(cache=True, fastmath=True, inline="always")
def _exp(x: np.float32) -> np.float32:
    """exp(x) for x <= 0 to a relative 1e-6 above EXP_FLOOR (vectorises, unlike libm's)."""
    y = max(x, EXP_FLOOR) * SIXTEENTH
    p = (((((TAYLOR[6] * y + TAYLOR[5]) * y + TAYLOR[4]) * y + TAYLOR[3]) * y + TAYLOR[2]) * y
         + TAYLOR[1]) * y + TAYLOR[0]  # fmt: skip
    p = p * p
    p = p * p
    p = p * p
    return p * p


@njit(cache=True, fastmath=True)
def _composite_tile(
    splats: np.ndarray,
    pairs: np.ndarray,
    first: int,
    last: int,
    x0: int,
    y0: int,
    width: int,
    height: int,
    out: np.ndarray,
    stored: np.ndarray | None,
    levels: np.ndarray | None,
    ceiling: np.float32,
    saturation: np.ndarray,
    counts: bool,
) -> None:
    """Composite one tile's pairs[first:last] front to back into `out` (rows bottom up).

    `saturation` ([2] int64) gets the tile's pixels that saturated (stopped before T fell
    below 1e-4) and the splats blended into them, the stopping one included. With `counts`
    (the overdraw mode) a pixel's red is instead the count of splats blended into it, the
    stopping one not included (contributions.comp's count), and its other channels 0.

    With foveation's `levels` ([height, width] per pixel) and `stored` (per splat) a splat's
    opacity is weighed at each pixel by w(b, l) = smoothstep(clamp(b - l, 0, 1)), b = its
    stored levels, l = the pixel's level; a splat with b >= `ceiling` + 1 (the tile's highest
    l) weighs 1 at every pixel of the tile and takes the loop without the weight. Without (None:
    numba compiles that case apart) the loop carries no weight at all.

    A splat visits only the rows of the tile where its ellipse reaches a pixel centre
    (viewer/render/cpu_footprint.py) and some pixel still blends: the pixels it skips would
    have been skipped by the 1/255 rule or are done, so the image is the one of visiting its
    whole box. Each row's 16 pixels are one branch-free loop (masks as 0/1 floats) that LLVM
    turns into SIMD. The tile stops once every pixel has stopped.
    """
    state = np.zeros((STATE, TILE_SIZE, TILE_SIZE), np.float32)
    rows = min(TILE_SIZE, height - y0)
    columns = min(TILE_SIZE, width - x0)
    state[TRANSMITTANCE] = F1
    state[LIVE, :rows, :columns] = F1
    live = np.zeros(TILE_SIZE, np.int32)  # pixels still blending per row
    live[:rows] = columns
    px = np.empty(TILE_SIZE, np.float32)
    for k in range(TILE_SIZE):
        px[k] = np.float32(x0 + k) + HALF
    remaining = rows * columns
    level = np.full((TILE_SIZE, TILE_SIZE), np.float32(LEVEL_NONE), np.float32)
    if levels is not None:
        level[:rows, :columns] = levels[y0 : y0 + rows, x0 : x0 + columns]
    for j in range(first, last):
        s = splats[pairs[j]]
        weighted = False  # whether the weight is below 1 at some pixel of the tile
        b = np.float32(LEVEL_NONE)
        if stored is not None:
            b = stored[pairs[j]]
            weighted = b < ceiling + F1
        cx, cy, opacity = s[CX], s[CY], s[OPACITY]
        r, g, blue = s[RED], s[GREEN], s[BLUE]
        half_xx = -HALF * s[CXX]
        # the rows of the tile whose pixel centres the ellipse reaches within its columns
        shape = ellipse(s[CXX], s[CXY], s[CYY], reach(opacity))
        lo, hi = band_range(shape, x0 + 0.5 - cx, x0 + columns - 0.5 - cx)
        top, bottom = pixel_span(lo, hi, cy - y0, 0, rows - 1)
        for row in range(top, bottom + 1):
            if live[row] == 0:
                continue
            dy = np.float32(y0 + row) + HALF - cy
            power_y = -HALF * s[CYY] * dy * dy
            slope = -s[CXY] * dy
            level_row = level[row]
            stopped = F0
            for k in range(TILE_SIZE):
                dx = px[k] - cx
                power = (half_xx * dx + slope) * dx + power_y
                weight = F1
                if levels is not None and weighted:
                    share = min(max(b - level_row[k], F0), F1)
                    weight = share * share * (THREE - share - share)
                alpha = min(ALPHA_MAX, opacity * weight * _exp(power))
                t = state[TRANSMITTANCE, row, k]
                next_t = t * (F1 - alpha)
                hit = state[LIVE, row, k] * np.float32(power <= F0) * np.float32(alpha >= ALPHA_MIN)
                stop = hit * np.float32(next_t < T_MIN)
                blend = hit - stop
                contribution = alpha * t * blend
                state[PREMUL_R, row, k] += contribution * r
                state[PREMUL_G, row, k] += contribution * g
                state[PREMUL_B, row, k] += contribution * blue
                state[TRANSMITTANCE, row, k] = t - blend * (t - next_t)
                state[LIVE, row, k] -= stop
                state[DEPTH, row, k] += hit
                stopped += stop
            live[row] -= int(stopped)
            remaining -= int(stopped)
        if remaining == 0:
            break
    saturation[:] = 0
    for row in range(rows):
        o = out[height - 1 - (y0 + row)]
        for k in range(columns):
            if state[LIVE, row, k] == F0:
                saturation[SATURATED] += 1
                saturation[SATURATION_DEPTH] += int(state[DEPTH, row, k])
            pixel = o[x0 + k]
            if counts:
                pixel[0] = state[DEPTH, row, k] - (F1 - state[LIVE, row, k])
                pixel[1] = pixel[2] = pixel[3] = F0
                continue
            pixel[0] = state[PREMUL_R, row, k]
            pixel[1] = state[PREMUL_G, row, k]
            pixel[2] = state[PREMUL_B, row, k]
            pixel[3] = F1 - state[TRANSMITTANCE, row, k]


@njit(cache=True, parallel=True)
def composite_rows(
    splats: np.ndarray,
    pairs: np.ndarray,
    starts: np.ndarray,
    width: int,
    height: int,
    first_row: int,
    last_row: int,
    out: np.ndarray,
    stored: np.ndarray | None,
    levels: np.ndarray | None,
    ceilings: np.ndarray | None,
    saturation: np.ndarray,
    counts: bool = False,
) -> None:
    """Composite the rows of tiles [first_row, last_row) into their pixel rows of `out`.

    `out` is [height, width, 4] float32, bottom row first (a GL texture's order): premultiplied
    colour and 1 - T. `saturation` ([tiles, 2] int64): per tile, the pixels that saturated and
    the splats blended into them (`_composite_tile`). Tiles are handed to threads most pairs
    first.
    Foveated frames pass each splat's stored levels, the pixels' levels and each tile's highest
    (`_composite_tile`), others None. `counts`: each pixel's blended splats instead of colour.
    """
    columns = (width + TILE_SIZE - 1) // TILE_SIZE
    first_tile = first_row * columns
    tiles = (last_row - first_row) * columns
    ranges = starts[first_tile : first_tile + tiles + 1]
    by_cost = np.argsort(ranges[:-1] - ranges[1:])
    for i in prange(tiles):
        t = first_tile + by_cost[i]
        ty, tx = t // columns, t % columns
        ceiling = ceilings[t] if ceilings is not None else F0
        _composite_tile(
            splats, pairs, starts[t], starts[t + 1], tx * TILE_SIZE, ty * TILE_SIZE,
            width, height, out, stored, levels, ceiling, saturation[t], counts,
        )  # fmt: skip


@njit(cache=True, parallel=True, fastmath=True)
def resolve_rows(image: np.ndarray, background: np.ndarray, out: np.ndarray, unorm: bool) -> None:
    """Write C + (1 - A) background, alpha 1, into `out`; `unorm` (uint8): clamped, rounded.

    An `out` of another size than `image` gets it stretched over it bilinearly, as resolve.frag
    samples it (pixel centres, clamped at the edges; C and A are premultiplied, so filtering
    them is blending). Rows of both are bottom up.
    """
    height, width = image.shape[0], image.shape[1]
    out_height, out_width = out.shape[0], out.shape[1]
    stretch = (out_height, out_width) != (height, width)
    one = np.float32(255.0) if unorm else np.float32(1.0)
    lefts = np.empty(out_width, np.int64)  # per output column: texels and weight
    weights = np.empty(out_width, np.float32)
    for x in range(out_width):
        u = (x + 0.5) * width / out_width - 0.5
        lefts[x] = min(max(math.floor(u), 0), width - 1)
        weights[x] = min(max(u - lefts[x], 0.0), 1.0)
    for y in prange(out_height):
        v = (y + 0.5) * height / out_height - 0.5
        below = min(max(math.floor(v), 0), height - 1)
        above = min(below + 1, height - 1)
        fy = np.float32(min(max(v - below, 0.0), 1.0))
        for x in range(out_width):
            if stretch:
                left, fx = lefts[x], weights[x]
                right = min(left + 1, width - 1)
                r = _bilinear(image, below, above, left, right, fx, fy, 0)
                g = _bilinear(image, below, above, left, right, fx, fy, 1)
                b = _bilinear(image, below, above, left, right, fx, fy, 2)
                a = _bilinear(image, below, above, left, right, fx, fy, 3)
            else:
                r, g, b, a = image[y, x, 0], image[y, x, 1], image[y, x, 2], image[y, x, 3]
            through = F1 - a
            for c, premultiplied in enumerate((r, g, b)):
                value = premultiplied + through * background[c]
                if unorm:
                    value = min(max(value, F0), F1) * one + HALF
                out[y, x, c] = value
            out[y, x, 3] = one


@njit(cache=True, fastmath=True, inline="always")
def _bilinear(
    image: np.ndarray, below: int, above: int, left: int, right: int, fx: np.float32,
    fy: np.float32, c: int,
) -> np.float32:  # fmt: skip
    """Channel `c` between the texels (left/right, below/above), weights fx, fy."""
    low = image[below, left, c] + fx * (image[below, right, c] - image[below, left, c])
    high = image[above, left, c] + fx * (image[above, right, c] - image[above, left, c])
    return low + fy * (high - low)
