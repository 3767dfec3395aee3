"""glTF 2.0 binary (.glb) with KHR_gaussian_splatting, read (the writer is glb_write.py).

Every primitive that carries the extension is read (mode POINTS), their Gaussians concatenated;
attribute conventions and axes as gltf_splats.py. Accessors may be float or, where the extension
allows it, (normalised) integers, interleaved or not; they must lie in the GLB's BIN chunk.
Refused with a SceneError: a container whose header or chunks do not add up, accessors or views
outside their buffer, sparse accessors, external buffers, node transforms (the scene would need
them applied), partial SH degrees, and the SPZ-compressed variant (not read yet).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
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
from viewer.input_files import read_bytes
from viewer.scene import GaussianScene

GLB_MAGIC = b"glTF"
JSON_CHUNK = 0x4E4F534A  # "JSON"
BIN_CHUNK = 0x004E4942  # "BIN\0"
COMPONENTS: dict[int, np.dtype[Any]] = {
    5120: np.dtype("i1"),
    5121: np.dtype("u1"),
    5122: np.dtype("<i2"),
    5123: np.dtype("<u2"),
    5125: np.dtype("<u4"),
    5126: np.dtype("<f4"),
}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
NODE_TRANSFORMS = ("matrix", "translation", "rotation", "scale")


def _chunks(path: Path, data: bytes) -> tuple[Any, bytes]:
    """The JSON document and the BIN chunk (b"" when absent) of a GLB file's bytes."""
    if len(data) < 20 or data[:4] != GLB_MAGIC:
        raise SceneError(path, "not a .glb file (no 'glTF' header)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise SceneError(path, f"glTF binary version {version} (readable: 2)")
    if length > len(data):
        raise SceneError(
            path, f"truncated: the header declares {length:,} bytes, found {len(data):,}"
        )
    chunks: list[tuple[int, bytes]] = []
    offset = 12
    while offset + 8 <= length:
        size, kind = struct.unpack_from("<II", data, offset)
        if size > length - offset - 8:
            raise SceneError(path, f"truncated: a chunk of {size:,} bytes runs past the file's end")
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != JSON_CHUNK:
        raise SceneError(path, "the .glb has no JSON chunk first")
    try:
        document = json.loads(chunks[0][1])
    except (ValueError, RecursionError) as exc:
        raise SceneError(path, f"the .glb's JSON chunk is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise SceneError(path, "the .glb's JSON chunk is not a JSON object")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == BIN_CHUNK else b""
    return document, binary


def _list(path: Path, document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise SceneError(path, f"glTF '{key}' is not a list")
    return value


def _item(path: Path, items: list[Any], index: object, what: str) -> dict[str, Any]:
    """items[index] when `index` is a valid index of a JSON object."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
        raise SceneError(path, f"glTF {what} {index!r} does not exist")
    if not isinstance(items[index], dict):
        raise SceneError(path, f"glTF {what} {index} is not an object")
    return items[index]


def _int(path: Path, owner: dict[str, Any], key: str, what: str, default: int | None = None) -> int:
    value = owner.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SceneError(path, f"glTF {what}.{key} is {value!r}, not a non-negative integer")
    return value


class _Accessors:
    """Reads accessors of one GLB: the JSON document and its BIN chunk."""

    def __init__(self, path: Path, document: dict[str, Any], binary: bytes) -> None:
        self.path, self.binary = path, binary
        self.accessors = _list(path, document, "accessors")
        self.views = _list(path, document, "bufferViews")
        self.buffers = _list(path, document, "buffers")

    def count(self, index: object) -> int:
        """The element count of accessor `index`."""
        return _int(
            self.path, _item(self.path, self.accessors, index, "accessor"), "count", "accessor"
        )

    def read(self, index: object, kind: str, name: str) -> np.ndarray:
        """[count, width] float32 values of accessor `index`, of type `kind` ('VEC3', ...).

        Normalised integers map to [0, 1] (unsigned) or [-1, 1] (signed), as glTF defines.
        """
        path = self.path
        accessor = _item(path, self.accessors, index, f"accessor of {name}")
        if accessor.get("type") != kind:
            raise SceneError(path, f"{name} is {accessor.get('type')!r}, not {kind}")
        if "sparse" in accessor or "bufferView" not in accessor:
            raise SceneError(path, f"{name}: sparse accessors or ones without data are not read")
        component = accessor.get("componentType")
        dtype = COMPONENTS.get(component) if isinstance(component, int) else None
        if dtype is None:
            raise SceneError(path, f"{name} has component type {accessor.get('componentType')!r}")
        view = _item(path, self.views, accessor["bufferView"], f"bufferView of {name}")
        buffer = _item(path, self.buffers, view.get("buffer"), f"buffer of {name}")
        if view.get("buffer") != 0 or "uri" in buffer:
            raise SceneError(
                path, f"{name} lies in an external buffer (only the GLB's own is read)"
            )
        count = _int(path, accessor, "count", name)
        width = WIDTHS[kind]
        element = width * dtype.itemsize
        stride = _int(path, view, "byteStride", name, element) or element
        view_start = _int(path, view, "byteOffset", name, 0)
        view_end = view_start + _int(path, view, "byteLength", name)
        start = view_start + _int(path, accessor, "byteOffset", name, 0)
        end = start + (count - 1) * stride + element if count else start
        if stride < element or view_end > len(self.binary) or end > view_end:
            raise SceneError(
                path, f"{name}: {count:,} elements run past their buffer view or the BIN chunk"
            )
        raw = np.ndarray(
            (count, width),
            dtype,
            buffer=self.binary,
            offset=start,
            strides=(stride, dtype.itemsize),
        )
        values = raw.astype(np.float32)
        if accessor.get("normalized") and dtype.kind in "iu":
            top = np.float32(2 ** (8 * dtype.itemsize - (dtype.kind == "i")) - 1)
            values = np.maximum(values / top, np.float32(-1.0))
        return values


def _primitives(path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The primitives that carry KHR_gaussian_splatting, checked."""
    for node in _list(path, document, "nodes"):
        if isinstance(node, dict) and any(key in node for key in NODE_TRANSFORMS):
            raise SceneError(
                path, "glTF node transforms are not supported (splats are read as stored)"
            )
    found = []
    for mesh in _list(path, document, "meshes"):
        primitives = mesh.get("primitives", []) if isinstance(mesh, dict) else []
        for primitive in primitives if isinstance(primitives, list) else []:
            extensions = primitive.get("extensions") if isinstance(primitive, dict) else None
            splats = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
            if not isinstance(splats, dict):
                continue
            if splats.get("extensions"):
                names = ", ".join(map(str, splats["extensions"]))
                raise SceneError(path, f"{EXTENSION} extended by {names}: not read yet")
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


def _arrays(
    path: Path, reader: _Accessors, attributes: dict[str, Any], degree: int
) -> dict[str, np.ndarray]:
    """Positions, rotations, scales, opacities and SH (in glTF axes) of one primitive."""
    for name in ("POSITION", ROTATION, SCALE, OPACITY):
        if name not in attributes:
            raise SceneError(path, f"a {EXTENSION} primitive has no {name} attribute")
    arrays = {
        "means": reader.read(attributes["POSITION"], "VEC3", "POSITION"),
        "rotations": reader.read(attributes[ROTATION], "VEC4", ROTATION)[:, [3, 0, 1, 2]],
        "scales": reader.read(attributes[SCALE], "VEC3", SCALE),
        "opacities": reader.read(attributes[OPACITY], "SCALAR", OPACITY)[:, 0],
    }
    coefficients = [sh_name(0, 0)] + [
        sh_name(d, c) for d in range(1, degree + 1) for c in range(2 * d + 1)
    ]
    sh = np.empty((arrays["means"].shape[0], len(coefficients), 3), dtype=np.float32)
    for k, name in enumerate(coefficients):
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


def read_glb(path: Path) -> GaussianScene:
    """Read a .glb holding KHR_gaussian_splatting primitives.

    Raises:
        SceneError: for a malformed, truncated, unsupported or too large file.
    """
    data = read_bytes(path)
    document, binary = _chunks(path, data)
    reader = _Accessors(path, document, binary)
    primitives = _primitives(path, document)
    degrees = {_degree(path, primitive["attributes"]) for primitive in primitives}
    if len(degrees) > 1:
        raise SceneError(path, f"primitives of different SH degrees {sorted(degrees)}")
    degree = degrees.pop()
    count = sum(reader.count(primitive["attributes"].get("POSITION")) for primitive in primitives)
    kept = (degree + 1) ** 2
    check_decoded_size(path, count, decoded_bytes(count, kept) + len(data), kept)
    parts = [_arrays(path, reader, primitive["attributes"], degree) for primitive in primitives]
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    means, rotations, sh = flip_axes(joined["means"], joined["rotations"], joined["sh"])
    scales = np.where(
        joined["scales"] < 0, np.float32(np.nan), joined["scales"]
    )  # invalid: dropped
    return build_scene(
        path,
        means,
        rotations,
        sh,
        scales=scales,
        opacities=np.clip(joined["opacities"], 0.0, 1.0),
        file_format="glTF 2.0 binary (.glb, KHR_gaussian_splatting)",
    )
