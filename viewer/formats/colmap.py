"""COLMAP sparse models: cameras, images and points3D, binary (.bin) or text (.txt).

Layouts from COLMAP's own readers (src/colmap/scene/reconstruction_io.cc, scripts/python/
read_write_model.py): little-endian, counts as uint64, ids as int32 (points as uint64),
quaternions (w, x, y, z) and translations world-to-camera in OpenCV axes. Every problem is a
SceneError naming the file.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.camera import MAX_IMAGE_SIDE
from viewer.errors import SceneError
from viewer.input_files import read_bytes

# model id -> (name, number of parameters), as COLMAP numbers them
CAMERA_MODELS: dict[int, tuple[str, int]] = {
    0: ("SIMPLE_PINHOLE", 3),
    1: ("PINHOLE", 4),
    2: ("SIMPLE_RADIAL", 4),
    3: ("RADIAL", 5),
    4: ("OPENCV", 8),
    5: ("OPENCV_FISHEYE", 8),
    6: ("FULL_OPENCV", 12),
    7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4),
    9: ("RADIAL_FISHEYE", 5),
    10: ("THIN_PRISM_FISHEYE", 12),
    11: ("RAD_TAN_THIN_PRISM_FISHEYE", 16),
}
MODEL_IDS = {name: (model_id, count) for model_id, (name, count) in CAMERA_MODELS.items()}
# models that are a pinhole once their distortion coefficients (params[k:]) are all zero
PINHOLE_PARAMS = {"SIMPLE_PINHOLE": 3, "PINHOLE": 4, "SIMPLE_RADIAL": 3, "RADIAL": 3,
                  "OPENCV": 4, "FULL_OPENCV": 4}  # fmt: skip
# models whose parameters start with one focal length (f, cx, cy); the others with fx, fy, cx, cy
SINGLE_FOCAL = frozenset(("SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL", "SIMPLE_RADIAL_FISHEYE",
                          "RADIAL_FISHEYE"))  # fmt: skip


@dataclass(frozen=True)
class ColmapCamera:
    """One COLMAP camera (intrinsics shared by images)."""

    camera_id: int
    model: str
    width: int
    height: int
    params: tuple[float, ...]

    def _check_values(self, source: str | Path) -> None:
        """Raise SceneError for a size out of 1..MAX_IMAGE_SIDE or parameters not finite."""
        for name, side in (("width", self.width), ("height", self.height)):
            if not 1 <= side <= MAX_IMAGE_SIDE:
                raise SceneError(
                    source,
                    f"camera {self.camera_id} has a {name} of {side} pixels (1 to "
                    f"{MAX_IMAGE_SIDE})",
                )
        if not all(math.isfinite(value) for value in self.params):
            values = ", ".join(f"{v:g}" for v in self.params)
            raise SceneError(source, f"camera {self.camera_id} has parameters that are not "
                             f"finite ({values})")  # fmt: skip

    def intrinsics(self, source: str | Path) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) of any model, its distortion left out (a frustum's, not an image's).

        Raises:
            SceneError: for a size out of 1..MAX_IMAGE_SIDE pixels, parameters that are not
                finite or focal lengths that are not positive.
        """
        self._check_values(source)
        if self.model in SINGLE_FOCAL:
            f, cx, cy = self.params[:3]
            fx, fy = f, f
        else:
            fx, fy, cx, cy = self.params[:4]
        if fx <= 0.0 or fy <= 0.0:
            raise SceneError(
                source, f"camera {self.camera_id} has focal lengths {fx:g}, {fy:g}: not positive"
            )
        return fx, fy, cx, cy

    def pinhole(self, source: str | Path) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) of this camera, which must be an undistorted pinhole.

        Raises:
            SceneError: as `intrinsics`, and for a model with distortion (non-zero
                coefficients) or a fisheye.
        """
        self._check_values(source)
        if self.model not in PINHOLE_PARAMS:
            raise SceneError(
                source,
                f"camera {self.camera_id} has the camera model {self.model}, which is not a "
                "pinhole: undistort the images first (colmap image_undistorter) to PINHOLE",
            )
        distortion = self.params[PINHOLE_PARAMS[self.model] :]
        if any(value != 0.0 for value in distortion):
            raise SceneError(
                source,
                f"camera {self.camera_id} ({self.model}) has distortion coefficients "
                f"{', '.join(f'{v:g}' for v in distortion)}: undistort the images first "
                "(colmap image_undistorter)",
            )
        return self.intrinsics(source)


@dataclass(frozen=True)
class ColmapImage:
    """One registered image: its pose (world-to-camera, OpenCV axes) and camera."""

    image_id: int
    qvec: tuple[float, float, float, float]  # w, x, y, z
    tvec: tuple[float, float, float]
    camera_id: int
    name: str

    def world_to_camera(self, source: str | Path) -> np.ndarray:
        """[4, 4] float64 world-to-camera transform.

        Raises:
            SceneError: naming `source` (the images file) and the image, for a quaternion or
                translation that is not finite, or a quaternion of zero length.
        """
        q = np.asarray(self.qvec, np.float64)
        if not (np.isfinite(q).all() and np.isfinite(self.tvec).all()):
            raise SceneError(
                source,
                f"image {self.name}: a pose that is not finite (q {list(self.qvec)}, t "
                f"{list(self.tvec)})",
            )
        norm = float(np.linalg.norm(q))
        if norm < 1e-12:
            raise SceneError(source, f"image {self.name}: a rotation quaternion of zero length")
        w, x, y, z = q / norm
        rotation = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )
        out = np.eye(4)
        out[:3, :3] = rotation
        out[:3, 3] = self.tvec
        return out


class _Reader:
    """Little-endian fields from the bytes of one file; a short file is a SceneError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = read_bytes(path)
        self.offset = 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if self.offset + size > len(self.data):
            raise SceneError(self.path, f"ends early (at byte {self.offset} of {len(self.data)})")
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += size
        return values

    def string(self) -> str:
        end = self.data.find(b"\0", self.offset)
        if end < 0:
            raise SceneError(self.path, "ends inside an image name")
        text = self.data[self.offset : end].decode("utf-8", errors="replace")
        self.offset = end + 1
        return text

    def skip(self, nbytes: int) -> None:
        if self.offset + nbytes > len(self.data):
            raise SceneError(self.path, f"ends early (at byte {self.offset} of {len(self.data)})")
        self.offset += nbytes

    def count(self, limit_bytes_each: int) -> int:
        """A uint64 count, checked against what the rest of the file can hold."""
        (n,) = self.take("Q")
        if n * limit_bytes_each > len(self.data) - self.offset:
            raise SceneError(self.path, f"declares {n} records, more than the file holds")
        return int(n)


def _model(model_id: int, path: Path) -> tuple[str, int]:
    if model_id not in CAMERA_MODELS:
        raise SceneError(path, f"unknown camera model id {model_id} (COLMAP knows 0 to 11)")
    return CAMERA_MODELS[model_id]


def read_cameras_binary(path: Path) -> dict[int, ColmapCamera]:
    """cameras.bin -> {camera_id: camera}."""
    reader = _Reader(path)
    cameras = {}
    for _ in range(reader.count(24)):
        camera_id, model_id, width, height = reader.take("iiQQ")
        name, n_params = _model(model_id, path)
        params = reader.take("d" * n_params)
        cameras[camera_id] = ColmapCamera(camera_id, name, int(width), int(height), params)
    return cameras


def read_images_binary(path: Path) -> list[ColmapImage]:
    """images.bin -> registered images in file order (their 2D points are skipped)."""
    reader = _Reader(path)
    images = []
    for _ in range(reader.count(64)):
        image_id, qw, qx, qy, qz, tx, ty, tz, camera_id = reader.take("idddddddi")
        name = reader.string()
        (points,) = reader.take("Q")
        reader.skip(int(points) * 24)
        images.append(ColmapImage(image_id, (qw, qx, qy, qz), (tx, ty, tz), camera_id, name))
    return images


def read_points3d_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """points3D.bin -> ([P, 3] float32 positions, [P, 3] uint8 colours)."""
    reader = _Reader(path)
    n = reader.count(43)
    xyz = np.zeros((n, 3), np.float32)
    rgb = np.zeros((n, 3), np.uint8)
    for i in range(n):
        _, x, y, z, r, g, b, _ = reader.take("QdddBBBd")
        (track,) = reader.take("Q")
        reader.skip(int(track) * 8)
        xyz[i] = (x, y, z)
        rgb[i] = (r, g, b)
    return xyz, rgb


def _text_rows(path: Path) -> list[list[str]]:
    """The non-comment lines of a COLMAP text file, split into words (empty lines kept)."""
    try:
        text = read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SceneError(path, f"not a text file ({exc})") from None
    return [line.split() for line in text.splitlines() if not line.startswith("#")]


def _numbers(path: Path, line: int, words: list[str], kinds: str) -> list:
    """Parse `words` as the types in `kinds` ('i' int, 'd' float, 's' string)."""
    if len(words) < len(kinds):
        raise SceneError(path, f"line {line}: expected {len(kinds)} fields, got {len(words)}")
    out: list = []
    for word, kind in zip(words, kinds, strict=False):
        try:
            out.append(int(word) if kind == "i" else float(word) if kind == "d" else word)
        except ValueError:
            raise SceneError(path, f"line {line}: {word!r} is not a number") from None
    return out


def read_cameras_text(path: Path) -> dict[int, ColmapCamera]:
    """cameras.txt -> {camera_id: camera}."""
    cameras = {}
    for line, words in enumerate(_text_rows(path), 1):
        if not words:
            continue
        camera_id, model, width, height = _numbers(path, line, words, "isii")
        if model not in MODEL_IDS:
            raise SceneError(path, f"camera {camera_id} has the unknown camera model {model!r}")
        n_params = MODEL_IDS[model][1]
        params = _numbers(path, line, words[4:], "d" * n_params)
        cameras[camera_id] = ColmapCamera(camera_id, model, width, height, tuple(params))
    return cameras


def read_images_text(path: Path) -> list[ColmapImage]:
    """images.txt -> registered images (two lines each: the pose, then its 2D points)."""
    rows = _text_rows(path)
    images = []
    line = 0
    while line < len(rows):
        words = rows[line]
        line += 1
        if not words:
            continue
        image_id, qw, qx, qy, qz, tx, ty, tz, camera_id = _numbers(
            path, line, words[:9], "idddddddi"
        )
        name = " ".join(words[9:])
        if not name:
            raise SceneError(path, f"line {line}: image {image_id} has no name")
        images.append(ColmapImage(image_id, (qw, qx, qy, qz), (tx, ty, tz), camera_id, name))
        line += 1  # the 2D points line (possibly empty)
    return images


def read_points3d_text(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """points3D.txt -> ([P, 3] float32 positions, [P, 3] uint8 colours)."""
    xyz, rgb = [], []
    for line, words in enumerate(_text_rows(path), 1):
        if not words:
            continue
        _, x, y, z, r, g, b = _numbers(path, line, words[:7], "idddiii")
        xyz.append((x, y, z))
        rgb.append((r, g, b))
    return (
        np.asarray(xyz, np.float32).reshape(-1, 3),
        np.clip(np.asarray(rgb), 0, 255).astype(np.uint8).reshape(-1, 3),
    )


def find_model(folder: Path) -> tuple[Path, str] | None:
    """(folder holding the model, ".bin" or ".txt") under `folder`: sparse/0, sparse or itself.

    A model file that is no regular file (a FIFO, a folder) counts: it is refused when read.
    """
    for candidate in (folder / "sparse" / "0", folder / "sparse", folder):
        for suffix in (".bin", ".txt"):
            if os.path.lexists(candidate / f"cameras{suffix}") or os.path.lexists(
                candidate / f"images{suffix}"
            ):
                return candidate, suffix
    return None


def read_model(
    model: Path, suffix: str
) -> tuple[dict[int, ColmapCamera], list[ColmapImage], tuple[np.ndarray, np.ndarray] | None]:
    """Cameras, images and (when points3D exists) points of a sparse model folder, as read.

    Raises:
        SceneError: for a missing cameras or images file, or any malformed file.
    """
    binary = suffix == ".bin"
    for name in ("cameras", "images"):
        if not os.path.lexists(model / f"{name}{suffix}"):
            raise SceneError(model, f"COLMAP model without {name}{suffix}")
    cameras = (read_cameras_binary if binary else read_cameras_text)(model / f"cameras{suffix}")
    images = (read_images_binary if binary else read_images_text)(model / f"images{suffix}")
    points_path = model / f"points3D{suffix}"
    points = None
    if os.path.lexists(points_path):  # a model may have none
        points = (read_points3d_binary if binary else read_points3d_text)(points_path)
    return cameras, images, points


def image_camera(
    image: ColmapImage, cameras: dict[int, ColmapCamera], images_file: Path
) -> ColmapCamera:
    """The camera `image` uses.

    Raises:
        SceneError: naming `images_file` when the model lacks that camera.
    """
    if image.camera_id not in cameras:
        raise SceneError(
            images_file,
            f"image {image.name} uses camera {image.camera_id}, which "
            f"cameras{images_file.suffix} lacks",
        )
    return cameras[image.camera_id]
