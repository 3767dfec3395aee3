"""A synthetic room captured from inside (no cameras), for the framing of inside-out scenes.

The capture stood near the middle of a room 2.6 high (a 6.5 x 4.5 living room or a 4 x 11 hall),
1.5 above the floor (the origin). Splats grow with their distance from it (a pixel's footprint),
and by surface: the textured floor and the furniture get many small splats, the plain ceiling few
large ones, the walls between; a few large floaters lie outside. Built z-up, then turned to the
requested up axis; camera-free files (.splat, .spz, SuperSplat) hold it -Y up (the capture's RDF
frame, y down).
"""

from __future__ import annotations

import numpy as np

from viewer.scene import GaussianScene

# A proper rotation taking +Z to each axis direction (columns: images of X, Y, Z)
TO_UP = {
    "+Z": np.eye(3),
    "-Z": np.diag([1.0, -1.0, -1.0]),
    "+Y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    "-Y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
    "+X": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]),
    "-X": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
}

# z-up rooms (lo, hi): floor z = -1.5, ceiling z = 1.1
ROOMS = {
    "living": (np.array([-3.0, -2.0, -1.5]), np.array([3.5, 2.5, 1.1])),
    "hall": (np.array([-2.0, -5.0, -1.5]), np.array([2.0, 6.0, 1.1])),
}
# (box lo, box hi, splats), x and y in fractions of the room: a table, a sofa, a shelf, a lamp
FURNITURE = (
    ((0.55, 0.4, -0.78), (0.7, 0.6, -0.72), 1500),
    ((0.02, 0.2, -1.5), (0.14, 0.7, -1.0), 2000),
    ((0.75, 0.93, -1.5), (0.97, 1.0, 0.5), 2500),
    ((0.28, 0.05, -1.5), (0.31, 0.09, 0.2), 400),
)
# (face, splats, size per unit of distance): the surfaces of the room
SURFACES = (
    ("floor", 9000, 0.008),
    ("ceiling", 1500, 0.03),
    ("walls", 7000, 0.015),
)
FURNITURE_SIZE = 0.005
FLOATERS = 150  # large, faint splats scattered outside the room (windows, noise)


def _on_box(rng: np.random.Generator, lo, hi, count: int, faces: list[int]) -> np.ndarray:
    """[count, 3] points on the faces (index 2 * axis + side) of the box [lo, hi], by area."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    extent = hi - lo
    areas = np.array([np.prod(np.delete(extent, f // 2)) for f in faces])
    which = rng.choice(len(faces), count, p=areas / areas.sum())
    points = lo + rng.uniform(size=(count, 3)) * extent
    for i, face in enumerate(faces):
        rows = which == i
        axis, side = divmod(face, 2)
        points[rows, axis] = hi[axis] if side else lo[axis]
    return points


def _flat_scales(points: np.ndarray, size: np.ndarray, lo, hi) -> np.ndarray:
    """[N, 3] scales `size` across, a tenth of that along the nearest box face's normal."""
    gaps = np.minimum(points - np.asarray(lo), np.asarray(hi) - points)
    scales = np.repeat(size[:, None], 3, axis=1)
    scales[np.arange(len(points)), gaps.argmin(axis=1)] *= 0.1
    return scales


def room_parts(rng: np.random.Generator, room: str) -> tuple[np.ndarray, np.ndarray]:
    """([N, 3] centres, [N, 3] scales) of a room of ROOMS, z up, the capture point at the origin."""
    room_lo, room_hi = ROOMS[room]
    faces = {"floor": [4], "ceiling": [5], "walls": [0, 1, 2, 3]}
    points, scales = [], []
    for face, count, per_distance in SURFACES:
        p = _on_box(rng, room_lo, room_hi, count, faces[face])
        size = per_distance * np.linalg.norm(p, axis=1) * rng.lognormal(0.0, 0.3, count)
        points.append(p)
        scales.append(_flat_scales(p, size, room_lo, room_hi))
    for (u0, v0, z0), (u1, v1, z1), count in FURNITURE:
        lo = room_lo + (room_hi - room_lo) * [u0, v0, 0.0] + [0.0, 0.0, z0 - room_lo[2]]
        hi = room_lo + (room_hi - room_lo) * [u1, v1, 0.0] + [0.0, 0.0, z1 - room_lo[2]]
        p = _on_box(rng, lo, hi, count, [0, 1, 2, 3, 5])
        size = FURNITURE_SIZE * np.linalg.norm(p, axis=1) * rng.lognormal(0.0, 0.3, count)
        points.append(p)
        scales.append(_flat_scales(p, size, lo, hi))
    direction = rng.normal(size=(FLOATERS, 3))
    far = (
        direction
        / np.linalg.norm(direction, axis=1, keepdims=True)
        * rng.uniform(5, 20, (FLOATERS, 1))
    )
    points.append(far)
    scales.append(np.repeat(rng.uniform(0.2, 0.8, (FLOATERS, 1)), 3, axis=1))
    return np.concatenate(points), np.concatenate(scales)


def indoor_room(
    up: str = "-Y", room: str = "living", seed: int = 0, mirrored: bool = False
) -> GaussianScene:
    """A room of ROOMS with `up` up (TO_UP's keys); `mirrored`: x negated (other handedness)."""
    rng = np.random.default_rng(seed)
    points, scales = room_parts(rng, room)
    turn = TO_UP[up]
    if mirrored:
        turn = np.diag([-1.0, 1.0, 1.0]) @ turn
    n = len(points)
    return GaussianScene.from_arrays(
        points @ turn.T,
        scales @ np.abs(turn).T,  # axis-aligned splats stay axis-aligned (signed permutations)
        np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
        rng.uniform(0.5, 0.99, n),
        rng.normal(0.0, 0.8, (n, 1, 3)),
        source=f"{room}_{up}.splat",
    )
