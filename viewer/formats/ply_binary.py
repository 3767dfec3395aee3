"""Binary PLY container: header parsing, size checks and memory-mapped element data.

plyfile is used for writing. Reading parses the header here because plyfile has no public
header-only API and, for ASCII or list-property files, allocates the declared row count before
it finds out that the file is shorter: a lying header must fail fast with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import recfunctions

from viewer.errors import SceneError
from viewer.formats.files import map_records
from viewer.input_files import file_size, read_bytes

PLY_MAGIC = (b"ply\n", b"ply\r")
MAX_HEADER_BYTES = 1 << 20
_END_HEADER = re.compile(rb"\nend_header[ \t]*\r?\n")
MAX_COUNT_DIGITS = 18  # a row count past 10^18 is no file's (and int() stops at 4300 digits)
_BYTE_ORDER = {"binary_little_endian": "<", "binary_big_endian": ">"}
_SCALAR_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}


def is_ply(head: bytes) -> bool:
    """Whether the file's first bytes are the PLY magic line."""
    return head[:4] in PLY_MAGIC


@dataclass(frozen=True)
class PlyElement:
    """One element of a binary PLY file.

    Attributes:
        name: element name (vertex, chunk, ...).
        count: number of rows the header declares.
        dtype: structured row dtype in the file's byte order, one field per property.
        offset: byte offset of the element's first row in the file.
    """

    name: str
    count: int
    dtype: np.dtype
    offset: int

    @property
    def property_names(self) -> tuple[str, ...]:
        """The element's property names in file order."""
        return self.dtype.names or ()


@dataclass(frozen=True)
class BinaryPly:
    """A binary PLY file whose header has been parsed and whose size has been checked."""

    path: Path
    elements: dict[str, PlyElement]

    def element(self, name: str) -> PlyElement:
        """The element called `name`.

        Raises:
            SceneError: when the file has no such element.
        """
        if name not in self.elements:
            found = ", ".join(self.elements) or "none"
            raise SceneError(self.path, f"no '{name}' element in the PLY header (found: {found})")
        return self.elements[name]

    def require(self, name: str, properties: tuple[str, ...], kind: str) -> PlyElement:
        """The element `name`, checked to hold `properties` of numpy dtype kind `kind`.

        Raises:
            SceneError: naming the missing properties, or those of the wrong type.
        """
        element = self.element(name)
        missing = [p for p in properties if p not in element.property_names]
        if missing:
            raise SceneError(self.path, f"'{name}' element lacks properties: {', '.join(missing)}")
        wrong = [p for p in properties if element.dtype[p].kind not in kind]
        if wrong:
            found = ", ".join(f"{p} ({element.dtype[p].name})" for p in wrong)
            raise SceneError(self.path, f"'{name}' properties of an unexpected type: {found}")
        return element

    @property
    def data_bytes(self) -> int:
        """Bytes of every element's rows (what reading them maps into memory)."""
        return sum(e.count * e.dtype.itemsize for e in self.elements.values())

    def read(self, name: str) -> np.ndarray:
        """[count] structured rows of element `name`, memory-mapped (no copy)."""
        element = self.element(name)
        return map_records(self.path, element.dtype, element.offset, element.count)


def columns(rows: np.ndarray, names: tuple[str, ...], dtype: type = np.float32) -> np.ndarray:
    """[N, len(names)] array of the named fields of structured `rows`.

    A strided view when the fields share `dtype` (the common all-float32 case), else a converted
    copy; call np.array on the result to own the data.
    """
    if not names:
        return np.empty((rows.shape[0], 0), dtype=dtype)
    return recfunctions.structured_to_unstructured(rows[list(names)], dtype=dtype, copy=False)


def open_binary_ply(path: Path) -> BinaryPly:
    """Parse a binary PLY header and check that the file holds all the rows it declares.

    Raises:
        SceneError: on a missing/unreadable file, a malformed or ASCII header, list properties,
            or a file shorter than its header declares.
    """
    head = read_bytes(path, MAX_HEADER_BYTES)
    if not is_ply(head):
        raise SceneError(path, "not a PLY file (it does not start with 'ply')")
    end = _END_HEADER.search(head)
    if end is None:
        where = "in the first 1 MiB" if len(head) == MAX_HEADER_BYTES else "(truncated header)"
        raise SceneError(path, f"no 'end_header' line {where}")
    try:
        text = head[: end.start()].decode("ascii")
    except UnicodeDecodeError:
        raise SceneError(path, "the PLY header is not ASCII text") from None
    byte_order, layout = _parse_header_lines(text.splitlines()[1:], path)
    elements = {}
    offset = end.end()
    for name, count, properties in layout:
        dtype = np.dtype([(prop, byte_order + code) for prop, code in properties])
        elements[name] = PlyElement(name, count, dtype, offset)
        offset += count * dtype.itemsize
    available = file_size(path) - end.end()
    needed = offset - end.end()
    if needed > available:
        declared = ", ".join(f"{e.count} {e.name}" for e in elements.values())
        raise SceneError(
            path,
            f"truncated: the header declares {declared} rows ({needed} bytes) but only "
            f"{available} bytes follow it",
        )
    return BinaryPly(path, elements)


def _parse_header_lines(
    lines: list[str], path: Path
) -> tuple[str, list[tuple[str, int, list[tuple[str, str]]]]]:
    """Byte order ('<' or '>') and [(element, count, [(property, dtype code)])] of a header."""
    byte_order = None
    layout: list[tuple[str, int, list[tuple[str, str]]]] = []
    for line in lines:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        keyword = words[0]
        if keyword == "format" and len(words) == 3:
            if words[1] == "ascii":
                raise SceneError(path, "ASCII PLY is not supported; save it as binary PLY")
            if words[1] not in _BYTE_ORDER:
                raise SceneError(path, f"unknown PLY format {words[1]!r:.40}")
            byte_order = _BYTE_ORDER[words[1]]
        elif keyword == "element" and len(words) == 3:
            if not words[2].isdigit():
                raise SceneError(path, f"bad row count in header line {line!r:.60}")
            if len(words[2].lstrip("0")) > MAX_COUNT_DIGITS:
                raise SceneError(path, f"{len(words[2]):,}-digit row count in the header")
            if any(words[1] == name for name, _, _ in layout):
                raise SceneError(path, f"element {words[1]!r:.40} is declared twice")
            layout.append((words[1], int(words[2]), []))
        elif keyword == "property" and layout and len(words) >= 3:
            layout[-1][2].append(_parse_property(words, layout[-1], path))
        else:
            raise SceneError(path, f"unexpected PLY header line {line!r:.60}")
    if byte_order is None:
        raise SceneError(path, "the PLY header has no 'format' line")
    return byte_order, layout


def _parse_property(
    words: list[str], element: tuple[str, int, list[tuple[str, str]]], path: Path
) -> tuple[str, str]:
    """(name, dtype code) of one 'property' header line of `element`."""
    if words[1] == "list":
        raise SceneError(
            path, f"list property {words[-1]!r:.40} of element {element[0]!r:.40} is not supported"
        )
    if len(words) != 3 or words[1] not in _SCALAR_TYPES:
        raise SceneError(path, f"bad property line {' '.join(words)!r:.60}")
    if any(words[2] == name for name, _ in element[2]):
        raise SceneError(path, f"property {words[2]!r:.40} is declared twice")
    return words[2], _SCALAR_TYPES[words[1]]
