"""INRIA training output folders: point_cloud/iteration_<N>/point_cloud.ply, cameras.json.

And which scene file a folder argument names (a SOG folder's meta.json comes first).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from viewer.errors import SceneError
from viewer.formats.sog_files import META_NAME as SOG_META
from viewer.formats.sog_meta import LOD_META_NAME

_ITERATION = re.compile(r"iteration_(\d+)")


def latest_point_cloud(root: Path) -> Path:
    """point_cloud/iteration_<highest N>/point_cloud.ply of a training output folder.

    Raises:
        SceneError: when the folder holds no such file.
    """
    iterations = [
        (int(match.group(1)), folder / "point_cloud.ply")
        for folder in (root / "point_cloud").glob("iteration_*")
        if (match := _ITERATION.fullmatch(folder.name))
        and os.path.lexists(folder / "point_cloud.ply")  # a special file: refused when read
    ]
    if not iterations:
        raise SceneError(
            root, "not an INRIA training output: no point_cloud/iteration_<N>/point_cloud.ply"
        )
    return max(iterations)[1]


def scene_file(path: str | None) -> Path | None:
    """The file a scene argument reads (a training output's latest point cloud), None: built in.

    Raises:
        SceneError: for a folder without a point cloud.
    """
    if path is None:
        return None
    return scene_in_folder(Path(path)) if Path(path).is_dir() else Path(path)


def scene_in_folder(root: Path) -> Path:
    """The scene file a folder names: lod-meta.json, meta.json, else the latest point cloud.

    Raises:
        SceneError: for a folder with none of them.
    """
    for name in (LOD_META_NAME, SOG_META):
        if (root / name).is_file():
            return root / name
    return latest_point_cloud(root)


def output_root(ply_path: Path) -> Path | None:
    """<root> when `ply_path` is <root>/point_cloud/iteration_<N>/<name>.ply, else None."""
    iteration = ply_path.absolute().parent
    if not _ITERATION.fullmatch(iteration.name) or iteration.parent.name != "point_cloud":
        return None
    return iteration.parent.parent


def training_cameras(ply_path: Path) -> Path | None:
    """<root>/cameras.json when `ply_path` is <root>/point_cloud/iteration_<N>/<name>.ply."""
    root = output_root(ply_path)
    if root is None:
        return None
    cameras = root / "cameras.json"
    return cameras if os.path.lexists(cameras) else None  # a special file: refused when read


def scene_name(source: str) -> str:
    """A scene's name for people: its file name, or a training output's folder and iteration.

    "bicycle (iteration 30000)" for bicycle/point_cloud/iteration_30000/point_cloud.ply.
    """
    path = Path(source)
    match = _ITERATION.fullmatch(path.parent.name)
    if match and path.parent.parent.name == "point_cloud" and path.parent.parent.parent.name:
        return f"{path.parent.parent.parent.name} (iteration {match[1]})"
    return path.name or source
