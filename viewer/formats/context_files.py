"""Scene context files: the training cameras and SfM points shown over a scene.

`load_context` reads what `view --cameras` names: an INRIA cameras.json, a transforms.json, a
COLMAP model (its folder or one of its files), a dataset folder (COLMAP, NeRF-synthetic with
transforms_train/test.json, transforms.json) or an INRIA training output folder (cameras.json
and input.ply); `output_context` reads the training output a scene comes from, where a broken
file only warns. The points come from COLMAP's points3D, a dataset's points3d.ply or a training
output's input.ply; only their positions are kept, the finite ones, at most MAX_POINTS (a
seeded subsample: the same on every load). No image's pixels are read.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats import colmap
from viewer.formats.cameras_json import load_inria_cameras, parse_inria_cameras
from viewer.formats.dataset_cameras import (
    NERF_SPLITS,
    colmap_cameras,
    dataset_kind,
    transforms_cameras,
)
from viewer.formats.points_ply import read_points_ply
from viewer.input_files import read_json
from viewer.scene import GaussianScene

MAX_POINTS = 50_000  # points kept for display (each is drawn every frame)
COLMAP_FILES = frozenset(f"{name}{suffix}" for name in ("cameras", "images", "points3D")
                         for suffix in (".bin", ".txt"))  # fmt: skip
WHAT = "a cameras file (an INRIA cameras.json or a transforms.json)"


@dataclass(frozen=True)
class SceneContext:
    """Training cameras and SfM points ([P, 3] float32, or None) to show with a scene."""

    cameras: tuple[Camera, ...] = ()
    points: np.ndarray | None = None

    def applied(self, scene: GaussianScene) -> GaussianScene:
        """`scene` with these cameras and points instead of its own."""
        return dataclasses.replace(scene, cameras=self.cameras, points=self.points)


def display_points(xyz: np.ndarray) -> np.ndarray:
    """The finite rows of [P, 3] `xyz` as float32, at most MAX_POINTS of them (seeded)."""
    xyz = np.asarray(xyz, dtype=np.float32).reshape(-1, 3)
    xyz = xyz[np.isfinite(xyz).all(axis=1)]
    if len(xyz) > MAX_POINTS:
        keep = np.random.default_rng(0).choice(len(xyz), MAX_POINTS, replace=False)
        xyz = xyz[np.sort(keep)]
    return np.ascontiguousarray(xyz)


def ply_points(path: Path) -> np.ndarray | None:
    """The display points of the point cloud `path` (x, y, z, red, green, blue), None if none.

    Raises:
        SceneError: naming the file, for one that exists and cannot be read.
    """
    if not os.path.lexists(path):  # a special file counts: refused when read
        return None
    return display_points(read_points_ply(path)[0])


def load_context(path: str | Path) -> SceneContext:
    """The cameras and points that the file or folder `path` holds (see the module's text).

    Raises:
        SceneError: naming the file, for a path that holds no cameras or a file that is
            missing, special, malformed or out of range.
    """
    path = Path(path)
    if path.is_dir():
        return _folder_context(path)
    if path.name in COLMAP_FILES:
        return _colmap_context(path.parent, path.suffix)
    data = read_json(path, WHAT)
    if isinstance(data, list):
        return SceneContext(tuple(parse_inria_cameras(data, path)))
    if not isinstance(data, dict) or "frames" not in data:
        raise SceneError(path, f"not {WHAT}: neither a list of cameras nor an object of frames")
    return SceneContext(
        tuple(transforms_cameras(path, data)), ply_points(path.parent / "points3d.ply")
    )


def _colmap_context(model: Path, suffix: str) -> SceneContext:
    cameras, points = colmap_cameras(model, suffix)
    return SceneContext(tuple(cameras), None if points is None else display_points(points))


def _folder_context(root: Path) -> SceneContext:
    """The context of an INRIA training output or a dataset folder."""
    if os.path.lexists(root / "cameras.json"):
        cameras = parse_inria_cameras(read_json(root / "cameras.json", WHAT), root / "cameras.json")
        return SceneContext(tuple(cameras), ply_points(root / "input.ply"))
    kind = dataset_kind(root)
    if kind == "colmap":
        model = colmap.find_model(root)
        assert model is not None
        return _colmap_context(*model)
    if kind is None:
        raise SceneError(
            root,
            "holds no cameras: expected cameras.json (an INRIA training output), "
            "transforms.json, transforms_train.json or a COLMAP model (sparse/0/cameras.bin, "
            "images.bin or their .txt)",
        )
    files = NERF_SPLITS if kind == "nerf-synthetic" else ("transforms.json",)
    cameras = []
    for name in files:
        source = root / name
        if name == files[0] or os.path.lexists(source):
            cameras += transforms_cameras(source, read_json(source, "a JSON file"))
    return SceneContext(tuple(cameras), ply_points(root / "points3d.ply"))


def output_context(root: Path) -> SceneContext:
    """<root>/cameras.json and <root>/input.ply of a training output, those that can be read.

    A file that cannot be read is left out with a warning naming it (the scene still loads).
    """
    cameras: list[Camera] = []
    points = None
    if os.path.lexists(root / "cameras.json"):
        try:
            cameras = load_inria_cameras(root / "cameras.json")
        except SceneError as exc:
            warnings.warn(f"{exc}; loading the scene without cameras", stacklevel=3)
    try:
        points = ply_points(root / "input.ply")
    except SceneError as exc:
        warnings.warn(f"{exc}; loading the scene without its SfM points", stacklevel=3)
    return SceneContext(tuple(cameras), points)
