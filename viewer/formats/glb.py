"""glTF 2.0 with KHR_gaussian_splatting, read: binary (.glb) and JSON (.gltf); writer: glb_write.py.

The two share everything but how the document and the buffers are obtained: a .glb's JSON and
BIN chunks (gltf_accessors.py), a .gltf's JSON file and its buffers' files or data URIs
(gltf_buffers.py). Every primitive that carries the extension is read (mode POINTS), their
Gaussians concatenated; attribute conventions and axes as gltf_splats.py, accessors as
gltf_accessors.py. A primitive whose extension object is extended by
KHR_gaussian_splatting_compression_spz_2 takes its Gaussians from the SPZ blob in the buffer view
that extension names, decoded by the .spz reader: the blob is packed from glTF's Left-Up-Front
axes (the extension requires it), which the SPZ library stores as its RUB and the .spz reader
turns to the .ply axes like any .spz.
Refused with a SceneError: besides what the container and accessor checks refuse, node transforms
(the scene would need them applied), partial SH degrees and other extensions of the extension.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.gltf_accessors import (
    Accessors,
    BufferLoader,
    accessor_count,
    glb_binary,
    glb_buffers,
    glb_document,
    json_list,
)
from viewer.formats.gltf_buffers import declared_bytes, gltf_buffers
from viewer.formats.gltf_splats import (
    EXTENSION,
    MAX_DEGREE,
    OPACITY,
    POINTS_MODE,
    ROTATION,
    SCALE,
    flip_axes,
    sh_name,
)
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.sh_layout import dc_from_rgb
from viewer.formats.spz import decode_spz
from viewer.input_files import file_size, open_input, read_json
from viewer.scene import GaussianScene

SPZ_EXTENSION = "KHR_gaussian_splatting_compression_spz_2"
NODE_TRANSFORMS = ("matrix", "translation", "rotation", "scale")


def _spz_view(path: Path, splats: dict[str, Any]) -> object | None:
    """The buffer view of the SPZ blob a KHR_gaussian_splatting object names, or None.

    Raises:
        SceneError: for an extension of the extension other than the SPZ one.
    """
    extensions = splats.get("extensions")
    if not extensions:
        return None
    if not isinstance(extensions, dict) or set(extensions) != {SPZ_EXTENSION}:
        names = ", ".join(map(repr, extensions))
        raise SceneError(path, f"{EXTENSION} extended by {names}: not read")
    spz = extensions[SPZ_EXTENSION]
    if not isinstance(spz, dict) or "bufferView" not in spz:
        raise SceneError(path, f"{SPZ_EXTENSION} names no bufferView")
    return spz["bufferView"]


def _primitives(path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The primitives that carry KHR_gaussian_splatting, checked."""
    for node in json_list(path, document, "nodes"):
        if isinstance(node, dict) and any(key in node for key in NODE_TRANSFORMS):
            raise SceneError(
                path, "glTF node transforms are not supported (splats are read as stored)"
            )
    found = []
    for mesh in json_list(path, document, "meshes"):
        primitives = mesh.get("primitives", []) if isinstance(mesh, dict) else []
        for primitive in primitives if isinstance(primitives, list) else []:
            extensions = primitive.get("extensions") if isinstance(primitive, dict) else None
            splats = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
            if not isinstance(splats, dict):
                continue
            if primitive.get("mode", 4) != POINTS_MODE or not isinstance(
                primitive.get("attributes"), dict
            ):
                raise SceneError(path, f"a {EXTENSION} primitive must be POINTS with attributes")
            found.append(primitive)
    if not found:
        raise SceneError(path, f"no mesh primitive carries {EXTENSION}")
    return found


def _degree(path: Path, attributes: dict[str, Any]) -> int:
    """SH degree of a primitive's attributes (whole degrees, lower ones present)."""
    degree = 0
    for d in range(1, MAX_DEGREE + 1):
        present = [sh_name(d, c) in attributes for c in range(2 * d + 1)]
        if any(present) and (not all(present) or degree != d - 1):
            raise SceneError(path, f"SH degree {d} is only partly present")
        degree = d if all(present) else degree
    return degree


def _attributes(path: Path, reader: Accessors, attributes: dict[str, Any]) -> dict[str, np.ndarray]:
    """Positions, (w, x, y, z) rotations, scales, opacities and SH (glTF axes) of a primitive."""
    for name in ("POSITION", ROTATION, SCALE, OPACITY):
        if name not in attributes:
            raise SceneError(path, f"a {EXTENSION} primitive has no {name} attribute")
    arrays = {
        "means": reader.read(attributes["POSITION"], "VEC3", "POSITION"),
        "rotations": reader.read(attributes[ROTATION], "VEC4", ROTATION)[:, [3, 0, 1, 2]],
        "scales": reader.read(attributes[SCALE], "VEC3", SCALE),
        "opacities": reader.read(attributes[OPACITY], "SCALAR", OPACITY)[:, 0],
    }
    degree = _degree(path, attributes)
    names = [sh_name(d, c) for d in range(degree + 1) for c in range(2 * d + 1)]
    sh = np.empty((arrays["means"].shape[0], len(names), 3), dtype=np.float32)
    for k, name in enumerate(names):
        if k == 0 and name not in attributes:
            if "COLOR_0" not in attributes:
                raise SceneError(path, f"no {name} nor COLOR_0: the Gaussians have no colour")
            colour = reader.read(attributes["COLOR_0"], "VEC4", "COLOR_0")
            sh[:, 0] = dc_from_rgb(colour[:, :3])
            continue
        sh[:, k] = reader.read(attributes[name], "VEC3", name)
    arrays["sh"] = sh
    counts = {len(array) for array in arrays.values()}
    if len(counts) > 1:
        raise SceneError(
            path, f"the attributes of a primitive hold different counts {sorted(counts)}"
        )
    return arrays


def _spz_arrays(path: Path, reader: Accessors, view: object) -> dict[str, np.ndarray]:
    """The arrays of _attributes (glTF axes) from an SPZ blob."""
    scene = decode_spz(path, reader.view_bytes(view, SPZ_EXTENSION))
    means, rotations, sh = flip_axes(scene.means, scene.rotations, scene.sh)  # .ply -> glTF
    return {
        "means": means,
        "rotations": rotations,
        "scales": scene.scales,
        "opacities": scene.opacities,
        "sh": sh,
    }


def _scene(
    path: Path,
    document: dict[str, Any],
    stored: int,
    buffers: Callable[[], BufferLoader],
    container: str,
) -> GaussianScene:
    """The Gaussians of a glTF document, its buffers from `buffers()` (called once it is checked).

    `stored` is the bytes the container holds in memory besides the decoded scene; `container`
    starts the scene's file_format ("glTF 2.0 binary (.glb").
    """
    primitives = _primitives(path, document)
    spz_views = [_spz_view(path, p["extensions"][EXTENSION]) for p in primitives]
    plain = [p["attributes"] for p, v in zip(primitives, spz_views, strict=True) if v is None]
    count = sum(accessor_count(path, document, a.get("POSITION")) for a in plain)
    kept = max([(_degree(path, attributes) + 1) ** 2 for attributes in plain], default=1)
    check_decoded_size(path, count, decoded_bytes(count, kept) + stored, kept)
    reader = Accessors(path, document, buffers())
    parts = [
        _attributes(path, reader, p["attributes"])
        if view is None
        else _spz_arrays(path, reader, view)
        for p, view in zip(primitives, spz_views, strict=True)
    ]
    degrees = {part["sh"].shape[1] for part in parts}
    if len(degrees) > 1:
        raise SceneError(path, "primitives of different SH degrees")
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    means, rotations, sh = flip_axes(joined["means"], joined["rotations"], joined["sh"])
    # a negative scale is invalid: NaN, so that the scene drops that Gaussian with its warning
    scales = np.where(joined["scales"] < 0, np.float32(np.nan), joined["scales"])
    variant = f", {SPZ_EXTENSION}" if any(view is not None for view in spz_views) else ""
    return build_scene(
        path,
        means,
        rotations,
        sh,
        scales=scales,
        opacities=np.clip(joined["opacities"], 0.0, 1.0),
        file_format=f"{container}, {EXTENSION}{variant})",
    )


def read_glb(path: Path) -> GaussianScene:
    """Read a .glb holding KHR_gaussian_splatting primitives.

    Raises:
        SceneError: for a malformed, truncated, unsupported or too large file.
    """
    size = file_size(path)
    with open_input(path) as file:
        document, left = glb_document(path, file, size)
        return _scene(
            path,
            document,
            size,
            lambda: glb_buffers(path, glb_binary(path, file, left)),
            "glTF 2.0 binary (.glb",
        )


def read_gltf(path: Path) -> GaussianScene:
    """Read a .gltf (JSON) holding KHR_gaussian_splatting primitives, its buffers beside it.

    Raises:
        SceneError: naming the .gltf, for a malformed, unsupported or too large document, or a
            buffer that leaves its folder, is short or is not a file or a base64 data URI.
    """
    document = read_json(path, "a glTF 2.0 JSON file")
    if not isinstance(document, dict):
        raise SceneError(path, "not a glTF 2.0 JSON file (not a JSON object)")
    stored = file_size(path) + declared_bytes(path, document)
    return _scene(path, document, stored, lambda: gltf_buffers(path), "glTF 2.0 (.gltf")
