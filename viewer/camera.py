"""Pinhole cameras in OpenCV axes (x right, y down, z forward), world-to-camera 4x4."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera; pixel (i, j) has its centre at (i + 0.5, j + 0.5).

    Attributes:
        width, height: image size in pixels.
        fx, fy: focal lengths in pixels.
        cx, cy: principal point in pixels.
        world_to_camera: [4, 4] float64 rigid transform into OpenCV camera axes.
        name: label shown in the UI (e.g. the training image name).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = ""

    def __post_init__(self) -> None:
        w2c = np.asarray(self.world_to_camera, dtype=np.float64)
        if w2c.shape != (4, 4) or not np.isfinite(w2c).all():
            raise ValueError(f"world_to_camera must be a finite 4x4 matrix, got {w2c.shape}")
        object.__setattr__(self, "world_to_camera", w2c)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx} fy={self.fy}")

    @property
    def camera_to_world(self) -> np.ndarray:
        """[4, 4] float64 inverse of world_to_camera."""
        return np.linalg.inv(self.world_to_camera)

    @property
    def position(self) -> np.ndarray:
        """[3] float64 camera centre in world space."""
        return self.camera_to_world[:3, 3]

    @property
    def tan_half_fov(self) -> tuple[float, float]:
        """tan of half the horizontal and vertical field of view."""
        return self.width / (2.0 * self.fx), self.height / (2.0 * self.fy)

    @property
    def fov_y_degrees(self) -> float:
        """Vertical field of view in degrees."""
        return math.degrees(2.0 * math.atan(self.tan_half_fov[1]))

    def unproject(self, x: float, y: float, depth: float) -> np.ndarray:
        """[3] float64 world point at camera z `depth` seen at pixel coordinates (x, y)."""
        ray = np.array([(x - self.cx) / self.fx, (y - self.cy) / self.fy, 1.0])
        return self.camera_to_world[:3, :3] @ (ray * depth) + self.position

    def resized(self, width: int, height: int) -> Camera:
        """The same view at another resolution, keeping the vertical field of view."""
        scale = height / self.height
        return dataclasses.replace(
            self,
            width=width,
            height=height,
            fx=self.fx * scale,
            fy=self.fy * scale,
            cx=self.cx * width / self.width,
            cy=self.cy * scale,
        )

    @classmethod
    def look_at(
        cls,
        eye: np.ndarray,
        target: np.ndarray,
        up: np.ndarray = (0.0, 0.0, 1.0),
        width: int = 1280,
        height: int = 720,
        fov_y_degrees: float = 50.0,
        name: str = "",
    ) -> Camera:
        """A camera at `eye` looking at `target`, with `up` pointing up on screen."""
        eye = np.asarray(eye, dtype=np.float64)
        forward = np.asarray(target, dtype=np.float64) - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(up, dtype=np.float64))
        if np.linalg.norm(right) < 1e-9:  # looking along `up`: pick any perpendicular
            right = np.cross(forward, [1.0, 0.0, 0.0] if abs(forward[0]) < 0.9 else [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        w2c = np.eye(4)
        w2c[:3, :3] = np.stack([right, down, forward])
        w2c[:3, 3] = -w2c[:3, :3] @ eye
        f = height / (2.0 * math.tan(math.radians(fov_y_degrees) / 2.0))
        return cls(width, height, f, f, width / 2.0, height / 2.0, w2c, name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form read by `from_dict` (the reference renderer's camera file)."""
        return {
            "width": self.width,
            "height": self.height,
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "world_to_camera": self.world_to_camera.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str = "") -> Camera:
        """Camera from {width, height, fx, fy, [cx, cy], world_to_camera}; cx, cy default to mid."""
        width, height = int(data["width"]), int(data["height"])
        return cls(
            width,
            height,
            float(data["fx"]),
            float(data["fy"]),
            float(data.get("cx", width / 2.0)),
            float(data.get("cy", height / 2.0)),
            np.asarray(data["world_to_camera"], dtype=np.float64),
            name or str(data.get("name", "")),
        )
