"""INRIA training-output cameras.json, in OpenCV camera axes.

A list of {id, img_name, width, height, position, rotation (3x3 camera-to-world), fx, fy}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.input_files import read_json


def _camera(entry: dict[str, Any], index: int, path: str | Path) -> Camera:
    """One cameras.json entry as a Camera (principal point at the image centre)."""
    try:
        rotation = np.asarray(entry["rotation"], dtype=np.float64)
        position = np.asarray(entry["position"], dtype=np.float64)
        if rotation.shape != (3, 3) or position.shape != (3,):
            raise ValueError(f"rotation {rotation.shape} and position {position.shape} sizes")
        camera_to_world = np.eye(4)
        camera_to_world[:3, :3] = rotation
        camera_to_world[:3, 3] = position
        width, height = int(entry["width"]), int(entry["height"])
        return Camera(
            width,
            height,
            float(entry["fx"]),
            float(entry["fy"]),
            width / 2.0,
            height / 2.0,
            np.linalg.inv(camera_to_world),
            str(entry.get("img_name", index)),
        )
    except KeyError as exc:
        raise SceneError(path, f"camera {index} has no {exc}") from None
    except (TypeError, ValueError, OverflowError, np.linalg.LinAlgError) as exc:
        raise SceneError(path, f"camera {index} is malformed ({exc})") from None


def parse_inria_cameras(data: list, path: str | Path) -> list[Camera]:
    """Cameras of a parsed INRIA cameras.json, in file order, named after their images.

    Raises:
        SceneError: when `data` is not a list of well-formed camera entries.
    """
    if not isinstance(data, list):
        raise SceneError(path, f"expected a JSON list of cameras, got {type(data).__name__}")
    return [_camera(entry, index, path) for index, entry in enumerate(data)]


def load_inria_cameras(path: str | Path) -> list[Camera]:
    """Read an INRIA cameras.json.

    Raises:
        SceneError: when the file is missing, not JSON, or not a list of cameras.
    """
    return parse_inria_cameras(read_json(path, "a JSON file"), path)


def inria_camera_entries(cameras: list[Camera]) -> list[dict[str, Any]]:
    """Cameras as INRIA cameras.json entries (id, img_name, size, position, rotation, fx, fy).

    The principal point is not stored: INRIA readers put it at the image centre.
    """
    entries = []
    for index, camera in enumerate(cameras):
        camera_to_world = camera.camera_to_world
        entries.append(
            {
                "id": index,
                "img_name": Path(camera.name).stem if camera.name else str(index),
                "width": camera.width,
                "height": camera.height,
                "position": camera_to_world[:3, 3].tolist(),
                "rotation": camera_to_world[:3, :3].tolist(),
                "fx": camera.fx,
                "fy": camera.fy,
            }
        )
    return entries


def write_inria_cameras(path: str | Path, cameras: list[Camera]) -> None:
    """Write an INRIA cameras.json of `cameras`, atomically.

    Raises:
        SceneError: when the file cannot be written.
    """
    from viewer.formats.files import write_file

    text = json.dumps(inria_camera_entries(cameras), indent=1).encode()
    write_file(Path(path), lambda file: file.write(text))
