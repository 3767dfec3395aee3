"""fovea.glsl's fov_level_near and fov_weight (bands mapping) in numba, as llvmpipe has them.

For the host passes of the cpu backend: the foveated LOD cut (lod_cut_host.py) and preprocess's
nested subsets (preprocess_host.py).

What it took to give llvmpipe's levels (found by comparing with a harness shader built from
fovea.glsl's own functions): atan is Mesa's polynomial (`atan2_mesa`), not libm's: the two
differ by about 1e-5 rad, which moves a level near a band's ramp by 1e-4. dot() is NIR's
fma(x, x, fma(y, y, z z)); `pixel * fov_scale + fov_offset` is not fused. normalize() still
rounds differently in a few % of rays (1 ulp), which the ramp's (x - border) / ramp amplifies.
The pooling mapping (llvmpipe's tan and cos) is not reproduced: `supports`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit, prange

from viewer.render.fovea import FoveaUniforms, band_levels
from viewer.render.jit_setup import configure_numba
from viewer.render.layout import TILE_SIZE
from viewer.render.tile_bins import tile_grid

configure_numba()

F0 = np.float32(0.0)
F1 = np.float32(1.0)
F2 = np.float32(2.0)
F3 = np.float32(3.0)
HALF_PI32 = np.float32(math.pi / 2.0)
DEGREES = np.float32(57.29578)  # GLSL degrees()
# fovea_params' layout (float32): where each uniform of fov_level_near (bands) begins
FOV_SCALE = 0  # fov_scale, then fov_offset
FOV_GAZE = 4  # fov_gaze_ray
FOV_REACH = 7
FOV_BORDERS = 8  # four
FOV_STEPS = 12
FOV_RAMP = 13
FOV_TAU_SCALE = 14  # the LOD cut's tau scale per level beyond level 1
FOV_KEPT_COS = 15  # three: per b = 1..3, a cosine from the gaze inside which the level is < b
FOV_PARAMS = 18
KEPT_MARGIN = 0.01  # degrees between `kept_cosines`' angle and where the level reaches b
TILE_REACH = np.float32(11.5)  # pixels: a 16x16 tile's pixel centres from its centre (10.6)
LEVEL_SLACK = np.float32(0.01)  # degrees: float32's error in an eccentricity (about 1e-3)


@njit(cache=True, inline="always")
def fma32(a, b, c):
    """float32 fma(a, b, c): the product is exact in float64, so one rounding (and the last)."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


@njit(cache=True, inline="always")
def dot3(ax, ay, az, bx, by, bz):
    """fovea.glsl's dot() of two vec3: fma(x, fma(y, z z)), the form closest to llvmpipe's.

    (lod_cut.comp's `precise` length() matches fma(x, x, y y + z z) better: lod_cut_host.)
    """
    return fma32(ax, bx, fma32(ay, by, az * bz))


@njit(cache=True, inline="always")
def atan2_mesa(y, x):
    """GLSL atan(y, x) for y >= 0 as Mesa builds it (nir_atan2, nir_atan): not libm's.

    NIR approximates atan on [0, 1] by an odd polynomial of degree 11 (error about 1e-5 rad,
    ~6e-4 degrees: far more than an ulp, so libm's atan would put fovea levels, and so sizes,
    off by 1e-4 relative near a band's ramp). Its terms are summed in order, each product fused
    into the sum (fuse_ffma); u = min(|q|, 1) / max(|q|, 1), fixed up to pi/2 - p(u) for q > 1.
    For x <= 0 (an angle past 90 degrees: a splat's centre far off screen) NIR turns the plane
    a quarter: pi/2 + atan(|x| / y).
    """
    flip = x <= F0
    # s * scale * rcp(t * scale), scale 1 below 1e18; 1 where |x| = |y|
    if abs(x) == abs(y):
        q = F1
    elif flip:
        q = abs(abs(x) * (F1 / y))
    else:
        q = abs(y * (F1 / x))
    u = min(q, F1) / max(q, F1)
    u2 = u * u
    u3 = u2 * u
    u5 = u3 * u2
    u7 = u5 * u2
    u9 = u7 * u2
    u11 = u9 * u2
    total = fma32(u3, np.float32(-0.3326756418091246), u * np.float32(0.9999793128310355))
    total = fma32(u5, np.float32(0.1938924977115610), total)
    total = fma32(u7, np.float32(-0.1173503194786851), total)
    total = fma32(u9, np.float32(0.0536813784310406), total)
    total = fma32(u11, np.float32(-0.0121323213173444), total)
    if q > F1:
        total = fma32(F1, fma32(total, np.float32(-2.0), HALF_PI32), total)
    if flip:
        total = total + HALF_PI32
    return total


@njit(cache=True, inline="always")
def fov_degrees(px, py, radius, fov):
    """fovea.glsl's eccentricity in degrees, less `radius` pixels' reach (bands mapping)."""
    vx = px * fov[FOV_SCALE] + fov[FOV_SCALE + 2]
    vy = py * fov[FOV_SCALE + 1] + fov[FOV_SCALE + 3]
    rsq = F1 / np.sqrt(dot3(vx, vy, F1, vx, vy, F1))
    rx, ry, rz = vx * rsq, vy * rsq, rsq  # normalize(): v * inversesqrt(dot(v, v))
    gx, gy, gz = fov[FOV_GAZE], fov[FOV_GAZE + 1], fov[FOV_GAZE + 2]
    cx = fma32(ry, gz, -(rz * gy))  # cross(ray, gaze)
    cy = fma32(rz, gx, -(rx * gz))
    cz = fma32(rx, gy, -(ry * gx))
    angle = atan2_mesa(np.sqrt(dot3(cx, cy, cz, cx, cy, cz)), dot3(rx, ry, rz, gx, gy, gz))
    reach = radius * fov[FOV_REACH]
    ecc = max(angle - reach, F0)
    return ecc * DEGREES


@njit(cache=True, inline="always")
def fov_level_of(x, fov):
    """fovea.glsl's level at eccentricity `x` degrees (bands mapping)."""
    level = F0
    ramp = fov[FOV_RAMP]
    for k in range(int(fov[FOV_STEPS])):
        border = fov[FOV_BORDERS + k]
        if ramp > F0:
            level += min(max((x - border) / ramp, F0), F1)
        elif x >= border:
            level += F1
    return level


@njit(cache=True, inline="always")
def fov_level_near(px, py, radius, fov):
    """fovea.glsl's fov_level_near with the bands mapping (`fov`: `fovea_params`'s layout)."""
    return fov_level_of(fov_degrees(px, py, radius, fov), fov)


@njit(cache=True, inline="always")
def flat_level(x, margin, fov):
    """The level at every eccentricity within `margin` degrees of `x` if it is one, else -1.

    One where no border's ramp (or hard border) lies in that interval: the level there is the
    number of borders passed, exactly (each ramp's term clamps to exactly 0 or 1).
    """
    level = F0
    ramp = fov[FOV_RAMP]
    for k in range(int(fov[FOV_STEPS])):
        border = fov[FOV_BORDERS + k]
        if x - margin >= border + ramp:
            level += F1
        elif x + margin >= border:
            return np.float32(-1.0)
    return level


@njit(cache=True, inline="always")
def fov_weight(stored, level):
    """fovea.glsl's fov_weight: smoothstep(clamp(b - l, 0, 1)) of the stored levels b."""
    y = min(max(np.float32(stored) - level, F0), F1)
    return y * y * (F3 - F2 * y)


def supports(fovea: FoveaUniforms | None) -> bool:
    """Whether the host passes follow `fovea` (None: unfoveated): the bands mapping only.

    The pooling mapping goes through llvmpipe's tan and cos, not reproduced here.
    """
    return fovea is None or not fovea.fov_pooling


def fovea_params(fovea: FoveaUniforms, tau_scale: float = 1.0) -> np.ndarray:
    """[FOV_PARAMS] float32: the uniforms fov_level_near reads (bands) and tau's scale."""
    params = np.zeros(FOV_PARAMS, np.float32)
    params[FOV_SCALE : FOV_SCALE + 4] = (*fovea.fov_scale, *fovea.fov_offset)
    params[FOV_GAZE : FOV_GAZE + 3] = fovea.fov_gaze_ray
    params[FOV_REACH] = fovea.fov_reach
    params[FOV_BORDERS : FOV_BORDERS + 4] = fovea.fov_borders
    params[FOV_STEPS] = fovea.fov_steps
    params[FOV_RAMP] = fovea.fov_ramp
    params[FOV_TAU_SCALE] = tau_scale
    params[FOV_KEPT_COS : FOV_KEPT_COS + 3] = kept_cosines(fovea)
    return params


def kept_cosines(fovea: FoveaUniforms) -> tuple[float, float, float]:
    """Per b = 1, 2, 3: a ray whose cosine with the gaze is above this has a level below b.

    The level grows with the eccentricity; x_b, where it reaches b, is found by bisection, and
    the cosine is that of x_b less KEPT_MARGIN degrees (far more than float32's error in the
    angle, about 6e-4 degrees). 2 (no ray) where x_b is within the margin of the gaze, -2 (every
    ray) where the level never reaches b. They do not depend on the gaze: cached by the borders.
    """
    return _kept_cosines(tuple(fovea.fov_borders[: fovea.fov_steps]), fovea.fov_ramp)


@functools.lru_cache(maxsize=16)
def _kept_cosines(borders: tuple[float, ...], ramp: float) -> tuple[float, float, float]:
    """`kept_cosines` by the borders in use and the ramp's width."""
    b = np.array([1.0, 2.0, 3.0])
    lo, hi = np.zeros(3), np.full(3, 360.0)
    reached = band_levels(hi, borders, ramp) >= b
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        up = band_levels(mid, borders, ramp) >= b
        lo, hi = np.where(up, lo, mid), np.where(up, mid, hi)
    angle = hi - KEPT_MARGIN
    cosines = np.where(angle > 0.0, np.cos(np.radians(angle)), 2.0)
    first, second, third = (float(c) for c in np.where(reached, cosines, -2.0))
    return first, second, third


@njit(cache=True, inline="always")
def surely_below(px, py, b, fov):
    """Whether the level at pixel (px, py) is surely below the stored levels b (1-3).

    A cosine against `kept_cosines`' (no atan): False where it cannot tell.
    """
    k = int(b)
    if k < 1 or k > 3:
        return False
    vx = px * fov[FOV_SCALE] + fov[FOV_SCALE + 2]
    vy = py * fov[FOV_SCALE + 1] + fov[FOV_SCALE + 3]
    dot = vx * fov[FOV_GAZE] + vy * fov[FOV_GAZE + 1] + fov[FOV_GAZE + 2]
    return dot > fov[FOV_KEPT_COS + k - 1] * np.sqrt(vx * vx + vy * vy + F1)


@njit(cache=True, parallel=True)
def _level_map(fov, width, height, levels, floors, ceilings, columns):
    """levels[y, x] = fov_level_near at each pixel centre; each tile's lowest and highest.

    A tile whose pixels all lie within TILE_REACH pixels of its centre, so within that many
    times fov_reach radians of its eccentricity, gets one level when no ramp crosses that
    interval (`flat_level`, with LEVEL_SLACK degrees for float32's error); others per pixel.
    """
    margin = DEGREES * fov[FOV_REACH] * TILE_REACH + LEVEL_SLACK
    for ty in prange(floors.size // columns):
        y0, y1 = ty * TILE_SIZE, min((ty + 1) * TILE_SIZE, height)
        for tx in range(columns):
            x0, x1 = tx * TILE_SIZE, min((tx + 1) * TILE_SIZE, width)
            centre = fov_degrees(np.float32((x0 + x1) / 2), np.float32((y0 + y1) / 2), F0, fov)
            flat = flat_level(centre, margin, fov)
            if flat >= F0:
                levels[y0:y1, x0:x1] = flat
                floors[ty * columns + tx], ceilings[ty * columns + tx] = flat, flat
                continue
            low, high = np.float32(np.inf), np.float32(-np.inf)
            for y in range(y0, y1):
                for x in range(x0, x1):
                    level = fov_level_near(np.float32(x + 0.5), np.float32(y + 0.5), F0, fov)
                    levels[y, x] = level
                    low, high = min(low, level), max(high, level)
            floors[ty * columns + tx], ceilings[ty * columns + tx] = low, high


def level_map(
    fovea: FoveaUniforms, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The level at each pixel centre ([height, width]), each 16x16 tile's lowest and highest.

    fovea.glsl's fov_level_near(pixel + 0.5, 0) as llvmpipe computes it, for the cpu backend's
    per-pixel weights (bands mapping: `supports`); the tiles are row-major.
    """
    columns, rows = tile_grid(width, height)
    levels = np.empty((height, width), np.float32)
    floors = np.empty(columns * rows, np.float32)
    ceilings = np.empty(columns * rows, np.float32)
    _level_map(fovea_params(fovea), width, height, levels, floors, ceilings, columns)
    return levels, floors, ceilings
