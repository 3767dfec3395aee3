"""Default views of a scene: its own cameras, a framing of its bounds, rings of views around it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.scene import GaussianScene


def guess_up_axis(scene: GaussianScene) -> np.ndarray:
    """[3] float64 world up: from the training cameras (their -y axis, averaged), else +Z."""
    if scene.cameras:
        ups = np.array([-c.camera_to_world[:3, 1] for c in scene.cameras])
        up = ups.mean(axis=0)
        if np.linalg.norm(up) > 1e-6:
            axis = int(np.argmax(np.abs(up)))
            snapped = np.zeros(3)
            snapped[axis] = np.sign(up[axis])
            return snapped
    return np.array([0.0, 0.0, 1.0])


def frame_bounds(
    lo: np.ndarray,
    hi: np.ndarray,
    up: np.ndarray,
    width: int = 1280,
    height: int = 720,
    fov_y_degrees: float = 50.0,
) -> Camera:
    """A camera looking at the box [lo, hi] from above and in front, the whole box in view."""
    center = (np.asarray(lo, np.float64) + np.asarray(hi, np.float64)) / 2.0
    radius = max(float(np.linalg.norm(np.asarray(hi) - np.asarray(lo))) / 2.0, 1e-6)
    up = np.asarray(up, np.float64)
    side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    direction = side / np.linalg.norm(side) + 0.6 * up
    direction /= np.linalg.norm(direction)
    half_fov = np.radians(fov_y_degrees) / 2.0 * min(1.0, width / height)
    distance = radius / np.sin(half_fov)
    return Camera.look_at(center + direction * distance, center, up, width, height, fov_y_degrees)


def default_camera(scene: GaussianScene, width: int = 1280, height: int = 720) -> Camera:
    """The scene's first training camera (resized), else a framing of its central 98%."""
    if scene.cameras:
        first = scene.cameras[0]
        return first.resized(width, round(width * first.height / first.width))
    lo, hi = scene.robust_bounds()
    return frame_bounds(lo, hi, guess_up_axis(scene), width, height)


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
