"""A camera pose (position, rotation, field of view), independent of image size."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.rotations import slerp_matrices


@dataclass(frozen=True)
class Pose:
    """Where a camera is and how it is turned.

    Attributes:
        eye: [3] float64 position in world space.
        rotation: [3, 3] float64 camera-to-world rotation; columns are right, down, forward.
        fov_y_degrees: vertical field of view.
    """

    eye: np.ndarray
    rotation: np.ndarray
    fov_y_degrees: float

    def camera(self, width: int, height: int, name: str = "") -> Camera:
        """A centred pinhole camera of this pose for an image of `width` x `height` pixels."""
        focal = height / (2.0 * math.tan(math.radians(self.fov_y_degrees) / 2.0))
        w2c = np.eye(4)
        w2c[:3, :3] = self.rotation.T
        w2c[:3, 3] = -self.rotation.T @ self.eye
        return Camera(width, height, focal, focal, width / 2.0, height / 2.0, w2c, name)

    @classmethod
    def of(cls, camera: Camera) -> Pose:
        """The pose of `camera` (its vertical field of view, its rotation and position)."""
        c2w = camera.camera_to_world
        return cls(c2w[:3, 3].copy(), c2w[:3, :3].copy(), camera.fov_y_degrees)

    def blend(self, other: Pose, t: float) -> Pose:
        """The pose `t` of the way to `other`: positions and FOV linear, rotations slerped."""
        return Pose(
            self.eye + (other.eye - self.eye) * t,
            slerp_matrices(self.rotation, other.rotation, t),
            self.fov_y_degrees + (other.fov_y_degrees - self.fov_y_degrees) * t,
        )
