"""SuperSplat / PlayCanvas compressed .ply (read; the writer is compressed_ply_write.py).

Layout, as written by playcanvas/splat-transform (`write-compressed-ply.ts`) and decoded by
playcanvas/engine (`gsplat-compressed-data.js`):

- `chunk` element, one row per 256 Gaussians: float min/max of x, y, z, of the log-scales
  (min_scale_x ...), and optionally of the base colours (min_r ... max_b).
- `vertex` element, uint32 each: packed_position 11-10-11 bits and packed_scale 11-10-11 bits,
  unorm values lerped between the chunk bounds; packed_rotation 2-10-10-10 (index of the largest
  of rot_0..rot_3, then the other three as unorm (v / sqrt(2) + 0.5)); packed_color 8-8-8-8
  (r, g, b lerped between the chunk colour bounds when present, then the activated opacity).
- optional `sh` element: f_rest_0..M-1 as uint8 in the INRIA channel-major order,
  v = trunc((x / 8 + 0.5) * 256); decoded at the bucket centre, 0 and 255 at the ends.
"""

from __future__ import annotations

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.ply_binary import BinaryPly, columns
from viewer.formats.quaternions import expand_smallest_three, unpack_smallest_three
from viewer.formats.sh_layout import (
    assemble_sh,
    dc_from_rgb,
    degree_for_rest_count,
    rest_from_channel_major,
)
from viewer.scene import GaussianScene

CHUNK_SIZE = 256
POSITION_BOUNDS = tuple(f"{end}_{axis}" for end in ("min", "max") for axis in "xyz")
SCALE_BOUNDS = tuple(f"{end}_scale_{axis}" for end in ("min", "max") for axis in "xyz")
COLOUR_BOUNDS = tuple(f"{end}_{channel}" for end in ("min", "max") for channel in "rgb")
PACKED = ("packed_position", "packed_rotation", "packed_scale", "packed_color")

_SHIFTS_11_10_11 = np.array([21, 11, 0], dtype=np.uint32)
_MASKS_11_10_11 = np.array([0x7FF, 0x3FF, 0x7FF], dtype=np.uint32)
_SHIFTS_8888 = np.array([24, 16, 8, 0], dtype=np.uint32)
_SH_UNORM = np.concatenate([[0.0], (np.arange(1, 255) + 0.5) / 256.0, [1.0]])  # bucket centres
_SH_FROM_BYTE = ((_SH_UNORM - 0.5) * 8.0).astype(np.float32)  # [256] decoded f_rest value


def is_compressed_ply(ply: BinaryPly) -> bool:
    """Whether the PLY holds a `chunk` element and packed vertex properties."""
    vertex = ply.elements.get("vertex")
    return "chunk" in ply.elements and vertex is not None and PACKED[0] in vertex.property_names


def _unpack_11_10_11(packed: np.ndarray) -> np.ndarray:
    """[N, 3] float32 unorm values of [N] uint32 words with 11, 10 and 11 bit fields."""
    fields = (packed[:, None] >> _SHIFTS_11_10_11) & _MASKS_11_10_11
    return fields.astype(np.float32) / _MASKS_11_10_11.astype(np.float32)


def _lerp(bounds: np.ndarray, t: np.ndarray) -> np.ndarray:
    """[N, 3] float32 lerp between per-row bounds [N, 6] (3 minima, then 3 maxima)."""
    return bounds[:, :3] * (1.0 - t) + bounds[:, 3:] * t


def _unpack_rotations(packed: np.ndarray) -> np.ndarray:
    """[N, 4] float32 (w, x, y, z) quaternions of [N] uint32 2-10-10-10 words."""
    largest, fields = unpack_smallest_three(packed)
    stored = (fields.astype(np.float32) / 1023.0 - 0.5) * np.float32(np.sqrt(2.0))
    return expand_smallest_three(largest, stored)


def _read_sh_rest(ply: BinaryPly, count: int) -> np.ndarray:
    """[N, K - 1, 3] float32 higher-order SH of the optional `sh` element."""
    if "sh" not in ply.elements:
        return np.zeros((count, 0, 3), dtype=np.float32)
    element = ply.elements["sh"]
    degree_for_rest_count(len(element.property_names), ply.path)
    names = tuple(f"f_rest_{i}" for i in range(len(element.property_names)))
    ply.require("sh", names, kind="u")
    if element.count != count:
        raise SceneError(ply.path, f"'sh' has {element.count} rows for {count} vertices")
    sh_bytes = columns(ply.read("sh"), names, dtype=np.uint8)  # [N, M] uint8
    return rest_from_channel_major(_SH_FROM_BYTE[sh_bytes])


def read_compressed_ply(ply: BinaryPly) -> GaussianScene:
    """Decode a SuperSplat compressed .ply.

    Raises:
        SceneError: on missing or mistyped properties, a chunk count that does not match, or
            more Gaussians than the memory available holds.
    """
    vertex = ply.require("vertex", PACKED, kind="u")
    chunk = ply.require("chunk", POSITION_BOUNDS + SCALE_BOUNDS, kind="f")
    expected_chunks = -(-vertex.count // CHUNK_SIZE)
    if chunk.count != expected_chunks:
        raise SceneError(
            ply.path,
            f"{chunk.count} chunks for {vertex.count} vertices (expected {expected_chunks})",
        )
    rest = len(ply.elements["sh"].property_names) if "sh" in ply.elements else 0
    # the decoded scene, plus the per-row chunk bounds [N, 18] and packed words [N, 4], and the
    # file's rows (memory-mapped)
    sh_coeffs = rest // 3 + 1
    needed = decoded_bytes(vertex.count, sh_coeffs) + vertex.count * 4 * (18 + 4) + ply.data_bytes
    check_decoded_size(ply.path, vertex.count, needed, sh_coeffs)
    has_colours = all(name in chunk.property_names for name in COLOUR_BOUNDS)
    bounds_names = POSITION_BOUNDS + SCALE_BOUNDS + (COLOUR_BOUNDS if has_colours else ())
    ply.require("chunk", bounds_names, kind="f")
    bounds = np.repeat(columns(ply.read("chunk"), bounds_names), CHUNK_SIZE, axis=0)
    bounds = bounds[: vertex.count]  # [N, 12 or 18] float32 bounds of each row's chunk
    packed = columns(ply.read("vertex"), PACKED, dtype=np.uint32)  # [N, 4] uint32
    rgba = ((packed[:, 3:4] >> _SHIFTS_8888) & np.uint32(0xFF)).astype(np.float32) / 255.0
    rgb = _lerp(bounds[:, 12:18], rgba[:, :3]) if has_colours else rgba[:, :3]
    sh = assemble_sh(dc_from_rgb(rgb), _read_sh_rest(ply, vertex.count))
    return build_scene(
        ply.path,
        means=_lerp(bounds[:, 0:6], _unpack_11_10_11(packed[:, 0])),
        rotations=_unpack_rotations(packed[:, 1]),
        sh=sh,
        log_scales=_lerp(bounds[:, 6:12], _unpack_11_10_11(packed[:, 2])),
        opacities=rgba[:, 3],
        file_format="SuperSplat compressed .ply",
    )
