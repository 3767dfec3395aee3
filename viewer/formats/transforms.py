"""transforms.json files (NeRF-synthetic, instant-ngp, nerfstudio): frames and their cameras.

A JSON object with a list of frames {file_path, transform_matrix (camera-to-world, OpenGL
axes)}; intrinsics fl_x, fl_y, cx, cy, w, h at the top or per frame, else camera_angle_x (and
camera_angle_y). Every field is checked (an error names the file and the frame); images are
only located here, never decoded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from viewer.camera import MAX_IMAGE_SIDE
from viewer.errors import SceneError
from viewer.input_files import read_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")


def read_transforms(path: Path) -> tuple[dict, list]:
    """(the file's object, its frames), every frame's fields checked (`transforms_frames`).

    Raises:
        SceneError: naming the file, for a file that is unreadable or not JSON, and as
            `transforms_frames`.
    """
    return transforms_frames(read_json(path, "a JSON file"), path)


def transforms_frames(data: Any, path: Path) -> tuple[dict, list]:
    """(the parsed file `data`, its frames), every frame's fields checked (`check_frame`).

    Raises:
        SceneError: naming `path`, for `data` that is not an object with a non-empty list of
            frames, or a frame's field out of its range.
    """
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise SceneError(path, "expected a JSON object with a list of 'frames'")
    frames = data["frames"]
    if not frames:
        raise SceneError(path, "lists no frames")
    for index, frame in enumerate(frames):
        check_frame(data, frame, index, path)
    return data, frames


def check_frame(meta: dict, frame: Any, index: int, source: Path) -> None:
    """Raise SceneError naming `source` and the frame for a bad file_path, intrinsic or pose."""
    frame_file(frame, index, source)
    frame_intrinsics(meta, frame, index, None, source)
    frame_pose(frame, index, source)


def frame_file(frame: Any, index: int, source: Path) -> str:
    """A frame's file_path (an image, relative to the file's folder, maybe without suffix)."""
    if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
        raise SceneError(source, f"frame {index} has no file_path")
    return frame["file_path"]


def given_size(meta: dict, frame: dict) -> tuple[int, int] | None:
    """(w, h) of a checked frame when the file gives both (the frame's, else the top's)."""
    width, height = frame.get("w", meta.get("w")), frame.get("h", meta.get("h"))
    return None if width is None or height is None else (int(width), int(height))


def frame_image(root: Path, frame: dict, index: int, source: Path) -> Path:
    """The image file of one frame (file_path with or without its extension).

    A name that exists as something else than a file (a FIFO, a folder, a device) is taken: it
    is refused, naming it, when it is read.
    """
    path = root / frame_file(frame, index, source)
    if path.suffix in IMAGE_SUFFIXES and os.path.lexists(path):
        return path
    for suffix in IMAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if os.path.lexists(candidate):
            return candidate
    if os.path.lexists(path) and not path.is_dir():
        return path  # an image without its suffix
    raise SceneError(source, f"frame {index}: image {frame['file_path']} is missing")


def frame_pose(frame: dict, index: int, source: Path) -> np.ndarray:
    """World-to-camera (OpenCV axes) from a frame's OpenGL camera-to-world transform_matrix."""
    try:
        c2w = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except KeyError:
        raise SceneError(source, f"frame {index} has no transform_matrix") from None
    except (TypeError, ValueError, OverflowError):
        raise SceneError(source, f"frame {index}: transform_matrix is not a matrix") from None
    if c2w.shape == (3, 4):
        c2w = np.vstack([c2w, [0.0, 0.0, 0.0, 1.0]])
    if c2w.shape != (4, 4) or not np.isfinite(c2w).all():
        raise SceneError(source, f"frame {index}: transform_matrix must be a finite 4x4 matrix")
    c2w = c2w.copy()
    c2w[:3, 1:3] *= -1.0  # OpenGL (y up, z back) -> OpenCV (y down, z forward)
    try:
        return np.linalg.inv(c2w)
    except np.linalg.LinAlgError:
        raise SceneError(source, f"frame {index}: transform_matrix is singular") from None


def _shown(value: Any) -> str:
    """A JSON value as an error shows it (at most 40 characters)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def frame_intrinsics(
    meta: dict, frame: dict, index: int, size: tuple[int, int] | None, source: Path
) -> tuple[float, float, float, float]:
    """fx, fy, cx, cy of a frame: fl_x/fl_y/cx/cy (frame, then file) or camera_angle_x/y.

    With `size` None (the images not opened yet) the fields are checked only (zeros returned).

    Raises:
        SceneError: naming `source` (and the frame, for a field of its own), for a field that is
            not a finite number in its range: a focal length or a size not positive, an angle
            outside (0, pi), w and h not whole pixels, or not in the images' aspect.
    """
    width, height = size or (0, 0)

    def field(name: str, low: float = -math.inf, high: float = math.inf) -> float | None:
        value = frame.get(name, meta.get(name))
        if value is None:
            return None
        where = f"frame {index}: " if name in frame else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SceneError(source, f"{where}{name} must be a number, got {_shown(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = math.inf
        if not math.isfinite(number):
            raise SceneError(source, f"{where}{name} must be finite, got {_shown(value)}")
        if not low < number < high:
            raise SceneError(
                source, f"{where}{name} must be between {low:g} and {high:g}, got {number:g}"
            )
        return number

    for name in ("k1", "k2", "k3", "k4", "p1", "p2"):
        value = field(name)
        if value:
            raise SceneError(
                source, f"the cameras have distortion ({name} = {value:g}): undistort the images"
            )
    given_w, given_h = field("w", 0.0, MAX_IMAGE_SIDE + 1), field("h", 0.0, MAX_IMAGE_SIDE + 1)
    for name, given in (("w", given_w), ("h", given_h)):
        if given is not None and (given < 1 or given != int(given)):
            raise SceneError(source, f"{name} must be a whole number of pixels, got {given:g}")
    fx, fy = field("fl_x", 0.0), field("fl_y", 0.0)
    angle, angle_y = field("camera_angle_x", 0.0, math.pi), field("camera_angle_y", 0.0, math.pi)
    cx, cy = field("cx"), field("cy")
    if fx is None and angle is None:
        raise SceneError(source, "the cameras have neither fl_x nor camera_angle_x")
    if size is None:
        return 0.0, 0.0, 0.0, 0.0
    scale = width / given_w if given_w else 1.0  # images stored smaller than the intrinsics
    if given_h and abs(height / given_h - scale) > 0.01 * scale:
        raise SceneError(
            source,
            f"w x h is {given_w or width:g}x{given_h:g} but the images are {width}x{height}: "
            "not the same image scaled",
        )
    if fx is None:
        assert angle is not None
        fx = 0.5 * width / math.tan(0.5 * angle) / scale
    if fy is None:
        fy = fx if angle_y is None else 0.5 * height / math.tan(0.5 * angle_y) / scale
    cx = width / 2.0 / scale if cx is None else cx
    cy = height / 2.0 / scale if cy is None else cy
    return fx * scale, fy * scale, cx * scale, cy * scale
