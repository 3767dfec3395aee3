"""Scene context: training-camera frustums, world axes and a ground grid as segments; points.

Pure geometry (numpy and `Camera`, no GL, no UI): segments are [M, 2, 3] float64 arrays of
world-space end points. `project_segments` clips them at a camera's near plane and projects
them to its image pixels, `project_points` does so for points; `pick_frustum` finds the frustum
drawn nearest to a pixel. The window draws them over the splat image
(viewer/app/context_overlay.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from viewer.camera import Camera

FRUSTUM_SHARE = 0.05  # a frustum's depth (apex to image rectangle) per unit of scene diagonal
AXES_SHARE = 0.25  # the world axes' length per unit of scene diagonal
GRID_LINES = 10  # about this many grid cells across the scene's larger horizontal side
GRID_MARGIN = 0.25  # the grid reaches this share of the scene's size beyond its bounds
MIN_SIZE = 1e-6  # scene sizes below this count as this (one Gaussian, one point)


def scene_size(lo: np.ndarray, hi: np.ndarray) -> float:
    """The diagonal of the box [lo, hi], at least MIN_SIZE."""
    size = float(np.linalg.norm(np.asarray(hi, np.float64) - np.asarray(lo, np.float64)))
    return max(size, MIN_SIZE) if math.isfinite(size) else 1.0


def frustum_points(camera: Camera, depth: float) -> np.ndarray:
    """[5, 3] world points of `camera`'s frustum: its apex, then its image rectangle's corners.

    The apex is the camera's centre; the corners (top left, top right, bottom right, bottom
    left) are those of its image at camera depth `depth`.
    """
    corners = [(0.0, 0.0), (camera.width, 0.0), (camera.width, camera.height), (0.0, camera.height)]
    return np.stack([camera.position] + [camera.unproject(x, y, depth) for x, y in corners])


def frustum_segments(camera: Camera, depth: float) -> np.ndarray:
    """[11, 2, 3] segments of `camera`'s frustum, its image rectangle `depth` ahead of it.

    The apex to each corner (4), the image rectangle (4) and a triangle above its top edge
    marking the camera's up (3).
    """
    apex, tl, tr, br, bl = frustum_points(camera, depth)
    up = -camera.camera_to_world[:3, 1]  # OpenCV y points down
    half_top = 0.5 * (tr - tl)
    tip = tl + half_top + up * float(np.linalg.norm(half_top)) * 0.5
    ends = [(apex, tl), (apex, tr), (apex, br), (apex, bl), (tl, tr), (tr, br), (br, bl),
            (bl, tl), (tl + 0.25 * (tr - tl), tip), (tip, tr - 0.25 * (tr - tl)),
            (tl + 0.25 * (tr - tl), tr - 0.25 * (tr - tl))]  # fmt: skip
    return np.asarray(ends, dtype=np.float64)


def axes_segments(length: float) -> np.ndarray:
    """[3, 2, 3] segments from the world origin along +X, +Y and +Z, `length` long."""
    segments = np.zeros((3, 2, 3))
    segments[:, 1] = np.eye(3) * length
    return segments


def _nice_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, near span / GRID_LINES."""
    raw = max(span / GRID_LINES, MIN_SIZE)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def grid_segments(lo: np.ndarray, hi: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[M, 2, 3] lines of a ground grid under the box [lo, hi] for the world up `up`.

    The grid lies in the plane perpendicular to `up` (a signed coordinate axis, as the camera
    controller's) through the box's lowest point along it; its lines run along the two other
    world axes at a round spacing (1, 2 or 5 times a power of ten; the origin's lines among
    them) and reach a margin beyond the box.
    """
    lo, hi, up = (np.asarray(v, dtype=np.float64) for v in (lo, hi, up))
    axis = int(np.argmax(np.abs(up)))
    level = lo[axis] if up[axis] > 0.0 else hi[axis]
    a, b = (k for k in range(3) if k != axis)
    span = max(hi[a] - lo[a], hi[b] - lo[b], MIN_SIZE)
    step = _nice_step(span)
    margin = GRID_MARGIN * span
    ranges = []
    for k in (a, b):
        first = math.floor((lo[k] - margin) / step)
        last = math.ceil((hi[k] + margin) / step)
        ranges.append(np.arange(first, last + 1) * step)
    segments = []
    for k, other, values, other_values in ((a, b, ranges[0], ranges[1]),
                                           (b, a, ranges[1], ranges[0])):  # fmt: skip
        for value in values:
            start, end = np.zeros(3), np.zeros(3)
            start[axis] = end[axis] = level
            start[k] = end[k] = value
            start[other], end[other] = other_values[0], other_values[-1]
            segments.append((start, end))
    return np.asarray(segments, dtype=np.float64)


def project_segments(
    camera: Camera, segments: np.ndarray, near: float
) -> tuple[np.ndarray, np.ndarray]:
    """`segments` in `camera`'s image pixels, clipped at its near plane.

    A segment wholly nearer than `near` (camera depth) is dropped; one crossing it is cut where
    it crosses, keeping the part in front.

    Args:
        camera: the view.
        segments: [M, 2, 3] world end points.
        near: the near plane's camera depth (> 0).

    Returns:
        ([K, 2, 2] float64 pixel end points, [K] int indices into `segments` of those kept).
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 3)
    w2c = camera.world_to_camera
    points = segments @ w2c[:3, :3].T + w2c[:3, 3]  # [M, 2, 3] in camera axes
    z0, z1 = points[:, 0, 2], points[:, 1, 2]
    kept = (z0 >= near) | (z1 >= near)
    points, z0, z1 = points[kept], z0[kept], z1[kept]
    # cut where a segment crosses the near plane: move its end behind the plane onto it
    for end, z_end, z_other in ((0, z0, z1), (1, z1, z0)):
        behind = z_end < near
        t = (near - z_end[behind]) / (z_other[behind] - z_end[behind])
        points[behind, end] += t[:, None] * (points[behind, 1 - end] - points[behind, end])
        points[behind, end, 2] = near  # exactly on it (no rounding behind it)
    pixels = np.empty((*points.shape[:2], 2))
    pixels[..., 0] = camera.fx * points[..., 0] / points[..., 2] + camera.cx
    pixels[..., 1] = camera.fy * points[..., 1] / points[..., 2] + camera.cy
    return pixels, np.flatnonzero(kept)


def project_points(camera: Camera, points: np.ndarray, near: float, cell: float) -> np.ndarray:
    """[K, 2] image pixels of the `points` in front of `near` and inside `camera`'s image.

    Points falling into one square of `cell` pixels are drawn alike, so one of them is kept.

    Args:
        camera: the view.
        points: [P, 3] world positions.
        near: the near plane's camera depth (> 0); nearer points are dropped.
        cell: the side in pixels of the squares within which points count as one (> 0).
    """
    w2c = camera.world_to_camera
    local = np.asarray(points, dtype=np.float64).reshape(-1, 3) @ w2c[:3, :3].T + w2c[:3, 3]
    local = local[local[:, 2] >= near]
    x = camera.fx * local[:, 0] / local[:, 2] + camera.cx
    y = camera.fy * local[:, 1] / local[:, 2] + camera.cy
    inside = (x >= 0.0) & (x < camera.width) & (y >= 0.0) & (y < camera.height)
    pixels = np.stack([x[inside], y[inside]], axis=1)
    _, first = np.unique(np.floor(pixels / cell).astype(np.int64), axis=0, return_index=True)
    return pixels[np.sort(first)]


def _distance_to_segments(point: np.ndarray, pixels: np.ndarray) -> float:
    """The smallest distance from [2] `point` to any of the [K, 2, 2] segments (inf if none)."""
    if len(pixels) == 0:
        return math.inf
    a, b = pixels[:, 0], pixels[:, 1]
    ab = b - a
    length2 = np.maximum((ab * ab).sum(axis=1), 1e-12)
    t = np.clip(((point - a) * ab).sum(axis=1) / length2, 0.0, 1.0)
    nearest = a + t[:, None] * ab
    return float(np.sqrt(((nearest - point) ** 2).sum(axis=1)).min())


def pick_frustum(
    view: Camera,
    cameras: Sequence[Camera],
    depth: float,
    pixel: tuple[float, float],
    near: float,
    tolerance: float,
) -> int | None:
    """The index of the camera whose frustum, drawn in `view`, lies nearest to `pixel`.

    A frustum is hit at its apex or on its image rectangle's edges, within `tolerance` pixels;
    of several, the nearest wins (the earlier on a tie). None when none is that near.

    Args:
        view: the camera the frustums are seen with.
        cameras: the frustums' cameras.
        depth: the frustums' depth (`frustum_segments`).
        pixel: (x, y) in `view`'s image pixels.
        near: `view`'s near plane; what lies nearer is not drawn, so not hit.
        tolerance: the largest distance in pixels that hits.
    """
    point = np.asarray(pixel, dtype=np.float64)
    best, best_distance = None, tolerance
    for index, camera in enumerate(cameras):
        apex, tl, tr, br, bl = frustum_points(camera, depth)
        outline = np.array([(apex, apex), (tl, tr), (tr, br), (br, bl), (bl, tl)])
        pixels, _ = project_segments(view, outline, near)
        distance = _distance_to_segments(point, pixels)
        if distance <= best_distance and (best is None or distance < best_distance):
            best, best_distance = index, distance
    return best
