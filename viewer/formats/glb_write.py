"""glTF 2.0 binary (.glb) with KHR_gaussian_splatting, write.

One scene, one node, one mesh with one POINTS primitive; every attribute float32 in its own
buffer view of the one binary buffer (4-byte aligned), plus COLOR_0 (unsigned byte normalised
RGBA: the base colour 0.5 + C0 dc and the opacity) for viewers without the extension. Axes and
conventions as gltf_splats.py. The GLB container: a 12-byte header (magic 'glTF', version 2,
total length), a JSON chunk padded with spaces and a BIN chunk padded with zeros, each chunk a
(length, type) pair and its data, lengths multiples of 4.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from viewer.formats.files import write_file
from viewer.formats.gltf_accessors import BIN_CHUNK, GLB_MAGIC, JSON_CHUNK
from viewer.formats.gltf_splats import (
    EXTENSION,
    OPACITY,
    POINTS_MODE,
    ROTATION,
    SCALE,
    flip_axes,
    sh_name,
    sh_names,
)
from viewer.formats.sh_layout import rgb_from_dc
from viewer.scene import GaussianScene

GLB_VERSION = 2
FLOAT = 5126
UNSIGNED_BYTE = 5121
ARRAY_BUFFER = 34962
TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4"}


def _pad(data: bytes, fill: bytes) -> bytes:
    """`data` padded with `fill` to a multiple of 4 bytes."""
    return data + fill * (-len(data) % 4)


def _attributes(scene: GaussianScene) -> dict[str, np.ndarray]:
    """[N, C] arrays by attribute name, in glTF axes and conventions."""
    means, rotations, sh = flip_axes(scene.means, scene.rotations, scene.sh)
    colour = np.empty((scene.count, 4), dtype=np.float32)
    colour[:, :3] = rgb_from_dc(scene.sh[:, 0])
    colour[:, 3] = scene.opacities
    attributes = {
        "POSITION": means,
        "COLOR_0": np.clip(np.rint(colour * 255.0), 0, 255).astype(np.uint8),
        ROTATION: rotations[:, [1, 2, 3, 0]],  # (w, x, y, z) -> (x, y, z, w)
        SCALE: scene.scales,
        OPACITY: scene.opacities[:, None],
        sh_name(0, 0): sh[:, 0],
    }
    for index, name in enumerate(sh_names(scene.sh_degree), start=1):
        attributes[name] = sh[:, index]
    return attributes


def glb_bytes(scene: GaussianScene) -> bytes:
    """`scene` as a .glb file."""
    views: list[dict[str, Any]] = []
    accessors: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    offset = 0
    attributes = _attributes(scene)
    for name, values in attributes.items():
        data = np.ascontiguousarray(values).tobytes()
        accessor: dict[str, Any] = {
            "bufferView": len(views),
            "componentType": UNSIGNED_BYTE if values.dtype == np.uint8 else FLOAT,
            "count": scene.count,
            "type": TYPES[values.shape[1]],
        }
        if values.dtype == np.uint8:
            accessor["normalized"] = True
        if name == "POSITION":
            accessor["min"] = values.min(axis=0).tolist()
            accessor["max"] = values.max(axis=0).tolist()
        views.append(
            {"buffer": 0, "byteOffset": offset, "byteLength": len(data), "target": ARRAY_BUFFER}
        )
        accessors.append(accessor)
        chunks.append(_pad(data, b"\0"))
        offset += len(chunks[-1])
    primitive = {
        "mode": POINTS_MODE,
        "attributes": {name: index for index, name in enumerate(attributes)},
        "extensions": {EXTENSION: {"kernel": "ellipse", "colorSpace": "srgb_rec709_display"}},
    }
    document = {
        "asset": {"version": "2.0", "generator": "splatscope"},
        "extensionsUsed": [EXTENSION],
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [primitive]}],
        "buffers": [{"byteLength": offset}],
        "bufferViews": views,
        "accessors": accessors,
    }
    text = _pad(json.dumps(document, separators=(",", ":")).encode("utf-8"), b" ")
    binary = b"".join(chunks)
    total = 12 + 8 + len(text) + 8 + len(binary)
    return b"".join(
        [
            GLB_MAGIC + struct.pack("<II", GLB_VERSION, total),
            struct.pack("<II", len(text), JSON_CHUNK),
            text,
            struct.pack("<II", len(binary), BIN_CHUNK),
            binary,
        ]
    )


def write_glb(scene: GaussianScene, path: Path) -> None:
    """Write `scene` as a .glb with KHR_gaussian_splatting (atomically).

    Raises:
        SceneError: when the file cannot be written.
    """
    data = glb_bytes(scene)

    def write(file: BinaryIO) -> None:
        file.write(data)

    write_file(path, write)
