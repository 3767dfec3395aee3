"""Pinhole cameras in OpenCV axes (x right, y down, z forward), world-to-camera 4x4."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_IMAGE_SIDE = 65536  # pixels: a camera's width and height are 1 to this (GL limits are lower)
ROTATION_TOLERANCE = 1e-3  # largest |R R^T - I| entry of an accepted rotation (rounded files)
# Focal lengths and the principal point, in image sides (fx over the width, fy over the height):
# fields of view from 0.0006 to 179.9 degrees, and float32 pixel arithmetic that stays finite.
MIN_FOCAL_RATIO, MAX_FOCAL_RATIO = 1e-3, 1e5


def _number_text(value: Any) -> str:
    """`value` for a message: %g for a float, an integer of hundreds of digits shortened."""
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    digits = str(value)
    return digits if len(digits) <= 20 else f"{digits[:6]}...({len(digits)} digits)"


def _pixels(name: str, value: Any) -> int:
    """`value` as a whole number of pixels in 1..MAX_IMAGE_SIDE.

    Raises:
        ValueError: naming the field, for a fraction, a non-number or a size out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number of pixels, got {value!r}")
    if not 1 <= value <= MAX_IMAGE_SIDE:  # also False for NaN
        raise ValueError(f"{name} must be 1 to {MAX_IMAGE_SIDE} pixels, got {_number_text(value)}")
    if value != int(value):
        raise ValueError(f"{name} must be a whole number of pixels, got {value!r}")
    return int(value)


def check_camera_fields(
    width: Any, height: Any, intrinsics: tuple[Any, Any, Any, Any], world_to_camera: Any
) -> tuple[int, int, tuple[float, float, float, float], np.ndarray]:
    """Validated camera fields: sizes as ints, intrinsics as floats, the pose as float64 4x4.

    A usable camera has a size of 1 to MAX_IMAGE_SIDE whole pixels each way, focal lengths of
    MIN_FOCAL_RATIO to MAX_FOCAL_RATIO image sides, a principal point within MAX_FOCAL_RATIO
    image sides of the image and a rigid world-to-camera transform: finite, an
    orthonormal rotation block with determinant +1 (a proper rotation, no mirror, no scale) and
    a last row of 0 0 0 1.

    Args:
        width: image width in pixels, a whole number 1 to MAX_IMAGE_SIDE.
        height: image height in pixels, a whole number 1 to MAX_IMAGE_SIDE.
        intrinsics: fx, fy, cx, cy in pixels.
        world_to_camera: [4, 4] transform.

    Raises:
        ValueError: naming the first field that is not usable.
    """
    width, height = _pixels("width", width), _pixels("height", height)
    values = []
    for name, value in zip(("fx", "fy", "cx", "cy"), intrinsics, strict=True):
        if isinstance(value, (str, bytes, bool)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {number}")
        if name in ("fx", "fy") and number <= 0.0:
            raise ValueError(f"focal length {name} must be positive, got {number:g}")
        side = width if name in ("fx", "cx") else height
        if name in ("fx", "fy") and not MIN_FOCAL_RATIO <= number / side <= MAX_FOCAL_RATIO:
            raise ValueError(
                f"focal length {name} must be {MIN_FOCAL_RATIO:g} to {MAX_FOCAL_RATIO:g} times the "
                f"image's {'width' if name == 'fx' else 'height'} ({side}), got {number:g}"
            )
        if name in ("cx", "cy") and abs(number) > MAX_FOCAL_RATIO * side:
            raise ValueError(
                f"{name} must be within {MAX_FOCAL_RATIO:g} times the image's "
                f"{'width' if name == 'cx' else 'height'} ({side}), got {number:g}"
            )
        values.append(number)
    try:
        w2c = np.array(world_to_camera, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("world_to_camera must be a 4x4 matrix of numbers") from None
    if w2c.shape != (4, 4):
        raise ValueError(f"world_to_camera must be a 4x4 matrix, got shape {w2c.shape}")
    if not np.isfinite(w2c).all():
        raise ValueError("world_to_camera must hold finite numbers only")
    if np.abs(w2c[3] - (0.0, 0.0, 0.0, 1.0)).max() > 1e-9:
        raise ValueError(f"world_to_camera's last row must be 0 0 0 1, got {w2c[3].tolist()}")
    rotation = w2c[:3, :3]
    error = float(np.abs(rotation @ rotation.T - np.eye(3)).max())
    if error > ROTATION_TOLERANCE:
        raise ValueError(
            f"world_to_camera's rotation block is not orthonormal (R R^T differs from I by "
            f"{error:.3g}): a camera pose has no scale, shear or singular rotation"
        )
    if np.linalg.det(rotation) < 0.0:
        raise ValueError("world_to_camera's rotation block is a mirror (determinant -1)")
    return width, height, (values[0], values[1], values[2], values[3]), w2c


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
        """Check and normalise the fields (see `check_camera_fields`).

        Raises:
            ValueError: naming the field, for a camera the renderer cannot use.
        """
        width, height, intrinsics, w2c = check_camera_fields(
            self.width, self.height, (self.fx, self.fy, self.cx, self.cy), self.world_to_camera
        )
        for name, value in zip(("fx", "fy", "cx", "cy"), intrinsics, strict=True):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)
        object.__setattr__(self, "world_to_camera", w2c)

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
        """Tan of half the horizontal and vertical field of view."""
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
        eye: npt.ArrayLike,
        target: npt.ArrayLike,
        up: npt.ArrayLike = (0.0, 0.0, 1.0),
        width: int = 1280,
        height: int = 720,
        fov_y_degrees: float = 50.0,
        name: str = "",
    ) -> Camera:
        """A camera at `eye` looking at `target`, with `up` pointing up on screen."""
        position = np.asarray(eye, dtype=np.float64)
        forward = np.asarray(target, dtype=np.float64) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(up, dtype=np.float64))
        if np.linalg.norm(right) < 1e-9:  # looking along `up`: pick any perpendicular
            right = np.cross(forward, [1.0, 0.0, 0.0] if abs(forward[0]) < 0.9 else [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        w2c = np.eye(4)
        w2c[:3, :3] = np.stack([right, down, forward])
        w2c[:3, 3] = -w2c[:3, :3] @ position
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
    def from_dict(cls, data: Any, name: str = "") -> Camera:
        """Camera from {width, height, fx, fy, [cx, cy], world_to_camera}; cx, cy default to mid.

        Raises:
            ValueError: naming the missing or unusable field (see `check_camera_fields`).
        """
        if not isinstance(data, dict):
            raise ValueError(f"a camera must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("width", "height", "fx", "fy", "world_to_camera") if k not in data]
        if missing:
            raise ValueError(f"the camera has no {', '.join(repr(k) for k in missing)}")
        width, height = _pixels("width", data["width"]), _pixels("height", data["height"])
        return cls(
            width,
            height,
            data["fx"],
            data["fy"],
            data.get("cx", width / 2.0),
            data.get("cy", height / 2.0),
            data["world_to_camera"],
            name or str(data.get("name", "")),
        )
