"""The glTF 2.0 binary container (.glb) and glTF accessors, for the KHR_gaussian_splatting reader.

A GLB is a 12-byte header (magic 'glTF', version 2, total length) and chunks of (length, type,
data): a JSON chunk first, then the BIN chunk that the document's buffer 0 names. An accessor
reads `count` elements of `type` (SCALAR, VEC2..4) of a component type from a buffer view,
tightly packed or `byteStride` apart; normalised integers map to [0, 1] (unsigned) or [-1, 1]
(signed) as glTF defines. Everything is checked against its buffer's bounds before it is read.
Where a buffer's bytes come from is the container's: a .glb's BIN chunk (here), a .gltf's files
or data URIs (gltf_buffers.py); `Accessors` asks for a buffer by index when a view first needs it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from viewer.errors import SceneError
from viewer.input_files import MAX_JSON_BYTES

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


def _read(path: Path, file: BinaryIO, size: int) -> bytes:
    """`size` bytes from `file`; SceneError for fewer or a failed read."""
    try:
        data = file.read(size)
    except OSError as exc:
        raise SceneError(path, f"cannot read ({exc.strerror or exc})") from None
    if len(data) < size:
        raise SceneError(path, f"truncated: {size:,} bytes expected, {len(data):,} left")
    return data


def glb_document(path: Path, file: BinaryIO, file_bytes: int) -> tuple[dict[str, Any], int]:
    """The JSON document of an open .glb of `file_bytes` bytes, and the bytes left after it.

    Reads the header and the JSON chunk only (the BIN chunk: glb_binary).
    """
    head = file.read(20)
    if len(head) < 20 or head[:4] != GLB_MAGIC:
        raise SceneError(path, "not a .glb file (no 'glTF' header)")
    version, length, text_length, kind = struct.unpack_from("<IIII", head, 4)
    if version != 2:
        raise SceneError(path, f"glTF binary version {version} (readable: 2)")
    if length > file_bytes:
        raise SceneError(
            path, f"truncated: the header declares {length:,} bytes, found {file_bytes:,}"
        )
    if kind != JSON_CHUNK:
        raise SceneError(path, "the .glb has no JSON chunk first")
    if text_length > length - 20:
        raise SceneError(path, f"truncated: a chunk of {text_length:,} bytes runs past the end")
    if text_length > MAX_JSON_BYTES:
        raise SceneError(path, f"a JSON chunk of {text_length / 2**20:,.0f} MiB is too large")
    try:
        document = json.loads(_read(path, file, text_length))
    except (ValueError, RecursionError) as exc:
        raise SceneError(path, f"the .glb's JSON chunk is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise SceneError(path, "the .glb's JSON chunk is not a JSON object")
    return document, length - 20 - text_length


def glb_binary(path: Path, file: BinaryIO, left: int) -> bytes:
    """The BIN chunk that follows the JSON chunk in `left` bytes of an open .glb (b"": none)."""
    if left < 8:
        return b""
    size, kind = struct.unpack("<II", _read(path, file, 8))
    if kind != BIN_CHUNK:
        return b""
    if size > left - 8:
        raise SceneError(path, f"truncated: a chunk of {size:,} bytes runs past the end")
    return _read(path, file, size)


def accessor_count(path: Path, document: dict[str, Any], index: object) -> int:
    """The element count of accessor `index` of a glTF document."""
    accessor = _item(path, json_list(path, document, "accessors"), index, "accessor")
    return json_int(path, accessor, "count", "accessor")


def json_list(path: Path, document: dict[str, Any], key: str) -> list[Any]:
    """document[key] as a list ([] when absent)."""
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


def json_int(
    path: Path, owner: dict[str, Any], key: str, what: str, default: int | None = None
) -> int:
    """owner[key] (`default` when absent), a non-negative integer; SceneError otherwise."""
    value = owner.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SceneError(path, f"glTF {what}.{key} is {value!r}, not a non-negative integer")
    return value


BufferLoader = Callable[[int, dict[str, Any], str], bytes]
"""(index, the buffer's JSON object, what needs it) -> the buffer's bytes, or a SceneError."""


def glb_buffers(path: Path, binary: bytes) -> BufferLoader:
    """The buffers of a .glb: its own (buffer 0 without a uri) is the BIN chunk, none other."""

    def load(index: int, buffer: dict[str, Any], what: str) -> bytes:
        if index != 0 or "uri" in buffer:
            raise SceneError(
                path, f"{what} lies in an external buffer (only the GLB's own is read)"
            )
        return binary

    return load


class Accessors:
    """Reads accessors of one glTF document, its buffers' bytes from the container's loader."""

    def __init__(self, path: Path, document: dict[str, Any], load: BufferLoader) -> None:
        self.path, self._load = path, load
        self.accessors = json_list(path, document, "accessors")
        self.views = json_list(path, document, "bufferViews")
        self.buffers = json_list(path, document, "buffers")
        self._loaded: dict[int, bytes] = {}

    def view_bytes(self, index: object, what: str) -> bytes:
        """The bytes of buffer view `index`."""
        view = _item(self.path, self.views, index, f"bufferView of {what}")
        binary = self._buffer(view, what)
        start = json_int(self.path, view, "byteOffset", what, 0)
        end = start + json_int(self.path, view, "byteLength", what)
        if end > len(binary):
            raise SceneError(self.path, f"{what}: its buffer view runs past its buffer")
        return binary[start:end]

    def _buffer(self, view: dict[str, Any], what: str) -> bytes:
        """The bytes of the buffer that `view` lies in (loaded once)."""
        index = view.get("buffer")
        buffer = _item(self.path, self.buffers, index, f"buffer of {what}")
        assert isinstance(index, int)  # _item checked it
        if index not in self._loaded:
            self._loaded[index] = self._load(index, buffer, what)
        return self._loaded[index]

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
        binary = self._buffer(view, name)
        count = json_int(path, accessor, "count", name)
        width = WIDTHS[kind]
        element = width * dtype.itemsize
        stride = json_int(path, view, "byteStride", name, element) or element
        view_start = json_int(path, view, "byteOffset", name, 0)
        view_end = view_start + json_int(path, view, "byteLength", name)
        start = view_start + json_int(path, accessor, "byteOffset", name, 0)
        end = start + (count - 1) * stride + element if count else start
        if stride < element or view_end > len(binary) or end > view_end:
            raise SceneError(
                path, f"{name}: {count:,} elements run past their buffer view or its buffer"
            )
        raw = np.ndarray(
            (count, width),
            dtype,
            buffer=binary,
            offset=start,
            strides=(stride, dtype.itemsize),
        )
        values = raw.astype(np.float32)
        if accessor.get("normalized") and dtype.kind in "iu":
            top = np.float32(2 ** (8 * dtype.itemsize - (dtype.kind == "i")) - 1)
            values = np.maximum(values / top, np.float32(-1.0))
        return values
