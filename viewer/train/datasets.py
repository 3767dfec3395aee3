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

import contextlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewer.camera import MAX_IMAGE_SIDE, Camera
from viewer.errors import SceneError
from viewer.formats.limits import available_memory, gigabytes
from viewer.input_files import open_input, read_json
from viewer.train import colmap

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")


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
    # lexists, not is_file: a FIFO or a folder in a dataset's place is refused when read
    if os.path.lexists(root / "transforms_train.json"):
        return _nerf_synthetic(root, test_every)
    if os.path.lexists(root / "transforms.json"):
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
    cameras, images, points = colmap.read_model(model, suffix)
    image_folder = root / "images"
    if not image_folder.is_dir():
        raise SceneError(root, "COLMAP dataset without an images/ folder")
    if not images:
        raise SceneError(model / f"images{suffix}", "lists no registered images")
    images = sorted(images, key=lambda image: image.name)
    cameras_file, images_file = model / f"cameras{suffix}", model / f"images{suffix}"
    for image in images:
        if image.camera_id not in cameras:
            raise SceneError(
                images_file,
                f"image {image.name} uses camera {image.camera_id}, which cameras{suffix} lacks",
            )
        cameras[image.camera_id].pinhole(cameras_file)  # the intrinsics, checked first
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
        try:
            pose = image.world_to_camera()
        except ValueError as exc:
            raise SceneError(images_file, f"image {image.name}: {exc}") from None
        intrinsics = (fx * sx, fy * sy, cx * sx, cy * sy)
        views.append(View(_camera(size, intrinsics, pose, path, images_file, image.name), path))
    train, test = _split(views, test_every)
    return Dataset(root, "colmap", train, test, points, has_alpha, size)


# -- NeRF-synthetic and transforms.json ----------------------------------------------------------


def _load_json(path: Path) -> dict:
    data = read_json(path, "a JSON file")
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list):
        raise SceneError(path, "expected a JSON object with a list of 'frames'")
    return data


def _frame_image(root: Path, frame: dict, index: int, source: Path) -> Path:
    """The image file of one frame (file_path with or without its extension).

    A name that exists as something else than a file (a FIFO, a folder, a device) is taken: it
    is refused, naming it, when it is read.
    """
    if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
        raise SceneError(source, f"frame {index} has no file_path")
    path = root / frame["file_path"]
    if path.suffix in IMAGE_SUFFIXES and os.path.lexists(path):
        return path
    for suffix in IMAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if os.path.lexists(candidate):
            return candidate
    if os.path.lexists(path) and not path.is_dir():
        return path  # an image without its suffix
    raise SceneError(source, f"frame {index}: image {frame['file_path']} is missing")


def _frame_pose(frame: dict, index: int, source: Path) -> np.ndarray:
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


def _intrinsics(
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


def _frames(root: Path, source: Path) -> tuple[list[View], bool, tuple[int, int]]:
    meta = _load_json(source)
    frames = meta["frames"]
    if not frames:
        raise SceneError(source, "lists no frames")
    paths = [_frame_image(root, frame, i, source) for i, frame in enumerate(frames)]
    for index, frame in enumerate(frames):  # every camera field, before any image is opened
        _intrinsics(meta, frame, index, None, source)
        _frame_pose(frame, index, source)
    size, has_alpha = _image_sizes(paths, source)
    views = []
    for index, (frame, path) in enumerate(zip(frames, paths, strict=True)):
        pose = _frame_pose(frame, index, source)
        intrinsics = _intrinsics(meta, frame, index, size, source)
        views.append(View(_camera(size, intrinsics, pose, path, source, f"frame {index}"), path))
    return views, has_alpha, size


def _points_ply(root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """points3d.ply of a NeRF-synthetic folder (x, y, z and red, green, blue), if there is one.

    Read by the scene readers' binary PLY parser (viewer.formats.ply_binary: a regular file,
    a header checked against the file's size and the memory available, rows memory-mapped).

    Raises:
        SceneError: naming the file: special, malformed, ASCII, truncated, without the
            properties, or holding points that are not finite.
    """
    path = root / "points3d.ply"
    if not os.path.lexists(path):  # none: training starts from random points
        return None
    from viewer.formats.limits import check_decoded_size
    from viewer.formats.ply_binary import columns, open_binary_ply

    ply = open_binary_ply(path)
    vertex = ply.require("vertex", POINT_XYZ, kind="f")
    ply.require("vertex", POINT_RGB, kind="ui")
    check_decoded_size(path, vertex.count, vertex.count * 32 + ply.data_bytes, 0)
    rows = ply.read("vertex")
    xyz = np.array(columns(rows, POINT_XYZ), dtype=np.float32)
    rgb = np.clip(columns(rows, POINT_RGB, dtype=np.float64), 0, 255).astype(np.uint8)
    return colmap.checked_points(path, xyz, rgb)


POINT_XYZ = ("x", "y", "z")
POINT_RGB = ("red", "green", "blue")


def _nerf_synthetic(root: Path, test_every: int) -> Dataset:
    train, has_alpha, size = _frames(root, root / "transforms_train.json")
    test: list[View] = []
    if (root / "transforms_test.json").is_file():
        test, test_alpha, test_size = _frames(root, root / "transforms_test.json")
        if test_size != size:
            raise SceneError(
                test[0].image,
                f"images of mixed sizes: {test_size[0]}x{test_size[1]} here, {size[0]}x{size[1]} "
                f"in the training split ({train[0].image.name})",
            )
        has_alpha = has_alpha or test_alpha
        return Dataset(root, "nerf-synthetic", tuple(train), tuple(test), _points_ply(root),
                       has_alpha, size)  # fmt: skip
    train_split, test_split = _split(train, test_every)
    return Dataset(root, "nerf-synthetic", train_split, test_split, _points_ply(root), has_alpha,
                   size)  # fmt: skip


def _transforms(root: Path, test_every: int) -> Dataset:
    views, has_alpha, size = _frames(root, root / "transforms.json")
    views.sort(key=lambda view: view.image.name)
    train, test = _split(views, test_every)
    return Dataset(root, "transforms", train, test, _points_ply(root), has_alpha, size)


# -- shared ---------------------------------------------------------------------------------------


def _camera(
    size: tuple[int, int],
    intrinsics: tuple[float, float, float, float],
    w2c: np.ndarray,
    path: Path,
    source: Path,
    where: str,
) -> Camera:
    """The camera of the image `path`, as the file `source` describes it at `where`.

    Raises:
        SceneError: naming `source` and `where`, for a camera the renderer cannot use.
    """
    try:
        return Camera(size[0], size[1], *intrinsics, world_to_camera=w2c, name=path.name)
    except ValueError as exc:
        raise SceneError(source, f"{where}: unusable camera ({exc})") from None


def _split(views: list[View], test_every: int) -> tuple[tuple[View, ...], tuple[View, ...]]:
    """Every `test_every`-th view (0, N, 2N, ...) held out; all kept for training when < 2."""
    if len(views) < 2:
        return tuple(views), ()
    test = tuple(view for i, view in enumerate(views) if i % test_every == 0)
    train = tuple(view for i, view in enumerate(views) if i % test_every != 0)
    return train, test


IMAGE_BYTES_PER_PIXEL = 3  # what a run keeps of each image: 8-bit RGB
LOAD_BYTES_PER_PIXEL = 48  # an image being loaded: RGBA float32, its resize, the composite


@contextlib.contextmanager
def opened_image(path: Path) -> Iterator[Any]:
    """A PIL image of `path`, read through viewer.input_files (a regular file only).

    Whatever fails while the image is open (PIL raises many kinds for a damaged file: OSError,
    ValueError for an oversized text chunk, SyntaxError, struct.error...) is a SceneError naming
    the file; an image that PIL calls a decompression bomb too (its warning included).

    Raises:
        SceneError: naming the file.
    """
    from PIL import Image

    with open_input(path) as file:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(file)
            with image:
                yield image
        except SceneError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise SceneError(path, f"refused as a decompression bomb ({exc})") from None
        except Exception as exc:  # a decoder's failure is the file's problem
            raise SceneError(path, f"not a readable image ({exc or type(exc).__name__})") from None


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
