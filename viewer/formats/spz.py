"""Niantic .spz, versions 2, 3 and 4: read (the writer is spz_write.py).

Own code rather than a dependency: on PyPI `spz` ships only an sdist that needs a C++ toolchain,
and `gsply` pulls in numba and raises its own exception types; the format is small. Facts from
nianticlabs/spz (`load-spz.cc`, `splat-types.h`, `extensions/`):

- Version 4: a 32-byte plaintext header (magic 0x5053474e "NGSP", version, numPoints u32;
  shDegree, fractionalBits, flags, numStreams u8; tocByteOffset u32; 12 reserved bytes), then
  extension records up to tocByteOffset, then numStreams x (compressed u64, uncompressed u64),
  then one zstd stream per non-empty section in the order positions, alphas, colours, scales,
  rotations, SH (so 5 streams without SH). The library requires each uncompressed size to be
  exactly the section's size and the streams to end the file.
- Versions 1-3: one gzip stream holding a 16-byte header (magic, version, numPoints, shDegree,
  fractionalBits, flags, reserved) and the same sections back to back, then, with flag 0x2, the
  extension records.
- Sections, point-major: positions 3 x 24-bit signed fixed point (2^-fractionalBits), alphas u8
  (opacity * 255), colours 3 x u8 (dc * 0.15 * 255 + 127.5), scales 3 x u8 ((log + 10) * 16),
  rotations (v2: x, y, z as u8 (q + 1) * 127.5 with w >= 0; v3+: "smallest three" u32, 2-bit
  index of the largest of x, y, z, w then 3 x (sign bit + 9-bit magnitude / sqrt(2))), SH u8
  (v - 128) / 128, 3 (degree 1), 8, 15 or 24 (degree 4) coefficients with the channel fastest.
- Flags: 0x1 "antialiased" (trained with Mip-Splatting's 2D filter: render with the opacity
  compensation), 0x2 extension records present. Records are u32 type, u32 byteLength, payload;
  unknown types are skipped. 0xADBE0003 (Adobe coordinate system, u32 payload) names the axes
  the data is stored in; without it the axes are RUB (OpenGL).

Scenes here use the PLY/COLMAP RDF axes, so axes that differ flip on load (positions, quaternions
and the odd SH terms), as the reference loader does for `to=RDF`. The renderer stops at SH
degree 3: a degree-4 file keeps its first 15 coefficients, with a warning.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zstandard

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.quaternions import expand_smallest_three, unpack_smallest_three
from viewer.input_files import read_bytes
from viewer.scene import GaussianScene

GZIP_MAGIC = b"\x1f\x8b"
NGSP_MAGIC = b"NGSP"  # 0x5053474e as little-endian u32
SPZ_MAGIC = 0x5053474E
SUPPORTED_VERSIONS = (2, 3, 4)
LEGACY_HEADER = struct.Struct("<IIIBBBB")  # magic, version, points, degree, fraction bits, flags
V4_HEADER = struct.Struct("<IIIBBBBI12s")  # ... flags, streams, TOC offset, reserved: 32 bytes
TOC_ENTRY = struct.Struct("<QQ")  # compressed size, uncompressed size
EXTENSION_HEADER = struct.Struct("<II")  # type, byte length of the payload
FLAG_ANTIALIASED = 0x1
FLAG_HAS_EXTENSIONS = 0x2
EXTENSION_COORDINATE_SYSTEM = 0xADBE0003
MAX_LEGACY_EXTENSION_BYTES = 1 << 20  # extension records after a gzip payload (a few bytes each)
COLOUR_SCALE = 0.15  # .spz stores dc * 0.15, not C0, to keep out-of-gamut base colours
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data by more than this
MAX_ZSTD_RATIO = 1024  # the library's bound: numPoints x 9 <= file size x 1024
MAX_POINTS = 2**31 - 1  # the library holds counts in int32
SH_DIM_FOR_DEGREE = {0: 0, 1: 3, 2: 8, 3: 15, 4: 24}  # coefficients per channel above DC
MAX_KEPT_DEGREE = 3
# Axes named by the coordinate-system extension (1-8; 9-16 are rotated frames).
COORDINATE_SYSTEMS = (
    "unspecified",
    *("LDB", "RDB", "LUB", "RUB", "LDF", "RDF", "LUF", "RUF"),
    *("LFD", "RFD", "LFU", "RFU", "LBD", "RBD", "LBU", "RBU"),
)
RUB = 4
# Parity of the powers of (x, y, z) in SH basis functions 1..15 (3DGS order): the sign of a
# coefficient under axis flips (sx, sy, sz) is sx^a sy^b sz^c.
SH_PARITY = np.array(
    [
        *((0, 1, 0), (0, 0, 1), (1, 0, 0)),  # degree 1: y, z, x
        *((1, 1, 0), (0, 1, 1), (0, 0, 0), (1, 0, 1), (0, 0, 0)),  # xy, yz, 3z2-1, xz, x2-y2
        *((0, 1, 0), (1, 1, 1), (0, 1, 0), (0, 0, 1), (1, 0, 0), (0, 0, 1), (1, 0, 0)),
    ]
)
# Decoded value of each byte (float32, as the arithmetic in the reference decoder).
_ALPHA = np.arange(256, dtype=np.float32) / np.float32(255.0)
_COLOUR = (_ALPHA - np.float32(0.5)) / np.float32(COLOUR_SCALE)
_LOG_SCALE = np.arange(256, dtype=np.float32) / np.float32(16.0) - np.float32(10.0)
_SH = (np.arange(256, dtype=np.float32) - np.float32(128.0)) / np.float32(128.0)
_V2_ROTATION = np.arange(256, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
# A 10-bit field of a v3 rotation: sign bit 9, magnitude 0..511 of sqrt(1/2).
_FIELD = np.arange(1024)
_V3_ROTATION = np.where(_FIELD & 0x200, -1.0, 1.0) * (_FIELD & 0x1FF) * np.sqrt(0.5) / 511.0
_V3_ROTATION = _V3_ROTATION.astype(np.float32)


class SpzWarning(UserWarning):
    """Something in an .spz file the viewer reads but cannot show as stored.

    SH degree 4, or the antialiased flag.
    """


@dataclass(frozen=True)
class SpzHeader:
    """The header fields of an .spz file (any version).

    Attributes:
        version: 2, 3 or 4.
        count: number of Gaussians.
        degree: SH degree stored (0 to 4).
        fraction_bits: fractional bits of the 24-bit fixed-point positions.
        flags: FLAG_ANTIALIASED | FLAG_HAS_EXTENSIONS.
        axes: coordinate system of the stored data (index into COORDINATE_SYSTEMS; RUB unless
            an extension says otherwise).
    """

    version: int
    count: int
    degree: int
    fraction_bits: int
    flags: int
    axes: int = RUB

    @property
    def antialiased(self) -> bool:
        """Whether the scene was trained with Mip-Splatting's antialiasing filter."""
        return bool(self.flags & FLAG_ANTIALIASED)

    def section_widths(self) -> dict[str, int]:
        """Bytes per Gaussian of each section, in file order."""
        rotation = 3 if self.version == 2 else 4
        widths = {"positions": 9, "alphas": 1, "colours": 3, "scales": 3, "rotations": rotation}
        return widths | {"sh": 3 * SH_DIM_FOR_DEGREE[self.degree]}

    def section_sizes(self) -> dict[str, int]:
        """Bytes of each section, in file order."""
        return {name: self.count * width for name, width in self.section_widths().items()}


def _check_fields(path: Path, magic: int, version: int, degree: int) -> None:
    """Raise SceneError for a magic, version or SH degree this reader cannot decode."""
    if magic != SPZ_MAGIC:
        raise SceneError(path, f"wrong magic 0x{magic:08x} (expected 0x{SPZ_MAGIC:08x}, 'NGSP')")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(map(str, SUPPORTED_VERSIONS))
        raise SceneError(path, f"unsupported .spz version {version} (supported: {supported})")
    if degree not in SH_DIM_FOR_DEGREE:
        raise SceneError(path, f"unsupported SH degree {degree} (supported: 0 to 4)")


def _check_memory(path: Path, header: SpzHeader, file_bytes: int) -> None:
    """Raise SceneError when the decoded scene, its sections and the file would not fit."""
    kept = SH_DIM_FOR_DEGREE[min(header.degree, MAX_KEPT_DEGREE)] + 1
    needed = decoded_bytes(header.count, kept) + sum(header.section_sizes().values()) + file_bytes
    check_decoded_size(path, header.count, needed, kept)


def _read_extensions(path: Path, zone: bytes | memoryview) -> int:
    """The stored axes (index into COORDINATE_SYSTEMS) named by a block of extension records.

    Unknown record types are skipped by their length.

    Raises:
        SceneError: when a record runs past the end of the block, or names rotated axes.
    """
    axes, offset = RUB, 0
    while offset < len(zone):
        if len(zone) - offset < EXTENSION_HEADER.size:
            raise SceneError(path, f"truncated extension record at byte {offset} of the block")
        kind, length = EXTENSION_HEADER.unpack_from(zone, offset)
        offset += EXTENSION_HEADER.size
        if length > len(zone) - offset:
            raise SceneError(
                path,
                f"extension record 0x{kind:08x} declares {length} bytes, "
                f"{len(zone) - offset} are left in the extension block",
            )
        if kind == EXTENSION_COORDINATE_SYSTEM and length >= 4:
            value = struct.unpack_from("<I", zone, offset)[0]
            if 9 <= value <= 16:
                name = COORDINATE_SYSTEMS[value]
                raise SceneError(path, f"data stored in rotated axes {name} is not supported")
            if 1 <= value <= 8:  # 0 (unspecified) and unknown values mean RUB, as in the library
                axes = value
        offset += length
    return axes


def _inflate(path: Path, data: bytes) -> tuple[SpzHeader, dict[str, np.ndarray]]:
    """Header and sections ([N, width] uint8 each) of a gzip .spz (versions 2 and 3).

    Never inflates more than the header declares (plus a bounded block of extension records),
    and checks the declared size against the compressed size and the memory available first.
    """
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        head = inflater.decompress(data, LEGACY_HEADER.size)
        if len(head) < LEGACY_HEADER.size:
            raise SceneError(path, "truncated: the gzip stream ends inside the .spz header")
        magic, version, count, degree, fraction_bits, flags, _ = LEGACY_HEADER.unpack(head)
        _check_fields(path, magic, version, degree)
        if version == 4:
            raise SceneError(path, "a gzip .spz of version 4 (version 4 files start with 'NGSP')")
        header = SpzHeader(version, count, degree, fraction_bits, flags)
        size = sum(header.section_sizes().values())
        if size > len(data) * MAX_DEFLATE_RATIO:
            raise SceneError(
                path, f"the header declares {count:,} points, more than the file can hold"
            )
        _check_memory(path, header, len(data))
        extra = MAX_LEGACY_EXTENSION_BYTES + 1 if flags & FLAG_HAS_EXTENSIONS else 0
        # max_length 0 would mean "no limit": an empty scene needs no data at all
        payload = inflater.decompress(inflater.unconsumed_tail, size + extra) if size else b""
        if size and len(payload) >= size and not inflater.eof:  # the trailer: CRC and size
            if inflater.decompress(inflater.unconsumed_tail, 1):
                raise SceneError(path, f"more data than the header's {count:,} points")
            if not inflater.eof:
                raise SceneError(path, "truncated: the gzip stream ends before its CRC and size")
    except zlib.error as exc:
        raise SceneError(path, f"corrupt gzip stream ({exc})") from None
    if len(payload) < size:
        raise SceneError(
            path,
            f"truncated: the header declares {count:,} points ({size:,} bytes), "
            f"found {len(payload):,}",
        )
    if extra:
        if len(payload) - size >= extra:
            raise SceneError(path, f"more than {MAX_LEGACY_EXTENSION_BYTES} bytes of extensions")
        axes = _read_extensions(path, memoryview(payload)[size:])
        header = SpzHeader(version, count, degree, fraction_bits, flags, axes)
    sections, offset = {}, 0
    for name, width in header.section_widths().items():
        sections[name] = np.frombuffer(payload, np.uint8, count * width, offset).reshape(
            count, width
        )
        offset += count * width
    return header, sections


def _unzstd(path: Path, name: str, compressed: memoryview, size: int) -> np.ndarray:
    """[size] uint8: one zstd stream (one or more frames), which must decode to exactly `size`.

    Decodes into a buffer of the declared size, never more (a frame's own content size field
    is not trusted for the allocation).
    """
    out = np.empty(size, dtype=np.uint8)
    window = min(1 << 31, max(1 << 27, 1 << max(size - 1, 1).bit_length()))
    reader = zstandard.ZstdDecompressor(max_window_size=window).stream_reader(
        compressed, read_across_frames=True
    )
    filled, view = 0, memoryview(out.data)
    try:
        with reader:
            while filled < size:
                got = reader.readinto(view[filled:])
                if not got:
                    break
                filled += got
            excess = reader.read(1)
    except zstandard.ZstdError as exc:
        raise SceneError(path, f"corrupt zstd stream '{name}' ({exc})") from None
    if filled < size:
        raise SceneError(
            path, f"truncated: stream '{name}' holds {filled:,} bytes, the table declares {size:,}"
        )
    if excess:
        raise SceneError(path, f"stream '{name}' holds more than the {size:,} bytes declared")
    return out


def _unpack_v4(path: Path, data: bytes) -> tuple[SpzHeader, dict[str, np.ndarray]]:
    """Header and sections ([N, width] uint8 each) of an NGSP .spz (version 4).

    Checks the table of contents against the header, the file size and the memory available
    before decompressing anything.
    """
    if len(data) < V4_HEADER.size:
        raise SceneError(path, f"truncated: {len(data)} bytes, the .spz v4 header has 32")
    fields = V4_HEADER.unpack_from(data)
    magic, version, count, degree, fraction_bits, flags, streams, toc, _ = fields
    _check_fields(path, magic, version, degree)
    if version != 4:
        raise SceneError(path, f"a plaintext .spz header of version {version} (2 and 3 are gzip)")
    if count > MAX_POINTS or count * 9 > len(data) * MAX_ZSTD_RATIO:
        raise SceneError(path, f"the header declares {count:,} points, more than the file can hold")
    toc_end = toc + streams * TOC_ENTRY.size
    if toc < V4_HEADER.size or toc_end > len(data):
        raise SceneError(path, f"table of contents at bytes {toc}..{toc_end} lies outside the file")
    axes = RUB
    if flags & FLAG_HAS_EXTENSIONS:
        axes = _read_extensions(path, memoryview(data)[V4_HEADER.size : toc])
    header = SpzHeader(version, count, degree, fraction_bits, flags, axes)
    expected = {name: size for name, size in header.section_sizes().items() if size}
    if streams != len(expected):
        raise SceneError(
            path,
            f"{streams} streams for {count:,} points of SH degree {degree} "
            f"(expected {len(expected)})",
        )
    spans, offset = [], toc_end
    for index, (name, size) in enumerate(expected.items()):
        compressed, uncompressed = TOC_ENTRY.unpack_from(data, toc + index * TOC_ENTRY.size)
        if uncompressed != size:
            raise SceneError(
                path, f"stream '{name}' declares {uncompressed:,} bytes, expected {size:,}"
            )
        if compressed > len(data) - offset:
            raise SceneError(path, f"truncated: stream '{name}' runs past the end of the file")
        spans.append((name, offset, compressed, size))
        offset += compressed
    if offset != len(data):
        raise SceneError(path, f"{len(data) - offset:,} bytes follow the last stream")
    _check_memory(path, header, len(data))
    view = memoryview(data)
    sections = {
        name: _unzstd(path, name, view[start : start + length], size).reshape(count, -1)
        for name, start, length, size in spans
    }
    for name, width in header.section_widths().items():  # sections of 0 bytes have no stream
        sections.setdefault(name, np.empty((count, width), dtype=np.uint8))
    return header, sections


def read_spz_sections(path: Path) -> tuple[SpzHeader, dict[str, np.ndarray]]:
    """The header and the raw sections ([N, width] uint8, file order) of an .spz file.

    Raises:
        SceneError: on a missing or non-regular file, or as spz_sections.
    """
    return spz_sections(path, read_bytes(path))


def spz_sections(path: Path, data: bytes) -> tuple[SpzHeader, dict[str, np.ndarray]]:
    """The header and the raw sections of the .spz bytes `data` (from `path`, for messages).

    Raises:
        SceneError: on a corrupt or truncated stream, a wrong magic, an unsupported version or
            degree, inconsistent sizes, or a point count that the data or the memory available
            cannot hold.
    """
    if data.startswith(NGSP_MAGIC):
        return _unpack_v4(path, data)
    if data.startswith(GZIP_MAGIC):
        return _inflate(path, data)
    raise SceneError(path, "neither an 'NGSP' header (.spz v4) nor a gzip stream (.spz v2/v3)")


def axis_signs(axes: int) -> np.ndarray:
    """[3] float32 signs that take positions stored in `axes` (1-8) to RDF."""
    bits = axes - 1  # bit 0: right, bit 1: up, bit 2: front
    right, up, front = bits & 1, bits >> 1 & 1, bits >> 2 & 1
    return np.array([1 if right else -1, -1 if up else 1, 1 if front else -1], dtype=np.float32)


def _positions(data: np.ndarray, fraction_bits: int, signs: np.ndarray) -> np.ndarray:
    """[N, 3] float32 positions of [N, 9] uint8 24-bit little-endian signed fixed point."""
    n = data.shape[0]
    words = np.zeros((n, 3, 4), dtype=np.uint8)
    words[:, :, 1:] = data.reshape(n, 3, 3)  # the 24 bits in the top of an int32
    fixed = words.view("<i4")[..., 0] >> 8  # [N, 3] int32, sign-extended
    del words
    means = fixed.astype(np.float32)
    means *= signs * np.float32(2.0**-fraction_bits)  # exact: powers of two and signs
    return means


def _rotations(data: np.ndarray, version: int, signs: np.ndarray) -> np.ndarray:
    """[N, 4] float32 (w, x, y, z) quaternions of [N, 3] (v2) or [N, 4] (v3+) uint8 rows."""
    if version == 2:
        xyzw = expand_smallest_three(np.full(len(data), 3, dtype=np.uint8), _V2_ROTATION[data])
    else:
        largest, fields = unpack_smallest_three(data.view("<u4")[:, 0])
        xyzw = expand_smallest_three(largest, _V3_ROTATION[fields])
    wxyz = np.empty_like(xyzw)
    wxyz[:, 0] = xyzw[:, 3]
    # A reflection of axes i and j negates the rotation axis component k (and keeps w).
    wxyz[:, 1:] = xyzw[:, :3] * (signs[[1, 0, 0]] * signs[[2, 2, 1]])
    return wxyz


def _sh(colours: np.ndarray, rest: np.ndarray, degree: int, signs: np.ndarray) -> np.ndarray:
    """[N, K, 3] float32 SH (at most degree 3) of [N, 3] colour and [N, 3 dim] SH bytes."""
    n, kept = colours.shape[0], SH_DIM_FOR_DEGREE[min(degree, MAX_KEPT_DEGREE)]
    sh = np.empty((n, kept + 1, 3), dtype=np.float32)
    sh[:, 0] = _COLOUR[colours]
    rest = rest.reshape(n, -1, 3)  # coefficient-major, the channel fastest
    flips = np.prod(signs[None, :] ** SH_PARITY, axis=1)  # [15] float32
    for k in range(kept):
        sh[:, k + 1] = _SH[rest[:, k]] * flips[k]
    return sh


def read_spz(path: Path) -> GaussianScene:
    """Decode a .spz file (version 2, 3 or 4; SH degree 0 to 4, kept up to 3).

    Warns (SpzWarning) once per file for SH degree 4 (dropped to 3) and for the antialiased flag.

    Raises:
        SceneError: as read_spz_sections.
    """
    return decode_spz(path, read_bytes(path))


def decode_spz(path: Path, data: bytes) -> GaussianScene:
    """Decode the .spz bytes `data` that `path` holds (a .spz file, or a .glb around them).

    Raises:
        SceneError: as spz_sections.
    """
    header, sections = spz_sections(path, data)
    if header.count == 0:
        raise SceneError(path, "the scene contains no Gaussians")
    if header.degree > MAX_KEPT_DEGREE:
        warnings.warn(
            f"{path}: SH degree {header.degree} in the file; kept degree {MAX_KEPT_DEGREE} "
            "(the renderer stops there) and dropped the 9 degree-4 coefficients per channel",
            SpzWarning,
            stacklevel=4,
        )
    if header.antialiased:
        warnings.warn(
            f"{path}: flagged 'antialiased' (trained with Mip-Splatting's 2D filter); render it "
            "with the antialias setting on to see it as trained",
            SpzWarning,
            stacklevel=4,
        )
    signs = axis_signs(header.axes)
    means = _positions(sections.pop("positions"), header.fraction_bits, signs)
    rotations = _rotations(sections.pop("rotations"), header.version, signs)
    sh = _sh(sections.pop("colours"), sections.pop("sh"), header.degree, signs)
    log_scales = _LOG_SCALE[sections.pop("scales")]
    opacities = _ALPHA[sections.pop("alphas")[:, 0]]
    packing = "NGSP, zstd" if header.version >= 4 else "gzip"
    return build_scene(
        path,
        means=means,
        rotations=rotations,
        sh=sh,
        log_scales=log_scales,
        opacities=opacities,
        file_format=f"Niantic .spz v{header.version} ({packing})",
    )
