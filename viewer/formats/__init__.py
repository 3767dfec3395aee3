"""Scene files: read and write .ply (INRIA, SuperSplat compressed), .splat, .spz, SOG and .glb.

SOG is PlayCanvas's format; .glb is glTF binary with KHR_gaussian_splatting, read also as glTF
JSON (.gltf) with its buffers in files beside it or in data URIs.

Readers take .spz v2 to v4, SOG v2 bundled (.sog) or unbundled (a meta.json, or the folder that
holds it), streamed SOG (a lod-meta.json or its folder, whole at one LOD level), and INRIA
training output folders too (with their cameras.json and input.ply:
viewer.formats.context_files). Writers write SuperSplat compressed .ply for a name ending in
'.compressed.ply', .spz v4 (or v3 for older tools), SOG v2 bundled for '.sog' and unbundled for a
name ending in 'meta.json' (the images beside it).

Readers raise SceneError(path, problem) for every bad input (non-regular files included, before
they are opened); Gaussians with NaN/Inf values or zero-length quaternions are dropped with one
warning by GaussianScene.from_arrays. Writers replace their file atomically; describe_losses
says what a format would lose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.cameras_json import load_inria_cameras, parse_inria_cameras
from viewer.formats.compressed_ply import is_compressed_ply, read_compressed_ply
from viewer.formats.compressed_ply_write import write_compressed_ply
from viewer.formats.context_files import output_context
from viewer.formats.glb import read_glb, read_gltf
from viewer.formats.glb_write import write_glb
from viewer.formats.gltf_accessors import GLB_MAGIC
from viewer.formats.inria_output import output_root, scene_in_folder
from viewer.formats.losses import OUTPUT_FORMATS, describe_losses, output_format
from viewer.formats.ply import read_inria_ply, write_inria_ply
from viewer.formats.ply_binary import is_ply, open_binary_ply
from viewer.formats.sog import ZIP_MAGIC, read_sog
from viewer.formats.sog_files import META_NAME
from viewer.formats.sog_lod import read_streamed_sog
from viewer.formats.sog_meta import LOD_META_NAME
from viewer.formats.sog_write import write_sog
from viewer.formats.splat import read_splat, write_splat
from viewer.formats.spz import GZIP_MAGIC, NGSP_MAGIC, SpzWarning, read_spz
from viewer.formats.spz_write import DEFAULT_VERSION as DEFAULT_SPZ_VERSION
from viewer.formats.spz_write import write_spz
from viewer.input_files import read_bytes
from viewer.scene import GaussianScene

__all__ = [
    "DEFAULT_SPZ_VERSION",
    "READABLE_SUFFIXES",
    "WRITABLE_SUFFIXES",
    "SpzWarning",
    "describe_losses",
    "load_inria_cameras",
    "load_scene",
    "output_format",
    "parse_inria_cameras",
    "save_scene",
]


def _read_ply(path: Path) -> GaussianScene:
    """An INRIA or a SuperSplat compressed .ply, told apart by the header."""
    ply = open_binary_ply(path)
    return read_compressed_ply(ply) if is_compressed_ply(ply) else read_inria_ply(ply)


_READERS: dict[str, Callable[[Path], GaussianScene]] = {
    ".ply": _read_ply,
    ".splat": read_splat,
    ".spz": read_spz,
    ".sog": read_sog,
    META_NAME: read_sog,
    LOD_META_NAME: read_streamed_sog,
    ".glb": read_glb,
    ".gltf": read_gltf,  # JSON, by name: its buffers are files beside it or data URIs
}
_WRITERS: dict[str, Callable[[GaussianScene, Path], None]] = {
    ".ply": write_inria_ply,
    ".compressed.ply": write_compressed_ply,
    ".splat": write_splat,
    ".sog": write_sog,
    META_NAME: write_sog,
    ".glb": write_glb,
}
READABLE_SUFFIXES = tuple(_READERS)  # and INRIA training output folders, SOG folders
WRITABLE_SUFFIXES = OUTPUT_FORMATS  # ".compressed.ply" wins over ".ply"


def _reader_for(path: Path) -> Callable[[Path], GaussianScene]:
    """The reader for a file: by magic (PLY, NGSP, gzip, ZIP, glTF), else by name.

    .splat has no magic; a streamed SOG's index is named 'lod-meta.json', and an unbundled SOG
    is a JSON file whose name ends in 'meta.json'.
    """
    head = read_bytes(path, 4)
    if is_ply(head):
        return _read_ply
    if head.startswith((GZIP_MAGIC, NGSP_MAGIC)):
        return read_spz
    if head.startswith(ZIP_MAGIC):
        return read_sog
    if head.startswith(GLB_MAGIC):
        return read_glb
    name = path.name.lower()
    if name == LOD_META_NAME:
        return read_streamed_sog
    suffix = META_NAME if name.endswith(META_NAME) else path.suffix.lower()
    if suffix not in _READERS:
        readable = ", ".join(READABLE_SUFFIXES)
        raise SceneError(path, f"unknown scene format (readable: {readable} or a training folder)")
    return _READERS[suffix]


def load_scene(path: str | Path, *, lod_level: int | None = 0) -> GaussianScene:
    """Read a scene file, an INRIA training output folder or a folder of an unbundled SOG.

    A streamed SOG (lod-meta.json, or its folder) is read whole at LOD `lod_level` (0, the
    finest, by default), or with None at each leaf's coarsest level and marked `streamed`, for
    a viewer to stream the rest (viewer.stream); other formats have one level and take only 0
    (None reads them as 0).

    A .ply at <root>/point_cloud/iteration_<N>/ gets the cameras of <root>/cameras.json, named
    after their images, and the SfM points of <root>/input.ply; a broken one only warns.

    Raises:
        SceneError: for a missing, unreadable, malformed or unsupported file.
    """
    path = Path(path)
    if path.is_dir():
        path = scene_in_folder(path)
    reader = _reader_for(path)
    if lod_level and reader is not read_streamed_sog:
        raise SceneError(path, f"has one level of detail, not LOD {lod_level} (streamed SOG only)")
    with np.errstate(over="ignore", invalid="ignore"):  # corrupt values: dropped, warned once
        if reader is read_streamed_sog:
            scene = read_streamed_sog(path, lod_level)
            if lod_level is None:
                return dataclasses.replace(scene, streamed=str(path))
            return scene
        scene = reader(path)
    root = output_root(path)
    return scene if root is None else output_context(root).applied(scene)


def save_scene(
    scene: GaussianScene, path: str | Path, *, spz_version: int = DEFAULT_SPZ_VERSION
) -> None:
    """Write `scene` in the format the path's name selects (see WRITABLE_SUFFIXES), atomically.

    A name ending in '.compressed.ply' gets the SuperSplat compressed PLY (never the INRIA one),
    any other '.ply' the INRIA PLY; describe_losses(scene, path) says what the format loses.

    Args:
        scene: the Gaussians to write.
        path: the file to create or replace; readers of it see the old or the new file, whole.
        spz_version: 4 (zstd, the default) or 3 (gzip, for older tools); .spz only.

    Raises:
        SceneError: for an unknown suffix, an unwritable .spz version, or a file that cannot be
            written.
    """
    path = Path(path)
    kind = output_format(path)
    if kind is None:
        writable = ", ".join(WRITABLE_SUFFIXES)
        raise SceneError(path, f"cannot write '{path.suffix}' files (writable: {writable})")
    if kind == LOD_META_NAME:
        raise SceneError(path, "a streamed SOG is written by `splatscope convert` (its LOD tree)")
    if kind == ".spz":
        write_spz(scene, path, spz_version)
    else:
        _WRITERS[kind](scene, path)
