"""Camera paths for the bench: an orbit or a spiral around the scene, its own views, or a file.

Every path is a pure function of its inputs (no random numbers), so runs are reproducible.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.framing import frame_bounds, guess_up_axis
from viewer.scene import GaussianScene

PATH_KINDS = ("orbit", "spiral", "cameras")
SPIRAL_TURNS = 2.0
SPIRAL_ELEVATION_DEGREES = (60.0, 5.0)  # from, to
SPIRAL_DISTANCE_SCALE = (1.4, 0.8)  # from, to; times the framing distance
PATH_FILE_VERSION = 1
T = TypeVar("T", float, np.ndarray)


@dataclass(frozen=True)
class Ring:
    """Cameras on a sphere around a centre, all looking at it with `up` up on screen.

    Attributes:
        center: [3] float64 point looked at.
        up: [3] float64 unit world up.
        start: [3] float64 unit horizontal direction (perpendicular to up) at azimuth 0.
        distance: distance from the centre at scale 1.
        elevation: elevation of the framing view (radians).
        fov_y_degrees: vertical field of view.
    """

    center: np.ndarray
    up: np.ndarray
    start: np.ndarray
    distance: float
    elevation: float
    fov_y_degrees: float

    @classmethod
    def framing(cls, scene: GaussianScene, width: int, height: int) -> Ring:
        """The ring through the default framing of the scene's robust bounds."""
        lo, hi = scene.robust_bounds()
        up = guess_up_axis(scene)
        view = frame_bounds(lo, hi, up, width, height)
        center = (lo.astype(np.float64) + hi.astype(np.float64)) / 2.0
        offset = view.position - center
        rise = float(offset @ up)
        horizontal = offset - rise * up
        across = float(np.linalg.norm(horizontal))
        return cls(
            center=center,
            up=up,
            start=horizontal / across,
            distance=float(np.linalg.norm(offset)),
            elevation=math.atan2(rise, across),
            fov_y_degrees=view.fov_y_degrees,
        )

    def camera(
        self,
        azimuth: float,
        elevation: float,
        scale: float,
        width: int,
        height: int,
        name: str = "",
    ) -> Camera:
        """The camera at `azimuth` (radians about `up`), `elevation`, `scale` times the distance."""
        k = self.up
        # Rodrigues rotation of `start` about `up` (start is perpendicular to up)
        horizontal = self.start * math.cos(azimuth) + np.cross(k, self.start) * math.sin(azimuth)
        direction = horizontal * math.cos(elevation) + k * math.sin(elevation)
        eye = self.center + direction * self.distance * scale
        return Camera.look_at(eye, self.center, k, width, height, self.fov_y_degrees, name)


def orbit(scene: GaussianScene, width: int, height: int, frames: int) -> list[Camera]:
    """One turn around the scene at the default framing's distance and elevation."""
    ring = Ring.framing(scene, width, height)
    return [
        ring.camera(2.0 * math.pi * i / frames, ring.elevation, 1.0, width, height, f"orbit {i}")
        for i in range(frames)
    ]


def spiral(scene: GaussianScene, width: int, height: int, frames: int) -> list[Camera]:
    """SPIRAL_TURNS turns descending from high and far to low and close, looking at the centre."""
    ring = Ring.framing(scene, width, height)
    cameras = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        elevation = math.radians(_lerp(*SPIRAL_ELEVATION_DEGREES, t))
        scale = _lerp(*SPIRAL_DISTANCE_SCALE, t)
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

    The file is {"version": 1, "keyframes": [{"time": s, "camera": {width, height, fx, fy, cx,
    cy, world_to_camera}}]}. Between keyframes positions and intrinsics are interpolated linearly
    and rotations by the nearest rotation to the blended matrices.

    Raises:
        SceneError: when the file is missing or not such a path.
    """
    times, keys = _read_keyframes(Path(path))
    keys = [key.resized(width, height) for key in keys]
    cameras = []
    for i, t in enumerate(np.linspace(times[0], times[-1], frames)):
        j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(keys) - 2))
        span = times[j + 1] - times[j] if len(keys) > 1 else 0.0
        weight = float(np.clip((t - times[j]) / span, 0.0, 1.0)) if span > 0 else 0.0
        cameras.append(_blend(keys[j], keys[min(j + 1, len(keys) - 1)], weight, f"path {i}"))
    return cameras


def camera_path(
    kind: str, scene: GaussianScene, width: int, height: int, frames: int
) -> list[Camera]:
    """The path named `kind` (one of PATH_KINDS) or read from the file `kind`.

    Raises:
        ValueError: when `frames` is not positive.
        SceneError: when the scene has no cameras (kind "cameras") or the file is unusable.
    """
    if frames < 1:
        raise ValueError(f"a camera path needs at least one frame, got {frames}")
    makers = {"orbit": orbit, "spiral": spiral, "cameras": scene_cameras}
    if kind in makers:
        return makers[kind](scene, width, height, frames)
    return path_file(kind, width, height, frames)


def _read_keyframes(path: Path) -> tuple[np.ndarray, list[Camera]]:
    """([K] float64 non-decreasing times, K cameras) of a camera path file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SceneError(
            path, f"no such file (use {', '.join(PATH_KINDS)} or a path file)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(path, f"not a JSON camera path ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != PATH_FILE_VERSION:
        raise SceneError(path, f"not a camera path file of version {PATH_FILE_VERSION}")
    try:
        keyframes = data["keyframes"]
        times = np.array([float(k["time"]) for k in keyframes], dtype=np.float64)
        cameras = [Camera.from_dict(k["camera"]) for k in keyframes]
    except (KeyError, TypeError, ValueError) as exc:
        raise SceneError(path, f"bad keyframe: {exc!r}") from None
    if not cameras:
        raise SceneError(path, "the camera path has no keyframes")
    if not (np.isfinite(times).all() and (np.diff(times) >= 0).all()):
        raise SceneError(path, "keyframe times must be finite and non-decreasing")
    return times, cameras


def _blend(a: Camera, b: Camera, weight: float, name: str) -> Camera:
    """The camera `weight` of the way from `a` to `b` (same image size)."""
    rotation = _nearest_rotation(
        _lerp(a.world_to_camera[:3, :3], b.world_to_camera[:3, :3], weight)
    )
    position = _lerp(a.position, b.position, weight)
    w2c = np.eye(4)
    w2c[:3, :3] = rotation
    w2c[:3, 3] = -rotation @ position
    return Camera(
        a.width,
        a.height,
        _lerp(a.fx, b.fx, weight),
        _lerp(a.fy, b.fy, weight),
        _lerp(a.cx, b.cx, weight),
        _lerp(a.cy, b.cy, weight),
        w2c,
        name,
    )


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    """[3, 3] float64 rotation closest to `matrix` in the Frobenius norm (polar decomposition)."""
    u, _, vt = np.linalg.svd(matrix)
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] = -u[:, -1]
    return u @ vt


def _lerp(a: T, b: T, t: float) -> T:
    """a + (b - a) t, for floats and arrays."""
    return a + (b - a) * t
