"""The buffers of a glTF 2.0 JSON file (.gltf): files beside it or base64 data URIs.

A .gltf holds no binary of its own: each buffer's `uri` is either a relative path (percent-
encoded, as a URI reference) to a file in the .gltf's folder, or a data URI of
'application/octet-stream' or 'application/gltf-buffer' in base64. Refused with a SceneError
naming the .gltf: a buffer without a uri, a uri with another scheme (http:, file:, ...), an
absolute path, one with a '..' part or a symlink whose target leaves the folder (as SOG's files:
sog_files.file_beside), a file shorter than the buffer's byteLength (only byteLength bytes of a
longer one are read), and a data URI that is not base64 or does not decode to exactly byteLength
bytes (its text is bounded before it is decoded). The reader checks the declared lengths against
the memory available (declared_bytes) before any buffer is read.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from viewer.errors import SceneError
from viewer.formats.gltf_accessors import BufferLoader, json_int, json_list
from viewer.formats.sog_files import file_beside
from viewer.input_files import file_size, open_input

DATA_PREFIXES = ("data:application/octet-stream;base64,", "data:application/gltf-buffer;base64,")


def declared_bytes(path: Path, document: dict[str, Any]) -> int:
    """The total byteLength of a glTF document's buffers."""
    buffers = json_list(path, document, "buffers")
    return sum(
        json_int(path, buffer, "byteLength", f"buffer {index}") if isinstance(buffer, dict) else 0
        for index, buffer in enumerate(buffers)
    )


def _data_uri(path: Path, what: str, uri: str, length: int) -> bytes:
    """The bytes of a base64 data URI, exactly `length` of them."""
    prefix = next((p for p in DATA_PREFIXES if uri[: len(p)].lower() == p), None)
    if prefix is None:
        kind = uri[5 : uri.find(",")] if "," in uri else uri[5:40]
        raise SceneError(
            path, f"{what} is a data URI of {kind!r}, not base64 application/octet-stream"
        )
    text = uri[len(prefix) :]
    if len(text) > 4 * ((length + 2) // 3):  # base64 of `length` bytes is no longer
        raise SceneError(path, f"{what}: its data URI holds more than its {length:,} bytes")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SceneError(path, f"{what}: its data URI is not base64 ({exc})") from None
    if len(data) != length:
        raise SceneError(
            path, f"{what}: its data URI holds {len(data):,} bytes, its byteLength {length:,}"
        )
    return data


def _file(path: Path, what: str, uri: str, length: int) -> bytes:
    """The first `length` bytes of the file beside the .gltf that `uri` names."""
    scheme = urlsplit(uri).scheme
    if scheme:
        raise SceneError(
            path, f"{what} is a '{scheme}:' URI (only files beside the .gltf and data URIs)"
        )
    name = unquote(uri)
    source = file_beside(path, name, "the glTF")
    try:
        size = file_size(source)
        if size < length:
            raise SceneError(source, f"{size:,} bytes, shorter than its byteLength {length:,}")
        with open_input(source) as file:
            data = file.read(length)
    except SceneError as exc:  # named by the .gltf, the file it names in the line
        raise SceneError(path, f"{what}: '{name}': {exc.problem}") from None
    except OSError as exc:
        raise SceneError(path, f"{what}: '{name}' cannot be read ({exc.strerror or exc})") from None
    if len(data) < length:  # the file shrank since its size was taken
        raise SceneError(path, f"{what}: '{name}' is shorter than its byteLength {length:,}")
    return data


def gltf_buffers(path: Path) -> BufferLoader:
    """The buffers of the .gltf at `path`, each read when an accessor first needs it."""

    def load(index: int, buffer: dict[str, Any], what: str) -> bytes:
        owner = f"buffer {index} (of {what})"
        length = json_int(path, buffer, "byteLength", f"buffer {index}")
        uri = buffer.get("uri")
        if not isinstance(uri, str):
            raise SceneError(path, f"{owner} has no uri (a .gltf's buffers are files or data)")
        if uri[:5].lower() == "data:":
            return _data_uri(path, owner, uri, length)
        return _file(path, owner, uri, length)

    return load
