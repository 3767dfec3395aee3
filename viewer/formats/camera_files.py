"""Camera files: one camera as JSON, or an entry of an INRIA cameras.json."""

from __future__ import annotations

import json
from pathlib import Path

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats.cameras_json import parse_inria_cameras


def load_camera_file(path: str | Path, index: int = 0) -> Camera:
    """Read a camera JSON: a single camera dict, or an INRIA cameras.json list (pick `index`).

    Raises:
        SceneError: when the file is missing, not JSON, or not a camera.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SceneError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(path, f"not a JSON camera file ({exc})") from None
    if isinstance(data, list):
        cameras = parse_inria_cameras(data, path)
        if not -len(cameras) <= index < len(cameras):
            raise SceneError(path, f"camera index {index} out of range (file has {len(cameras)})")
        return cameras[index]
    try:
        return Camera.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise SceneError(path, f"not a camera: {exc!r}") from None
