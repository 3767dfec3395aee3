"""Training datasets' cameras without their pixels: COLMAP models and transforms.json files.

For showing where a dataset's images were taken (frustums over the view): a COLMAP camera of any
model counts as its pinhole part (distortion left out); a transforms.json frame takes its size
from w and h, else from the first image's header. The training reader (viewer.train.datasets)
parses the same files with these readers and checks more (undistorted pinholes, every image).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats import colmap
from viewer.formats.images import image_size
from viewer.formats.transforms import (
    frame_file,
    frame_image,
    frame_intrinsics,
    frame_pose,
    given_size,
    transforms_frames,
)

NERF_SPLITS = ("transforms_train.json", "transforms_test.json")


def dataset_kind(root: Path) -> str | None:
    """A dataset folder's layout: "nerf-synthetic", "transforms", "colmap" or None (none).

    A file in a dataset file's place that is no regular file (a FIFO, a folder) counts: it is
    refused when read.
    """
    if os.path.lexists(root / NERF_SPLITS[0]):
        return "nerf-synthetic"
    if os.path.lexists(root / "transforms.json"):
        return "transforms"
    return "colmap" if colmap.find_model(root) is not None else None


def checked_camera(
    size: tuple[int, int],
    intrinsics: tuple[float, float, float, float],
    w2c: np.ndarray,
    name: str,
    source: Path,
    where: str,
) -> Camera:
    """The camera named `name` that the file `source` describes at `where`.

    Raises:
        SceneError: naming `source` and `where`, for a camera the renderer cannot use.
    """
    try:
        return Camera(size[0], size[1], *intrinsics, world_to_camera=w2c, name=name)
    except ValueError as exc:
        raise SceneError(source, f"{where}: unusable camera ({exc})") from None


def colmap_cameras(model: Path, suffix: str) -> tuple[list[Camera], np.ndarray | None]:
    """The registered images' cameras (sorted by name) and the [P, 3] points of a COLMAP model.

    Raises:
        SceneError: naming the file, for a missing cameras or images file, a malformed file, an
            image whose camera is missing, or a camera or pose out of range.
    """
    cameras, images, points = colmap.read_model(model, suffix)
    cameras_file, images_file = model / f"cameras{suffix}", model / f"images{suffix}"
    out = []
    for image in sorted(images, key=lambda image: image.name):
        camera = colmap.image_camera(image, cameras, images_file)
        intrinsics = camera.intrinsics(cameras_file)
        pose = image.world_to_camera(images_file)
        size = (camera.width, camera.height)
        out.append(checked_camera(size, intrinsics, pose, image.name, images_file, image.name))
    return out, None if points is None else points[0]


def transforms_cameras(source: Path, data: Any) -> list[Camera]:
    """The cameras of `data`'s frames (the parsed transforms.json `source`), named as images.

    Raises:
        SceneError: naming the file (and the frame), for a bad field; naming the first image
            when sizes must come from it and it cannot be read.
    """
    meta, frames = transforms_frames(data, source)
    header: tuple[int, int] | None = None
    cameras = []
    for index, frame in enumerate(frames):
        size = given_size(meta, frame)
        if size is None:
            if header is None:
                header = image_size(frame_image(source.parent, frames[0], 0, source))
            size = header
        intrinsics = frame_intrinsics(meta, frame, index, size, source)
        name = Path(frame_file(frame, index, source)).name
        pose = frame_pose(frame, index, source)
        cameras.append(checked_camera(size, intrinsics, pose, name, source, f"frame {index}"))
    return cameras
