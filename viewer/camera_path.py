"""Camera paths: timed keyframes, smooth playback, and the JSON path file (no GL, no UI).

File format (docs/camera_paths.md), also read by the benchmark:
    {"version": 1, "keyframes": [{"time": seconds, "camera": {width, height, fx, fy, cx, cy,
    world_to_camera}}, ...]}
Playback passes through every keyframe: position, rotation (as a sign-aligned quaternion) and
field of view follow one cubic Hermite spline with Catmull-Rom tangents, so speed and turning
change smoothly across keyframes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewer.atomic_write import atomic_write_text
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.input_files import read_json
from viewer.pose import Pose
from viewer.rotations import matrix_from_quaternion, quaternion_from_matrix

PATH_FILE_VERSION = 1


@dataclass(frozen=True)
class Keyframe:
    """A camera at a time (seconds from the start of the path)."""

    time: float
    camera: Camera


@dataclass(frozen=True)
class CameraPath:
    """Keyframes in non-decreasing time order."""

    keyframes: tuple[Keyframe, ...] = ()

    def __post_init__(self) -> None:
        times = np.array([k.time for k in self.keyframes], dtype=np.float64)
        if not (np.isfinite(times).all() and (np.diff(times) >= 0).all()):
            raise ValueError("keyframe times must be finite and non-decreasing")

    @property
    def duration(self) -> float:
        """Time of the last keyframe (0 for fewer than two keyframes starting at 0)."""
        return self.keyframes[-1].time if self.keyframes else 0.0

    def appended(self, camera: Camera, step: float) -> CameraPath:
        """This path with `camera` added `step` seconds after the last keyframe (first at 0)."""
        time = self.duration + step if self.keyframes else 0.0
        return CameraPath((*self.keyframes, Keyframe(time, camera)))

    def pose(self, time: float) -> Pose:
        """The interpolated pose at `time` (clamped to the path's time span).

        Raises:
            ValueError: when the path has no keyframes.
        """
        if not self.keyframes:
            raise ValueError("the camera path has no keyframes")
        times = np.array([k.time for k in self.keyframes])
        points = _key_vectors([k.camera for k in self.keyframes])
        return _pose_from_vector(_hermite(times, points, float(time)))

    def camera(self, time: float, width: int, height: int) -> Camera:
        """The camera at `time` for an image of `width` x `height` pixels."""
        return self.pose(time).camera(width, height)

    def to_json(self) -> dict[str, Any]:
        """The path file's JSON object."""
        return {
            "version": PATH_FILE_VERSION,
            "keyframes": [{"time": k.time, "camera": k.camera.to_dict()} for k in self.keyframes],
        }

    @classmethod
    def from_json(cls, data: Any, source: str | Path = "<json>") -> CameraPath:
        """The path of a path file's JSON object.

        Raises:
            SceneError: naming `source`, when `data` is not a version-1 camera path.
        """
        if not isinstance(data, dict) or data.get("version") != PATH_FILE_VERSION:
            raise SceneError(source, f"not a camera path file of version {PATH_FILE_VERSION}")
        try:
            keyframes = tuple(
                Keyframe(float(k["time"]), Camera.from_dict(k["camera"])) for k in data["keyframes"]
            )
            return cls(keyframes)
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SceneError(source, f"bad keyframe: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write the path file."""
        atomic_write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path, *, remember: bool = True) -> CameraPath:
        """Read a path file (`remember`: count it among the inputs no output may replace).

        Raises:
            SceneError: when the file is missing, not JSON or not a camera path.
        """
        return cls.from_json(read_json(path, "a JSON camera path", remember=remember), path)


def _key_vectors(cameras: list[Camera]) -> np.ndarray:
    """[K, 8] float64 rows (eye xyz, quaternion wxyz, vertical FOV), quaternions sign-aligned.

    q and -q are the same rotation; each is flipped to the sign nearer the previous one so the
    spline takes the short way between keyframes.
    """
    rows: list[np.ndarray] = []
    for camera in cameras:
        pose = Pose.of(camera)
        q = quaternion_from_matrix(pose.rotation)
        if rows and q @ rows[-1][3:7] < 0:
            q = -q
        rows.append(np.concatenate([pose.eye, q, [pose.fov_y_degrees]]))
    return np.array(rows)


def _pose_from_vector(row: np.ndarray) -> Pose:
    return Pose(row[:3].copy(), matrix_from_quaternion(row[3:7]), float(row[7]))


def _hermite(times: np.ndarray, points: np.ndarray, t: float) -> np.ndarray:
    """The Catmull-Rom cubic through `points` [K, D] at `times` [K], evaluated at `t`."""
    if len(times) == 1:
        return points[0]
    t = min(max(t, times[0]), times[-1])
    j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
    span = times[j + 1] - times[j]
    if span <= 0.0:  # keyframes at the same time: the later one wins
        return points[j + 1]
    s = (t - times[j]) / span
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    m0, m1 = _tangent(times, points, j), _tangent(times, points, j + 1)
    return h00 * points[j] + h10 * span * m0 + h01 * points[j + 1] + h11 * span * m1


def _tangent(times: np.ndarray, points: np.ndarray, i: int) -> np.ndarray:
    """Catmull-Rom velocity at keyframe i (one-sided at the ends, zero across zero time)."""
    lo, hi = max(i - 1, 0), min(i + 1, len(times) - 1)
    dt = times[hi] - times[lo]
    return (points[hi] - points[lo]) / dt if dt > 0 else np.zeros_like(points[i])
