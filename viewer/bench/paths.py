"""Camera paths for the bench: an orbit or a spiral around the scene, its own views, or a file.

Every path is a pure function of its inputs (no random numbers), so runs are reproducible. A
path's frames may carry a gaze: the gaze grid (RTGS's measure of foveated rendering) renders
each camera with the gaze at each of 3 x 3 points of the image.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.camera import Camera
from viewer.camera_path import CameraPath
from viewer.errors import SceneError
from viewer.framing import Ring
from viewer.scene import GaussianScene

PATH_KINDS = ("orbit", "spiral", "cameras")
SPIRAL_TURNS = 2.0
SPIRAL_ELEVATION_DEGREES = (60.0, 5.0)  # from, to
SPIRAL_DISTANCE_SCALE = (1.4, 0.8)  # from, to; times the framing distance
GAZE_GRID = (1.0 / 6.0, 0.5, 5.0 / 6.0)  # gaze grid rows and columns: fractions of the image


@dataclass(frozen=True)
class PathFrame:
    """One timed frame of the bench: a camera and, on the gaze grid, the point looked at.

    Attributes:
        camera: the view.
        gaze: (x, y) fractions of the image's width and height; None: each configuration's
            own gaze (`fov.gaze`: the image centre, or its fixed point).
    """

    camera: Camera
    gaze: tuple[float, float] | None = None


def path_frames(cameras: list[Camera], gaze_grid: bool = False) -> list[PathFrame]:
    """The timed frames along `cameras`: each once, or with the gaze at each grid point.

    On the grid a camera's 9 frames follow one another, row by row from the top left.
    """
    if not gaze_grid:
        return [PathFrame(camera) for camera in cameras]
    points = [(x, y) for y in GAZE_GRID for x in GAZE_GRID]
    return [PathFrame(camera, point) for camera in cameras for point in points]


def orbit(
    scene: GaussianScene, width: int, height: int, frames: int, up: str = "auto"
) -> list[Camera]:
    """One turn around the scene at the default framing's distance and elevation."""
    ring = Ring.framing(scene, width, height, up)
    return [
        ring.camera(2.0 * math.pi * i / frames, ring.elevation, 1.0, width, height, f"orbit {i}")
        for i in range(frames)
    ]


def spiral(
    scene: GaussianScene, width: int, height: int, frames: int, up: str = "auto"
) -> list[Camera]:
    """SPIRAL_TURNS turns descending from high and far to low and close, looking at the centre."""
    ring = Ring.framing(scene, width, height, up)
    cameras = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        elevation = math.radians(np.interp(t, (0.0, 1.0), SPIRAL_ELEVATION_DEGREES))
        scale = float(np.interp(t, (0.0, 1.0), SPIRAL_DISTANCE_SCALE))
        azimuth = 2.0 * math.pi * SPIRAL_TURNS * t
        cameras.append(ring.camera(azimuth, elevation, scale, width, height, f"spiral {i}"))
    return cameras


def scene_cameras(scene: GaussianScene, width: int, height: int, frames: int) -> list[Camera]:
    """The scene's own views (cameras.json) spread evenly over `frames`, resized.

    Raises:
        SceneError: when the scene came without cameras.
    """
    views = scene.cameras
    if not views:
        raise SceneError(scene.source, "the scene has no cameras; use --path orbit or spiral")
    return [views[i * len(views) // frames].resized(width, height) for i in range(frames)]


def path_file(path: str | Path, width: int, height: int, frames: int) -> list[Camera]:
    """A camera path recorded in the viewer, sampled at `frames` even times.

    The times run from its first keyframe to its last; the path is played back as the viewer
    plays it (`viewer.camera_path`).

    Raises:
        SceneError: when the file is missing or not a camera path with keyframes.
    """
    if not Path(path).exists():
        raise SceneError(path, f"no such file (--path takes {', '.join(PATH_KINDS)} or a file)")
    recorded = CameraPath.load(path)
    if not recorded.keyframes:
        raise SceneError(path, "the camera path has no keyframes")
    times = np.linspace(recorded.keyframes[0].time, recorded.duration, frames)
    return [
        dataclasses.replace(recorded.camera(float(t), width, height), name=f"path {i}")
        for i, t in enumerate(times)
    ]


def camera_path(
    kind: str, scene: GaussianScene, width: int, height: int, frames: int, up: str = "auto"
) -> list[Camera]:
    """The path named `kind` (one of PATH_KINDS) or read from the file `kind`.

    `up` (viewer.framing.UP_CHOICES) is the world up of the orbit and the spiral.

    Raises:
        ValueError: when `frames` is not positive.
        SceneError: when the scene has no cameras (kind "cameras") or the file is unusable.
    """
    if frames < 1:
        raise ValueError(f"a camera path needs at least one frame, got {frames}")
    if kind in ("orbit", "spiral"):
        return (orbit if kind == "orbit" else spiral)(scene, width, height, frames, up)
    if kind == "cameras":
        return scene_cameras(scene, width, height, frames)
    return path_file(kind, width, height, frames)
