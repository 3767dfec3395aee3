"""INRIA 3D Gaussian Splatting binary .ply: read (float32 or float64 properties) and write."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.files import write_file
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.ply_binary import BinaryPly, columns
from viewer.formats.sh_layout import (
    assemble_sh,
    channel_major_rest,
    degree_for_rest_count,
    rest_from_channel_major,
)
from viewer.scene import GaussianScene

POSITION = ("x", "y", "z")
NORMAL = ("nx", "ny", "nz")
DC = ("f_dc_0", "f_dc_1", "f_dc_2")
OPACITY = ("opacity",)
SCALE = ("scale_0", "scale_1", "scale_2")
ROTATION = ("rot_0", "rot_1", "rot_2", "rot_3")
REQUIRED = (*POSITION, *DC, *OPACITY, *SCALE, *ROTATION)
_REST = re.compile(r"f_rest_(\d+)")


def rest_names(count: int) -> tuple[str, ...]:
    """f_rest_0 .. f_rest_{count-1}."""
    return tuple(f"f_rest_{i}" for i in range(count))


def _rest_properties(ply: BinaryPly) -> tuple[str, ...]:
    """The vertex element's f_rest names in index order, checked to be 0..M-1 with M an SH size."""
    names = ply.elements["vertex"].property_names
    indices = sorted(int(m.group(1)) for name in names if (m := _REST.fullmatch(name)))
    degree_for_rest_count(len(indices), ply.path)
    if indices != list(range(len(indices))):
        raise SceneError(ply.path, f"f_rest properties are not numbered 0..{len(indices) - 1}")
    return rest_names(len(indices))


def read_inria_ply(ply: BinaryPly) -> GaussianScene:
    """Decode the vertex element of an INRIA 3DGS .ply (any property order, float or double).

    Raises:
        SceneError: naming missing properties or a bad f_rest count, or more Gaussians than
            the memory available holds.
    """
    rest = inria_properties(ply)
    count = ply.elements["vertex"].count
    sh_coeffs = len(rest) // 3 + 1
    mapped = ply.data_bytes  # the rows are memory-mapped: their pages are read in
    check_decoded_size(ply.path, count, decoded_bytes(count, sh_coeffs) + mapped, sh_coeffs)
    return inria_scene(ply.path, ply.read("vertex"), rest)


def inria_properties(ply: BinaryPly) -> tuple[str, ...]:
    """The f_rest names of an INRIA .ply, its required properties checked.

    Raises:
        SceneError: naming missing properties or a bad f_rest count.
    """
    ply.require("vertex", REQUIRED, kind="f")
    rest = _rest_properties(ply)
    ply.require("vertex", rest, kind="f")
    return rest


def inria_scene(path: Path, rows: np.ndarray, rest: tuple[str, ...]) -> GaussianScene:
    """The scene of structured vertex `rows` (all of a file's, or some) with f_rest `rest`."""
    log_scales = np.array(columns(rows, SCALE))  # [N, 3] float32
    opacity_logits = np.array(columns(rows, OPACITY)[:, 0])  # [N] float32
    sh = assemble_sh(columns(rows, DC), rest_from_channel_major(columns(rows, rest)))
    return build_scene(
        path,
        means=np.array(columns(rows, POSITION)),
        rotations=np.array(columns(rows, ROTATION)),
        sh=sh,
        log_scales=log_scales,
        opacity_logits=opacity_logits,
        file_format="INRIA 3DGS .ply",
    )


def write_inria_ply(scene: GaussianScene, path: Path) -> None:
    """Write `scene` as a little-endian binary INRIA .ply (normals zero, like the INRIA code).

    Log-scales and opacity logits come from scene.stored_log_scales()/stored_opacity_logits(), so
    a scene read from a .ply is written back bit-exact.
    """
    rest = rest_names(3 * (scene.sh.shape[1] - 1))
    names = (*POSITION, *NORMAL, *DC, *rest, *OPACITY, *SCALE, *ROTATION)
    table = np.concatenate(
        [
            scene.means,
            np.zeros((scene.count, 3), dtype=np.float32),
            scene.sh[:, 0],
            channel_major_rest(scene.sh),
            scene.stored_opacity_logits()[:, None],
            scene.stored_log_scales(),
            scene.rotations,
        ],
        axis=1,
        dtype="<f4",
    )  # [N, P] float32, one column per property
    rows = table.view(np.dtype([(name, "<f4") for name in names]))[:, 0]  # [N] structured
    data = PlyData([PlyElement.describe(rows, "vertex")], text=False, byte_order="<")
    write_file(path, data.write)
