"""Test datasets: COLMAP models written from cameras (binary and text), NeRF folders."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image

from viewer.camera import Camera

MODEL_IDS = {"SIMPLE_PINHOLE": 0, "PINHOLE": 1, "SIMPLE_RADIAL": 2, "RADIAL": 3, "OPENCV": 4,
             "OPENCV_FISHEYE": 5}  # fmt: skip


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """[3, 3] rotation -> (w, x, y, z), from the largest of the four (stable near 180 degrees)."""
    trace = np.trace(r)
    candidates = [trace, r[0, 0], r[1, 1], r[2, 2]]
    k = int(np.argmax(candidates))
    if k == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    elif k == 1:
        s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        q = [(r[2, 1] - r[1, 2]) / s, s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
    elif k == 2:
        s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
        q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
        q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4]
    return np.array(q)


def write_colmap(
    root: Path,
    cameras: list[Camera],
    images: list[np.ndarray],
    points: tuple[np.ndarray, np.ndarray] | None,
    binary: bool = True,
    model: str = "PINHOLE",
    params: tuple[float, ...] | None = None,
) -> None:
    """A COLMAP dataset: root/images/<name>.png and root/sparse/0/{cameras,images,points3D}.

    Every image gets its own camera of `model` (params: the camera's own pinhole by default).
    """
    (root / "images").mkdir(parents=True)
    sparse = root / "sparse" / "0"
    sparse.mkdir(parents=True)
    names = [f"{c.name or f'img{i}'}.png" for i, c in enumerate(cameras)]
    for name, image in zip(names, images, strict=True):
        Image.fromarray(image).save(root / "images" / name)
    rows = []
    for i, camera in enumerate(cameras):
        if params is not None:
            values = params
        elif model == "SIMPLE_PINHOLE":
            values = (camera.fx, camera.cx, camera.cy)
        else:
            values = (camera.fx, camera.fy, camera.cx, camera.cy)
        rows.append((i + 1, model, camera.width, camera.height, values))
    if binary:
        data = struct.pack("<Q", len(rows))
        for camera_id, name, width, height, values in rows:
            data += struct.pack("<iiQQ", camera_id, MODEL_IDS.get(name, 99), width, height)
            data += struct.pack(f"<{len(values)}d", *values)
        (sparse / "cameras.bin").write_bytes(data)
        data = struct.pack("<Q", len(cameras))
        for i, (camera, name) in enumerate(zip(cameras, names, strict=True)):
            q = rotation_to_quaternion(camera.world_to_camera[:3, :3])
            t = camera.world_to_camera[:3, 3]
            data += struct.pack("<idddddddi", i + 1, *q, *t, i + 1)
            data += name.encode() + b"\0" + struct.pack("<Q", 1) + struct.pack("<ddq", 1, 2, -1)
        (sparse / "images.bin").write_bytes(data)
        if points is not None:
            xyz, rgb = points
            data = struct.pack("<Q", len(xyz))
            for i, (p, c) in enumerate(zip(xyz, rgb, strict=True)):
                data += struct.pack("<QdddBBBd", i + 1, *p, *c, 0.5)
                data += struct.pack("<Q", 1) + struct.pack("<ii", 1, 0)
            (sparse / "points3D.bin").write_bytes(data)
    else:
        lines = ["# Camera list"]
        for camera_id, name, width, height, values in rows:
            lines.append(
                f"{camera_id} {name} {width} {height} " + " ".join(repr(float(v)) for v in values)
            )
        (sparse / "cameras.txt").write_text("\n".join(lines) + "\n")
        lines = ["# Image list"]
        for i, (camera, name) in enumerate(zip(cameras, names, strict=True)):
            q = rotation_to_quaternion(camera.world_to_camera[:3, :3])
            t = camera.world_to_camera[:3, 3]
            lines.append(
                f"{i + 1} " + " ".join(repr(float(v)) for v in [*q, *t]) + f" {i + 1} {name}"
            )
            lines.append("1.0 2.0 -1")
        (sparse / "images.txt").write_text("\n".join(lines) + "\n")
        if points is not None:
            xyz, rgb = points
            lines = ["# 3D point list"]
            for i, (p, c) in enumerate(zip(xyz, rgb, strict=True)):
                lines.append(
                    f"{i + 1} "
                    + " ".join(repr(float(v)) for v in p)
                    + f" {c[0]} {c[1]} {c[2]} 0.5 1 0"
                )
            (sparse / "points3D.txt").write_text("\n".join(lines) + "\n")


def nerf_views(folder: Path) -> tuple[list[Camera], list[np.ndarray]]:
    """The training cameras and images of a NeRF-synthetic folder made by make-dataset."""
    from viewer.train.datasets import open_dataset

    dataset = open_dataset(folder)
    views = [*dataset.train, *dataset.test]
    images = [np.asarray(Image.open(v.image).convert("RGB")) for v in views]
    cameras = [v.camera for v in views]
    return cameras, images


def write_transforms(path: Path, frames: list[dict], **meta) -> None:
    path.write_text(json.dumps({**meta, "frames": frames}))
