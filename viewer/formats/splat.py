"""antimatter15 .splat: 32-byte records, read and write.

Record: position 3 x float32, activated scale 3 x float32, RGBA uint8 (rgb = 0.5 + C0 * dc,
a = opacity, both clamped to [0, 1] and scaled by 255), rotation 4 x uint8 (q * 128 + 128,
order w x y z). No header and no magic; SH degree 0 only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.files import map_records, write_file
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.sh_layout import dc_from_rgb, rgb_from_dc
from viewer.input_files import file_size
from viewer.scene import GaussianScene

RECORD = np.dtype(
    [("position", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rotation", "u1", 4)]
)  # 32 bytes


def _unorm8(values: np.ndarray) -> np.ndarray:
    """uint8 round(255 x) of values clamped to [0, 1]."""
    return np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def read_splat(path: Path) -> GaussianScene:
    """Decode a .splat file.

    Raises:
        SceneError: when the file is missing, empty or not a whole number of 32-byte records,
            or holds more Gaussians than the memory available.
    """
    size = file_size(path)
    if size % RECORD.itemsize:
        raise SceneError(path, f"size {size} bytes is not a multiple of {RECORD.itemsize}")
    count = size // RECORD.itemsize
    mapped = size  # the records are memory-mapped: their pages are read in
    check_decoded_size(path, count, decoded_bytes(count, 1) + mapped, 1)
    records = map_records(path, RECORD, 0, count)  # [N] structured
    rgba = records["rgba"].astype(np.float32) / 255.0  # [N, 4] float32
    return build_scene(
        path,
        means=np.array(records["position"]),
        rotations=(records["rotation"].astype(np.float32) - 128.0) / 128.0,
        sh=dc_from_rgb(rgba[:, None, :3]),
        scales=np.array(records["scale"]),
        opacities=rgba[:, 3],
        file_format="antimatter15 .splat",
    )


def write_splat(scene: GaussianScene, path: Path) -> None:
    """Write `scene` as .splat (SH above degree 0 is dropped; colours and rotations quantised)."""
    records = np.empty(scene.count, dtype=RECORD)
    records["position"] = scene.means
    records["scale"] = scene.scales
    records["rgba"][:, :3] = _unorm8(rgb_from_dc(scene.sh[:, 0]))
    records["rgba"][:, 3] = _unorm8(scene.opacities)
    records["rotation"] = np.clip(np.round(scene.rotations * 128.0 + 128.0), 0, 255).astype(
        np.uint8
    )
    write_file(path, lambda file: file.write(records.tobytes()))
