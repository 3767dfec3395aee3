"""Foveated rendering's geometry: eccentricity from the gaze, the level it gives, the blend.

Eccentricity is the angle between the ray through the gaze and the ray through a point of the
image. Rays are taken in the *eye's* view: the camera's own (pixel -> (x - cx) / fx, (y - cy) /
fy, 1), or, with `Fovea.display_fov`, a screen spanning that horizontal angle at the eye (RTGS's
model: a 2-unit-wide screen 1 unit away spans 90 degrees).

A continuous level l in [0, levels - 1] grows with eccentricity: plateaus at whole levels,
ramps of width `blend` between them. With the `bands` mapping the ramps start at the border
eccentricities (degrees; level 0 inside the fovea radius). With the `pooling` mapping (RTGS) the
eccentricity first gives a pooling size: the pooling radius alpha ecc^2 (radians) seen at that
point of the screen, an ellipse whose area's square root in pixels is the size; level
(sqrt(size) - 1) / step with step = (sqrt(12) - 1) / (levels - 1), so size 12 px is the coarsest
level; the ramps cover the upper half of each level (RTGS's start_blend and blend_width, 0.5).

A Gaussian stores b = the number of levels that keep it (its coarsest level + 1; 0: none; 255:
no levels known, kept everywhere). Drawn at level l with the weight

    w(b, l) = smoothstep(clamp(b - l, 0, 1))

which is 1 where l <= b - 1 (it belongs to the level), 0 where l >= b, and blends in between:
deep inside a band exactly one level is drawn, and across a border the image changes
continuously. The tiles backend applies w per pixel (alpha scaled by w of the pixel's level);
a tile gets no pair for a Gaussian whose w is 0 at the tile's lowest level, found from the tile
centre's eccentricity less the tile's angular half-diagonal (angles are at most tangent-plane
distances, so that is a lower bound for every pixel of it). The quads backend applies w per
splat, through its opacity, at the lowest level its footprint reaches (the same bound): a splat
that reaches the fovea is drawn in full, so the fovea is the full render on both backends.

`shaders/fovea.glsl` is the GPU side of the same functions; this module is its float64
reference (tests, the outlines on screen, the region masks of the bench).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.render.layout import TILE_SIZE

MAX_LEVELS = 5  # the GPU takes up to 4 borders (a vec4)
LEVEL_NONE = 255  # a row without a stored level: drawn at every level
POOLING_MAX_SIZE = 12.0  # RTGS: the pooling size (pixels) of the coarsest level
POOLING_BLEND = 0.5  # RTGS: the blend covers the upper half of each level (start 0.5, width 0.5)
MAPPINGS = ("bands", "pooling")
MAX_ANGLE = math.radians(89.0)  # rays beyond this from the eye's axis are not traced


@dataclass(frozen=True)
class Fovea:
    """How one frame falls off in detail away from the gaze (`FrameInputs.fovea`).

    Attributes:
        levels: number of levels (2 to MAX_LEVELS); level 0 is the fovea.
        mapping: "bands" (level borders in degrees) or "pooling" (RTGS's pooling size).
        borders: bands: the eccentricities (degrees) where levels 1, 2, ... begin to blend in,
            levels - 1 of them, non-decreasing.
        blend: bands: the width of each blend ramp (degrees; 0: hard borders).
        alpha: pooling: pooling radius = alpha ecc^2 (radians).
        display_fov: horizontal angle (degrees) the screen spans at the eye; 0: the camera's.
        subsets: draw the nested subsets of the scene's stored levels (`GpuScene.write_levels`).
        lod_tau_scale: with an LOD cut (which draws the scene's own Gaussians in the fovea and
            ramps up to its tau across level 1's border), tau is multiplied by this per level
            beyond level 1 (the `lod` source; 1 with subsets).
        periphery_scale: foveated resolution: below 1 the frame is rendered at this fraction of
            its render scale and an inset around the fovea at the full one (viewer/render/inset.py).
    """

    levels: int = 4
    mapping: str = "bands"
    borders: tuple[float, ...] = (10.0, 18.0, 26.0)
    blend: float = 3.0
    alpha: float = 0.05
    display_fov: float = 0.0
    subsets: bool = True
    lod_tau_scale: float = 1.0
    periphery_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 2 <= self.levels <= MAX_LEVELS:
            raise ValueError(f"foveation takes 2 to {MAX_LEVELS} levels, got {self.levels}")
        if self.mapping not in MAPPINGS:
            raise ValueError(f"unknown foveation mapping {self.mapping!r}")
        if self.mapping == "bands" and len(self.borders) != self.levels - 1:
            raise ValueError(f"{self.levels} levels need {self.levels - 1} borders")
        if not 0.0 < self.periphery_scale <= 1.0:
            raise ValueError(f"periphery_scale must lie in (0, 1], got {self.periphery_scale}")

    def ramps(self) -> tuple[np.ndarray, float, str]:
        """(borders [levels - 1], ramp width, unit of both: "degrees" or "pooling level")."""
        steps = self.levels - 1
        if self.mapping == "pooling":
            borders = np.arange(1, steps + 1, dtype=np.float64) - POOLING_BLEND
            return borders, POOLING_BLEND, "pooling level"
        return np.asarray(self.borders, np.float64), float(self.blend), "degrees"


# -- rays of the eye -------------------------------------------------------------------------


def eye_map(camera: Camera, fovea: Fovea) -> tuple[np.ndarray, np.ndarray]:
    """(scale [2], offset [2]): pixel p -> tangent p * scale + offset of the eye's view."""
    if fovea.display_fov > 0.0:
        focal = camera.width / (2.0 * math.tan(math.radians(fovea.display_fov) / 2.0))
        scale = np.array([1.0 / focal, 1.0 / focal])
        return scale, -np.array([camera.width / 2.0, camera.height / 2.0]) * scale
    scale = np.array([1.0 / camera.fx, 1.0 / camera.fy])
    return scale, -np.array([camera.cx, camera.cy]) * scale


def gaze_pixel(camera: Camera, gaze: tuple[float, float] | None) -> tuple[float, float]:
    """The gaze in pixels of `camera`'s image (None: the image centre)."""
    if gaze is None:
        return camera.width / 2.0, camera.height / 2.0
    return float(gaze[0]), float(gaze[1])


def rays(camera: Camera, fovea: Fovea, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
    """[..., 3] unit rays of the eye through pixel positions (x, y)."""
    scale, offset = eye_map(camera, fovea)
    t = np.stack([np.asarray(x) * scale[0] + offset[0], np.asarray(y) * scale[1] + offset[1]], -1)
    r = np.concatenate([t, np.ones((*t.shape[:-1], 1))], axis=-1)
    return r / np.linalg.norm(r, axis=-1, keepdims=True)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[...] angle (radians) between unit vectors a [..., 3] and b [..., 3] (atan2: accurate)."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


def pixels_per_tangent(camera: Camera, fovea: Fovea) -> float:
    """Pixels per tangent unit of the eye's view (geometric mean of x and y)."""
    scale, _ = eye_map(camera, fovea)
    return 1.0 / math.sqrt(scale[0] * scale[1])


def radians_per_pixel(camera: Camera, fovea: Fovea) -> float:
    """An upper bound of the angle one pixel of distance spans anywhere in the image.

    The angle between two rays is at most the distance of their points on the tangent plane
    (the inverse gnomonic projection shrinks every length), and a pixel is at most
    max(scale) tangent units.
    """
    scale, _ = eye_map(camera, fovea)
    return float(max(scale))


# -- levels ------------------------------------------------------------------------------------


def pooling_level(ecc: np.ndarray, centre: np.ndarray, fovea: Fovea, focal: float) -> np.ndarray:
    """RTGS's level before clamping: from the pooling size at eccentricity `ecc`.

    Args:
        ecc: eccentricity from the gaze (radians).
        centre: angle of the same ray from the eye's axis (radians): the pooling region's
            radial stretch on the screen.
        fovea: alpha and the number of levels.
        focal: pixels per tangent unit.
    """
    ecc, centre = np.asarray(ecc, np.float64), np.minimum(np.asarray(centre, np.float64), MAX_ANGLE)
    radius = fovea.alpha * ecc * ecc
    low = centre - radius / 2.0
    high = np.minimum(centre + radius / 2.0, MAX_ANGLE)
    major = np.tan(high) - np.tan(low)
    minor = 2.0 / np.cos(centre) * np.tan(radius / 2.0)
    size = np.sqrt(np.maximum(math.pi * major * minor / 4.0, 0.0)) * focal
    step = (math.sqrt(POOLING_MAX_SIZE) - 1.0) / (fovea.levels - 1)
    return np.where(size <= 1.0, 0.0, (np.sqrt(np.maximum(size, 1.0)) - 1.0) / step)


def level_at(ecc: np.ndarray, centre: np.ndarray, fovea: Fovea, focal: float) -> np.ndarray:
    """The continuous level l in [0, levels - 1] at eccentricity `ecc` (radians).

    Args:
        ecc: eccentricity from the gaze (radians).
        centre: the ray's angle from the eye's axis (radians; the pooling mapping only).
        fovea: the mapping.
        focal: pixels per tangent unit (the pooling mapping only).
    """
    if fovea.mapping == "pooling":
        x = pooling_level(ecc, centre, fovea, focal)
    else:
        x = np.degrees(np.asarray(ecc, np.float64))
    borders, width, _ = fovea.ramps()
    level = np.zeros(np.shape(x))
    for border in borders:
        if width > 0.0:
            level += np.clip((x - border) / width, 0.0, 1.0)
        else:
            level += x >= border
    return level


def weight(stored: np.ndarray, level: np.ndarray) -> np.ndarray:
    """w(b, l) = smoothstep(clamp(b - l, 0, 1)): a Gaussian's share at level l (b: stored)."""
    y = np.clip(np.asarray(stored, np.float64) - level, 0.0, 1.0)
    return y * y * (3.0 - 2.0 * y)


def near_level(
    camera: Camera,
    fovea: Fovea,
    gaze: tuple[float, float] | None,
    x: np.ndarray | float,
    y: np.ndarray | float,
    radius: np.ndarray | float,
) -> np.ndarray:
    """A lower bound of the level over discs of `radius` pixels around (x, y).

    The eccentricity and the angle from the axis are lowered by the disc's largest angle.
    """
    gx, gy = gaze_pixel(camera, gaze)
    ray = rays(camera, fovea, x, y)
    reach = np.asarray(radius, np.float64) * radians_per_pixel(camera, fovea)
    ecc = np.maximum(angle_between(ray, rays(camera, fovea, gx, gy)) - reach, 0.0)
    centre = np.maximum(np.arctan2(np.linalg.norm(ray[..., :2], axis=-1), ray[..., 2]) - reach, 0.0)
    return level_at(ecc, centre, fovea, pixels_per_tangent(camera, fovea))


def pixel_levels(camera: Camera, fovea: Fovea, gaze: tuple[float, float] | None) -> np.ndarray:
    """[H, W] the level at every pixel centre."""
    y, x = np.mgrid[0 : camera.height, 0 : camera.width] + 0.5
    return near_level(camera, fovea, gaze, x, y, 0.0)


TILE_REACH = (TILE_SIZE - 1) / 2.0 * math.sqrt(2.0)  # tile centre to its farthest pixel centre


def tile_levels(camera: Camera, fovea: Fovea, gaze: tuple[float, float] | None) -> np.ndarray:
    """[tiles y, tiles x] the lowest level of each 16x16 tile's pixel centres (a lower bound)."""
    tiles_x, tiles_y = -(-camera.width // TILE_SIZE), -(-camera.height // TILE_SIZE)
    y, x = (np.mgrid[0:tiles_y, 0:tiles_x] + 0.5) * TILE_SIZE
    return near_level(camera, fovea, gaze, x, y, TILE_REACH)


def fovea_mask(camera: Camera, fovea: Fovea, gaze: tuple[float, float] | None) -> np.ndarray:
    """[H, W] bool: the pixels of level 0 (full detail), the fovea."""
    return pixel_levels(camera, fovea, gaze) <= 0.0


# -- outlines ----------------------------------------------------------------------------------


def outlines(
    camera: Camera, fovea: Fovea, gaze: tuple[float, float] | None, points: int = 120
) -> list[np.ndarray]:
    """Where each level begins to blend in: per border a closed [points, 2] polyline, pixels.

    Polylines may leave the image (see `contour`).
    """
    borders, _, _ = fovea.ramps()
    return [contour(camera, fovea, gaze, float(border), points) for border in borders]


def contour(
    camera: Camera, fovea: Fovea, gaze: tuple[float, float] | None, value: float, points: int = 120
) -> np.ndarray:
    """The closed [points, 2] polyline (pixels) where the mapping reaches `value`.

    `value` is in the unit of `Fovea.ramps` (degrees, or pooling level). Found along rays from
    the gaze (by bisection on the angle from it); where the value lies beyond the eye's reach
    on a ray the polyline stops at MAX_ANGLE there, so it may leave the image.
    """
    gx, gy = gaze_pixel(camera, gaze)
    scale, offset = eye_map(camera, fovea)
    g = rays(camera, fovea, gx, gy)
    u = np.cross(g, [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(g, u)
    phi = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    side = np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v  # [P, 3]
    focal = pixels_per_tangent(camera, fovea)

    def x_at(theta: np.ndarray) -> np.ndarray:
        ray = np.cos(theta)[:, None] * g + np.sin(theta)[:, None] * side
        centre = np.arctan2(np.linalg.norm(ray[:, :2], axis=-1), ray[:, 2])
        if fovea.mapping == "pooling":
            return pooling_level(theta, centre, fovea, focal)
        return np.degrees(theta)

    lo, hi = np.zeros(points), np.full(points, MAX_ANGLE)
    for _ in range(40):
        mid = (lo + hi) / 2.0
        below = x_at(mid) < value
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    ray = np.cos(hi)[:, None] * g + np.sin(hi)[:, None] * side
    z = np.maximum(ray[:, 2], 1e-6)
    tangent = ray[:, :2] / z[:, None]
    return (tangent - offset) / scale


# -- the GPU's uniforms ------------------------------------------------------------------------


@dataclass(frozen=True)
class FoveaUniforms:
    """The uniforms of shaders/fovea.glsl (`uniforms`): the eye, the gaze and the mapping.

    Attributes:
        fov_scale, fov_offset: pixel p -> tangent p * scale + offset of the eye's view.
        fov_gaze_ray: unit ray of the gaze.
        fov_reach: radians one pixel of distance spans at most.
        fov_pooling: RTGS's pooling-size mapping, else bands in degrees.
        fov_borders: where each ramp begins (degrees or pooling level), inf-padded to 4.
        fov_steps: levels - 1.
        fov_ramp: width of each ramp.
        fov_alpha: pooling radius = alpha ecc^2.
        fov_focal: pixels per tangent unit.
        fov_pooling_step: sqrt(pooling size) per level.
    """

    fov_scale: tuple[float, float]
    fov_offset: tuple[float, float]
    fov_gaze_ray: tuple[float, float, float]
    fov_reach: float
    fov_pooling: bool
    fov_borders: tuple[float, float, float, float]
    fov_steps: int
    fov_ramp: float
    fov_alpha: float
    fov_focal: float
    fov_pooling_step: float


def uniform_levels(fovea: FoveaUniforms, width: int, height: int) -> np.ndarray:
    """[height, width] float32 the level at every pixel centre, from shaders' uniforms.

    fovea.glsl's fov_level_near(pixel + 0.5, 0) in numpy: for the cpu backend, which weighs
    each pixel as the tiles backend does (an inset's uniforms carry its crop's origin).
    """
    y, x = np.mgrid[0:height, 0:width] + 0.5
    tangent_x = x * fovea.fov_scale[0] + fovea.fov_offset[0]
    tangent_y = y * fovea.fov_scale[1] + fovea.fov_offset[1]
    ray = np.stack([tangent_x, tangent_y, np.ones_like(x)], axis=-1)
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    ecc = angle_between(ray, np.asarray(fovea.fov_gaze_ray, np.float64))
    centre = np.arctan2(np.linalg.norm(ray[..., :2], axis=-1), ray[..., 2])
    if fovea.fov_pooling:
        centre = np.minimum(centre, MAX_ANGLE)
        radius = fovea.fov_alpha * ecc * ecc
        major = np.tan(np.minimum(centre + 0.5 * radius, MAX_ANGLE)) - np.tan(centre - 0.5 * radius)
        minor = 2.0 / np.cos(centre) * np.tan(0.5 * radius)
        size = np.sqrt(np.maximum(math.pi / 4.0 * major * minor, 0.0)) * fovea.fov_focal
        root = np.sqrt(np.maximum(size, 1.0))
        x = np.where(size <= 1.0, 0.0, (root - 1.0) / fovea.fov_pooling_step)
    else:
        x = np.degrees(ecc)
    return band_levels(x, fovea.fov_borders[: fovea.fov_steps], fovea.fov_ramp).astype(np.float32)


def band_levels(x: np.ndarray, borders: Sequence[float], ramp: float) -> np.ndarray:
    """fovea.glsl's level from `x` (degrees, or the pooling level before its borders), float64.

    One term per border: a ramp of width `ramp` from it up to 1, or a step at it (`ramp` 0).
    """
    level = np.zeros(np.shape(x))
    for border in borders:
        if ramp > 0.0:
            level += np.clip((x - border) / ramp, 0.0, 1.0)
        else:
            level += x >= border
    return level


@dataclass(frozen=True)
class SubsetUniforms:
    """A foveated frame drawing the scene's nested subsets (fovea.glsl with FOVEA defined).

    Attributes:
        fovea: the frame's fovea for the image drawn.
        fov_level_rows: rows the scene's stored levels hold (later rows keep every level).
    """

    fovea: FoveaUniforms
    fov_level_rows: int


def uniforms(
    camera: Camera,
    fovea: Fovea,
    gaze: tuple[float, float] | None,
    origin: tuple[int, int] = (0, 0),
) -> FoveaUniforms:
    """The uniforms of shaders/fovea.glsl for an image of `camera` (gaze in its pixels).

    With `origin`, for a crop of that image whose pixel (0, 0) is `camera`'s pixel `origin`
    (an inset): the eye and the gaze stay those of the whole image.
    """
    scale, offset = eye_map(camera, fovea)
    offset = offset + np.asarray(origin, np.float64) * scale
    gx, gy = gaze_pixel(camera, gaze)
    borders, width, _ = fovea.ramps()
    padded = np.full(MAX_LEVELS - 1, np.inf)
    padded[: borders.size] = borders
    sx, sy = (float(v) for v in scale)
    ox, oy = (float(v) for v in offset)
    rx, ry, rz = (float(v) for v in rays(camera, fovea, gx, gy))
    b0, b1, b2, b3 = (float(min(v, 3.0e38)) for v in padded)
    return FoveaUniforms(
        fov_scale=(sx, sy),
        fov_offset=(ox, oy),
        fov_gaze_ray=(rx, ry, rz),
        fov_reach=radians_per_pixel(camera, fovea),
        fov_pooling=fovea.mapping == "pooling",
        fov_borders=(b0, b1, b2, b3),
        fov_steps=int(borders.size),
        fov_ramp=float(width),
        fov_alpha=float(fovea.alpha),
        fov_focal=pixels_per_tangent(camera, fovea),
        fov_pooling_step=(math.sqrt(POOLING_MAX_SIZE) - 1.0) / (fovea.levels - 1),
    )


def render_gaze(
    camera: Camera, render_camera: Camera, gaze: tuple[float, float] | None
) -> tuple[float, float] | None:
    """The gaze given in `camera`'s pixels, in the pixels of the (scaled) image rendered."""
    if gaze is None:
        return None
    return (
        gaze[0] * render_camera.width / camera.width,
        gaze[1] * render_camera.height / camera.height,
    )


def pack_levels(stored: np.ndarray) -> np.ndarray:
    """The [n] uint8 stored levels as the bytes of uint32 words, padded with LEVEL_NONE.

    Four per word, the first in the low byte (the GPU reads them as words).
    """
    stored = np.asarray(stored, np.uint8)
    padded = np.full(-(-stored.size // 4) * 4 or 4, LEVEL_NONE, np.uint8)
    padded[: stored.size] = stored
    return padded
