"""Training datasets: INRIA/COLMAP folders and NeRF-synthetic (transforms) folders.

    COLMAP          DATA/images/*, DATA/sparse/0/{cameras,images,points3D}.{bin,txt} (sparse/ or
                    the folder itself also hold the model); pinhole cameras, or OPENCV and the
                    radial models with all distortion coefficients zero (undistorted).
    NeRF-synthetic  DATA/transforms_train.json (+ transforms_test.json): camera_angle_x and frames
                    {file_path without or with extension, transform_matrix camera-to-world in
                    OpenGL axes}; optional DATA/points3d.ply (x, y, z, red, green, blue) to start
                    from, as the original 3DGS code writes it.
    transforms.json one file of frames (instant-ngp / nerfstudio style; fl_x, fl_y, cx, cy, w, h
                    at the top or per frame are honoured, else camera_angle_x).

Held-out views: the test split where the dataset has one, else every `test_every`-th image by
name (the LLFF convention of the 3DGS evaluation). Opening a dataset checks everything a
training run needs before any work: the files exist and are regular files (read through
viewer.input_files), every camera field is a number in its range (an error names the JSON file
or the COLMAP file and the frame or camera), the camera models are pinholes, every image has one
size (a run trains at one resolution) that PIL opens without a decompression-bomb alarm, the
images fit in memory together, the starting points are finite. So a bad dataset ends with one
line naming the file; an image whose pixels turn out unreadable when the run loads them
(truncated) is one line naming it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats import colmap
from viewer.formats.dataset_cameras import NERF_SPLITS, checked_camera, dataset_kind
from viewer.formats.images import opened_image
from viewer.formats.limits import available_memory, gigabytes
from viewer.formats.points_ply import read_points_ply
from viewer.formats.transforms import frame_image, frame_intrinsics, frame_pose, read_transforms


@dataclass(frozen=True)
class View:
    """One training or test image and the camera that saw it (named after the image)."""

    camera: Camera
    image: Path


@dataclass(frozen=True)
class Dataset:
    """A dataset's views and starting points.

    Attributes:
        source: the dataset folder.
        kind: "colmap", "nerf-synthetic" or "transforms".
        train: the views trained on. test: the held-out views (possibly none).
        points: ([P, 3] float32 positions, [P, 3] uint8 colours) to start from, or None.
        has_alpha: whether the images have an alpha channel (composited on the background).
        size: (width, height) of every image.
    """

    source: Path
    kind: str
    train: tuple[View, ...]
    test: tuple[View, ...]
    points: tuple[np.ndarray, np.ndarray] | None
    has_alpha: bool
    size: tuple[int, int]

    @property
    def cameras(self) -> list[Camera]:
        """Every camera, train then test (as INRIA's cameras.json lists them)."""
        return [view.camera for view in (*self.train, *self.test)]


def open_dataset(folder: str | Path, test_every: int = 8) -> Dataset:
    """Read a dataset's cameras and check its images (sizes only; pixels are read later).

    Raises:
        SceneError: naming the file, for a folder that is no dataset, a missing image or camera
            file, an unknown or distorted camera model, images of mixed sizes, bad JSON.
    """
    root = Path(folder)
    if not root.is_dir():
        problem = "no such folder" if not root.exists() else "is not a folder"
        raise SceneError(root, f"{problem}; a dataset is a COLMAP or NeRF-synthetic folder")
    kind = dataset_kind(root)
    if kind == "nerf-synthetic":
        return _nerf_synthetic(root, test_every)
    if kind == "transforms":
        return _transforms(root, test_every)
    model = colmap.find_model(root)
    if model is not None:
        return _colmap(root, *model, test_every)
    raise SceneError(
        root,
        "not a dataset: no transforms_train.json or transforms.json (NeRF-synthetic) and no "
        "COLMAP model (sparse/0/cameras.bin, images.bin or their .txt)",
    )


# -- COLMAP ------------------------------------------------------------------------------------


def _colmap(root: Path, model: Path, suffix: str, test_every: int) -> Dataset:
    cameras, images, read_points = colmap.read_model(model, suffix)
    points_file = model / f"points3D{suffix}"
    points = None if read_points is None else _checked_points(points_file, *read_points)
    image_folder = root / "images"
    if not image_folder.is_dir():
        raise SceneError(root, "COLMAP dataset without an images/ folder")
    if not images:
        raise SceneError(model / f"images{suffix}", "lists no registered images")
    images = sorted(images, key=lambda image: image.name)
    cameras_file, images_file = model / f"cameras{suffix}", model / f"images{suffix}"
    for image in images:
        colmap.image_camera(image, cameras, images_file).pinhole(cameras_file)  # checked first
    paths = [image_folder / image.name for image in images]
    size, has_alpha = _image_sizes(paths, images_file)
    views = []
    for image, path in zip(images, paths, strict=True):
        cam = cameras[image.camera_id]
        fx, fy, cx, cy = cam.pinhole(cameras_file)
        sx, sy = size[0] / cam.width, size[1] / cam.height
        if abs(sx - sy) > 0.01 * max(sx, sy):
            raise SceneError(
                path,
                f"is {size[0]}x{size[1]} but its camera {cam.camera_id} is {cam.width}x"
                f"{cam.height}: not the same image scaled",
            )
        pose = image.world_to_camera(images_file)
        intrinsics = (fx * sx, fy * sy, cx * sx, cy * sy)
        camera = checked_camera(size, intrinsics, pose, path.name, images_file, image.name)
        views.append(View(camera, path))
    train, test = _split(views, test_every)
    return Dataset(root, "colmap", train, test, points, has_alpha, size)


# -- NeRF-synthetic and transforms.json ----------------------------------------------------------


def _frames(root: Path, source: Path) -> tuple[list[View], bool, tuple[int, int]]:
    meta, frames = read_transforms(source)  # every camera field, before any image is opened
    paths = [frame_image(root, frame, i, source) for i, frame in enumerate(frames)]
    size, has_alpha = _image_sizes(paths, source)
    views = []
    for index, (frame, path) in enumerate(zip(frames, paths, strict=True)):
        pose = frame_pose(frame, index, source)
        intrinsics = frame_intrinsics(meta, frame, index, size, source)
        camera = checked_camera(size, intrinsics, pose, path.name, source, f"frame {index}")
        views.append(View(camera, path))
    return views, has_alpha, size


def _points(root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The points3d.ply of a NeRF-synthetic or transforms folder, if there is one (checked)."""
    path = root / "points3d.ply"
    if not os.path.lexists(path):  # none: training starts from random points
        return None
    return _checked_points(path, *read_points_ply(path))


def _checked_points(path: Path, xyz: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([P, 3] float32 positions, [P, 3] uint8 colours) of a dataset's starting points.

    Raises:
        SceneError: naming `path` when a point is not finite (in float32).
    """
    finite = np.isfinite(xyz).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise SceneError(
            path,
            f"{int((~finite).sum()):,} of {len(xyz):,} points are not finite (point {first} is "
            f"{xyz[first].tolist()}); training cannot start from them",
        )
    return xyz, rgb


def _nerf_synthetic(root: Path, test_every: int) -> Dataset:
    train, has_alpha, size = _frames(root, root / NERF_SPLITS[0])
    test: list[View] = []
    if (root / NERF_SPLITS[1]).is_file():
        test, test_alpha, test_size = _frames(root, root / NERF_SPLITS[1])
        if test_size != size:
            raise SceneError(
                test[0].image,
                f"images of mixed sizes: {test_size[0]}x{test_size[1]} here, {size[0]}x{size[1]} "
                f"in the training split ({train[0].image.name})",
            )
        has_alpha = has_alpha or test_alpha
        return Dataset(root, "nerf-synthetic", tuple(train), tuple(test), _points(root),
                       has_alpha, size)  # fmt: skip
    train_split, test_split = _split(train, test_every)
    return Dataset(root, "nerf-synthetic", train_split, test_split, _points(root), has_alpha,
                   size)  # fmt: skip


def _transforms(root: Path, test_every: int) -> Dataset:
    views, has_alpha, size = _frames(root, root / "transforms.json")
    views.sort(key=lambda view: view.image.name)
    train, test = _split(views, test_every)
    return Dataset(root, "transforms", train, test, _points(root), has_alpha, size)


# -- shared ---------------------------------------------------------------------------------------


def _split(views: list[View], test_every: int) -> tuple[tuple[View, ...], tuple[View, ...]]:
    """Every `test_every`-th view (0, N, 2N, ...) held out; all kept for training when < 2."""
    if len(views) < 2:
        return tuple(views), ()
    test = tuple(view for i, view in enumerate(views) if i % test_every == 0)
    train = tuple(view for i, view in enumerate(views) if i % test_every != 0)
    return train, test


IMAGE_BYTES_PER_PIXEL = 3  # what a run keeps of each image: 8-bit RGB
LOAD_BYTES_PER_PIXEL = 48  # an image being loaded: RGBA float32, its resize, the composite


def _image_sizes(paths: list[Path], source: Path) -> tuple[tuple[int, int], bool]:
    """(the one (width, height) of all images, whether any has alpha).

    Raises:
        SceneError: for a missing, special or unreadable image, images of mixed sizes, or more
            pixels than the memory available holds (naming `source`, which lists them).
    """
    size: tuple[int, int] | None = None
    first = paths[0]
    has_alpha = False
    for path in paths:
        if not os.path.lexists(path):
            raise SceneError(path, f"is missing (listed in {source.name})")
        with opened_image(path) as image:
            this = (int(image.size[0]), int(image.size[1]))
            has_alpha = (
                has_alpha
                or image.mode in ("RGBA", "LA", "PA")
                or (image.mode == "P" and "transparency" in image.info)
            )
        if size is None:
            size = this
        elif this != size:
            raise SceneError(
                path,
                f"images of mixed sizes: this one is {this[0]}x{this[1]}, {first.name} is "
                f"{size[0]}x{size[1]} (a training run uses one size; resize them to one)",
            )
    assert size is not None
    pixels = size[0] * size[1]
    needed = len(paths) * pixels * IMAGE_BYTES_PER_PIXEL + pixels * LOAD_BYTES_PER_PIXEL
    available = available_memory()
    if available is not None and needed > available:
        raise SceneError(
            source,
            f"lists {len(paths):,} images of {size[0]}x{size[1]} pixels, {gigabytes(needed)} to "
            f"train on, more than the {gigabytes(available)} of memory available",
        )
    return size, has_alpha


def load_image(path: Path, size: tuple[int, int], background: tuple[float, float, float]):
    """[H, W, 3] float32 RGB in [0, 1] at `size`, alpha composited on `background`.

    Raises:
        SceneError: naming the file, when its pixels cannot be read (a truncated image).
    """
    from PIL import Image

    with opened_image(path) as image:
        rgba = image.convert("RGBA")
        if rgba.size != size:
            rgba = rgba.resize(size, Image.Resampling.LANCZOS)
        pixels = np.asarray(rgba, dtype=np.float32) / 255.0
    alpha = pixels[..., 3:4]
    return pixels[..., :3] * alpha + np.asarray(background, np.float32) * (1.0 - alpha)
