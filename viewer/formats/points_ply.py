"""Point clouds in binary PLY: a dataset's points3d.ply, an INRIA training output's input.ply.

Read by the scene readers' binary PLY parser (viewer.formats.ply_binary: a regular file, a
header checked against the file's size and the memory available, rows memory-mapped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.formats.limits import check_decoded_size
from viewer.formats.ply_binary import columns, open_binary_ply

POINT_XYZ = ("x", "y", "z")
POINT_RGB = ("red", "green", "blue")


def read_points_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """([P, 3] float32 positions, [P, 3] uint8 colours) of vertices x, y, z, red, green, blue.

    Raises:
        SceneError: naming the file: special, malformed, ASCII, truncated or without the
            properties.
    """
    ply = open_binary_ply(path)
    vertex = ply.require("vertex", POINT_XYZ, kind="f")
    ply.require("vertex", POINT_RGB, kind="ui")
    check_decoded_size(path, vertex.count, vertex.count * 32 + ply.data_bytes, 0)
    rows = ply.read("vertex")
    xyz = np.array(columns(rows, POINT_XYZ), dtype=np.float32)
    rgb = np.clip(columns(rows, POINT_RGB, dtype=np.float64), 0, 255).astype(np.uint8)
    return xyz, rgb
