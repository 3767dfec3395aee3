"""Default views of a scene: its own cameras, or a framing of its bounds."""

from __future__ import annotations

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
