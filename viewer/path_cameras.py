"""Camera paths around a scene: an orbit, a spiral, its own views, or a recorded path file.

Shared by the bench (`splatscope bench --path`) and the video of a path (`splatscope render
--path`). Every path is a pure function of its inputs (no random numbers), so runs are
reproducible.
"""

from __future__ import annotations

import dataclasses
import math
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


def load_path_file(path: str | Path) -> CameraPath:
    """A camera path file recorded in the viewer, with at least one keyframe.

    Raises:
        SceneError: when the file is missing or not a camera path with keyframes.
    """
    if not Path(path).exists():
        raise SceneError(path, f"no such file (--path takes {', '.join(PATH_KINDS)} or a file)")
    recorded = CameraPath.load(path)
    if not recorded.keyframes:
        raise SceneError(path, "the camera path has no keyframes")
    return recorded


def sampled(recorded: CameraPath, width: int, height: int, frames: int) -> list[Camera]:
    """`frames` cameras of `recorded` at even times from its first keyframe to its last.

    The path is played back as the viewer plays it (`viewer.camera_path`); one frame is the
    first keyframe.
    """
    start = recorded.keyframes[0].time
    times = np.linspace(start, recorded.duration, frames) if frames > 1 else np.array([start])
    return [
        dataclasses.replace(recorded.camera(float(t), width, height), name=f"path {i}")
        for i, t in enumerate(times)
    ]


def played(recorded: CameraPath, width: int, height: int, fps: float) -> list[Camera]:
    """The cameras of `recorded` played at `fps` frames a second, in real time.

    Frame i is at i / fps seconds from the first keyframe, up to the last keyframe: a path of
    D seconds gives floor(D * fps) + 1 frames.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"the frame rate must be positive, got {fps}")
    start = recorded.keyframes[0].time
    count = played_frames(recorded, fps)
    return [
        dataclasses.replace(recorded.camera(start + i / fps, width, height), name=f"path {i}")
        for i in range(count)
    ]


def played_frames(recorded: CameraPath, fps: float) -> int:
    """How many frames `played` gives: floor(duration * fps) + 1."""
    span = recorded.duration - recorded.keyframes[0].time
    return math.floor(span * fps + 1e-9) + 1


def path_file(path: str | Path, width: int, height: int, frames: int) -> list[Camera]:
    """A camera path recorded in the viewer, sampled at `frames` even times (`sampled`).

    Raises:
        SceneError: when the file is missing or not a camera path with keyframes.
    """
    return sampled(load_path_file(path), width, height, frames)


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
