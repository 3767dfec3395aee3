"""Camera files: one camera as JSON, an entry of an INRIA cameras.json, or a path keyframe.

A path keyframe is one of a viewer camera path file (viewer.camera_path).

Which kind a file is comes from its JSON shape: a list is an INRIA cameras.json, an object with
"keyframes" a camera path file, any other object one camera {width, height, fx, fy, [cx, cy],
world_to_camera}. `index` picks the camera of a list or the keyframe of a path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from viewer.atomic_write import atomic_write_text
from viewer.camera import Camera
from viewer.camera_path import CameraPath
from viewer.errors import SceneError
from viewer.formats.cameras_json import parse_inria_cameras
from viewer.input_files import read_json

CAMERA_FILE_KINDS = (
    "a camera {width, height, fx, fy, [cx, cy], world_to_camera}, an INRIA cameras.json list or "
    "a camera path file {version, keyframes}"
)


def _pick(cameras: list[Camera], index: int | None, what: str, path: Path) -> Camera:
    """cameras[index] (index None: the first), or a SceneError naming the range."""
    if not cameras:
        raise SceneError(path, f"the file holds no {what}s")
    chosen = 0 if index is None else index
    if not -len(cameras) <= chosen < len(cameras):
        raise SceneError(
            path,
            f"--camera-index {chosen} is out of range: the file has {len(cameras)} {what}s "
            f"(0 to {len(cameras) - 1})",
        )
    return cameras[chosen]


def parse_camera_file(data: Any, path: str | Path, index: int | None = None) -> Camera:
    """The camera a parsed camera file's JSON describes (see the module docstring).

    Args:
        data: the file's JSON value.
        path: the file, for error messages.
        index: which camera of a cameras.json or keyframe of a path file (None: the first); a
            single-camera file only has camera 0.

    Raises:
        SceneError: naming `path`, for any other JSON or an unusable camera.
    """
    path = Path(path)
    if isinstance(data, list):
        return _pick(parse_inria_cameras(data, path), index, "camera", path)
    if not isinstance(data, dict):
        raise SceneError(path, f"not a camera file: expected {CAMERA_FILE_KINDS}")
    if "keyframes" in data:
        keyframes = CameraPath.from_json(data, path).keyframes
        return _pick([k.camera for k in keyframes], index, "keyframe", path)
    if index not in (None, 0, -1):
        raise SceneError(path, f"--camera-index {index}: the file holds a single camera (index 0)")
    try:
        return Camera.from_dict(data)
    except ValueError as exc:
        raise SceneError(path, f"not a usable camera: {exc}") from None


def load_camera_file(path: str | Path, index: int | None = None) -> Camera:
    """Read a camera file: a single camera, an INRIA cameras.json or a camera path file.

    Args:
        path: the JSON file.
        index: the camera of a cameras.json or the keyframe of a path file (None: the first).

    Raises:
        SceneError: when the file is missing, not a regular file, not JSON, not one of the
            three kinds, the index is out of range, or the camera is unusable (a size out of
            1..65536, focal lengths not finite and positive, a pose that is not a rotation).
    """
    path = Path(path)
    return parse_camera_file(read_json(path, "a JSON camera file"), path, index)


def save_camera_file(path: str | Path, camera: Camera) -> None:
    """Write `camera` as a single-camera file (what `load_camera_file` reads back), atomically.

    Raises:
        OSError: when the file cannot be written (the old file, if any, is then kept).
    """
    atomic_write_text(path, json.dumps(camera.to_dict(), indent=1) + "\n")
