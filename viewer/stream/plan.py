"""Which level of each leaf a camera needs: the coarsest whose Gaussians look dense enough.

A leaf at a level holds n Gaussians inside its bounding sphere (radius r); seen from distance d
with focal length f (pixels) the sphere covers about pi (f r / d)^2 pixels, so its Gaussians lie
about f r / d * sqrt(pi / n) pixels apart (`spacing`). Every leaf starts at its coarsest level
(always resident: what a frame falls back to); then the visible leaf that looks coarsest is
refined one level at a time, as long as its spacing exceeds `detail` pixels and the rows fit the
budget (a leaf whose next level does not fit is left where it is, and smaller ones may still
fit). Leaves outside the view stay coarse.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from viewer.camera import Camera
from viewer.stream.leaves import StreamLeaves


def _camera_space(leaves: StreamLeaves, camera: Camera) -> np.ndarray:
    """[L, 3] the leaves' centres in camera space (x right, y down, z forward)."""
    view = camera.world_to_camera
    return leaves.centres @ view[:3, :3].T + view[:3, 3]


def visible(leaves: StreamLeaves, camera: Camera, near: float) -> np.ndarray:
    """[L] whether each leaf's bounding sphere reaches into the view frustum."""
    p, r = _camera_space(leaves, camera), leaves.radii
    tan_x = max(camera.cx, camera.width - camera.cx) / camera.fx
    tan_y = max(camera.cy, camera.height - camera.cy) / camera.fy
    inside = p[:, 2] + r > near
    for axis, tan in ((0, tan_x), (1, tan_y)):
        inside &= np.abs(p[:, axis]) - tan * p[:, 2] <= r * math.sqrt(1.0 + tan * tan)
    return inside


def spacing(leaves: StreamLeaves, camera: Camera, near: float) -> np.ndarray:
    """[L, levels] pixels between a leaf's Gaussians on screen per level (inf where it has none)."""
    p = _camera_space(leaves, camera)
    distance = np.maximum(np.linalg.norm(p, axis=1) - leaves.radii, near)
    size = max(camera.fx, camera.fy) * leaves.radii / distance
    with np.errstate(divide="ignore"):
        return size[:, None] * np.sqrt(math.pi / leaves.counts)


def _finer(counts: np.ndarray, level: int) -> int:
    """The next finer level that the leaf holds below `level`, or -1."""
    held = np.flatnonzero(counts[:level] > 0)
    return int(held[-1]) if held.size else -1


def plan_levels(
    leaves: StreamLeaves, camera: Camera, near: float, budget_rows: int, detail: float
) -> np.ndarray:
    """[L] the level to draw each leaf at for `camera` (see the module's documentation).

    Args:
        leaves: the scene's leaves.
        camera: the view.
        near: the near plane's camera depth.
        budget_rows: the most Gaussians drawn in all (the coarsest levels count first, even
            where they alone exceed it).
        detail: the widest spacing on screen, in pixels, left unrefined.
    """
    levels = leaves.coarsest()
    gaps = spacing(leaves, camera, near)
    used = leaves.rows(levels)
    heap: list[tuple[float, int]] = []

    def offer(leaf: int) -> None:
        gap = float(gaps[leaf, levels[leaf]])
        if gap > detail and _finer(leaves.counts[leaf], int(levels[leaf])) >= 0:
            heapq.heappush(heap, (-gap, leaf))

    for seen in np.flatnonzero(visible(leaves, camera, near)):
        offer(int(seen))
    while heap:
        _, leaf = heapq.heappop(heap)
        finer = _finer(leaves.counts[leaf], int(levels[leaf]))
        grown = int(leaves.counts[leaf, finer] - leaves.counts[leaf, levels[leaf]])
        if used + grown > budget_rows:
            continue
        levels[leaf], used = finer, used + grown
        offer(leaf)
    return levels
