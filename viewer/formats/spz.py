"""Niantic .spz (versions 2 and 3), read.

Own reader rather than a dependency: on PyPI `spz` (0.0.1) ships only an sdist that needs a
Rust toolchain, and `gsply` pulls in numba and raises its own exception types; the format is
small. Layout from nianticlabs/spz `load-spz.cc`: a gzip stream holding a 16-byte header
(magic 0x5053474e "NGSP", version, numPoints, shDegree, fractionalBits, flags, reserved), then,
point-major within each section: positions (3 x 24-bit signed fixed point, 2^-fractionalBits),
alphas (u8, opacity * 255), colours (3 x u8, dc * 0.15 * 255 + 127.5), scales (3 x u8,
(log + 10) * 16), rotations (v2: x, y, z as u8 (q + 1) * 127.5 with w >= 0; v3: "smallest three"
u32, 2-bit index of the largest of x, y, z, w then 3 x (sign bit + 9-bit magnitude / sqrt(2))),
SH (u8 (v - 128) / 128, coefficient-major with the channel fastest).

.spz stores RUB axes (OpenGL); scenes here use the PLY/COLMAP RDF axes, so y and z flip on load
(positions, quaternions and the odd SH terms), as the reference loader does for `to=RDF`.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.files import read_bytes
from viewer.formats.quaternions import expand_smallest_three, unpack_smallest_three
from viewer.formats.sh_layout import REST_COUNT_FOR_DEGREE, assemble_sh
from viewer.scene import GaussianScene

GZIP_MAGIC = b"\x1f\x8b"
SPZ_MAGIC = 0x5053474E
HEADER = struct.Struct("<IIIBBBB")  # magic, version, points, SH degree, fraction bits, flags, pad
FLAG_HAS_EXTENSIONS = 0x2
COLOUR_SCALE = 0.15  # .spz stores dc * 0.15, not C0, to keep out-of-gamut base colours
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data by more than this
RUB_TO_RDF = np.array([1.0, -1.0, -1.0], dtype=np.float32)  # per axis
# Sign of each SH coefficient 1..15 under (x, y, z) -> (x, -y, -z), in the 3DGS basis order.
SH_RUB_TO_RDF = np.array([-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], dtype=np.float32)


def _check_header(path: Path, magic: int, version: int, degree: int, flags: int) -> None:
    """Raise SceneError for a header this reader cannot decode."""
    if magic != SPZ_MAGIC:
        raise SceneError(path, f"wrong magic 0x{magic:08x} (expected 0x{SPZ_MAGIC:08x}, 'NGSP')")
    if version not in (2, 3):
        raise SceneError(path, f"unsupported .spz version {version} (supported: 2, 3)")
    if degree not in REST_COUNT_FOR_DEGREE:
        raise SceneError(path, f"unsupported SH degree {degree} (supported: 0 to 3)")
    if flags & FLAG_HAS_EXTENSIONS:
        raise SceneError(path, ".spz extensions (flag 0x2) are not supported")


def _section_widths(version: int, degree: int) -> dict[str, int]:
    """Bytes per point of each section, in file order."""
    rotation = 3 if version == 2 else 4
    widths = {"positions": 9, "alphas": 1, "colours": 3, "scales": 3, "rotations": rotation}
    return widths | {"sh": REST_COUNT_FOR_DEGREE[degree]}


def _decompress(path: Path, compressed: bytes) -> tuple[tuple[int, ...], bytes]:
    """Checked header fields and exactly the data bytes they declare.

    Never inflates more than the header declares, and rejects a declared size that the
    compressed input could not hold before inflating anything.
    """
    if not compressed.startswith(GZIP_MAGIC):
        raise SceneError(path, "not a gzip stream, so not an .spz file")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        header = inflater.decompress(compressed, HEADER.size)
        if len(header) < HEADER.size:
            raise SceneError(path, "truncated: the gzip stream ends inside the .spz header")
        fields = HEADER.unpack(header)
        magic, version, n, degree, _, flags, _ = fields
        _check_header(path, magic, version, degree, flags)
        size = n * sum(_section_widths(version, degree).values())
        if size > len(compressed) * MAX_DEFLATE_RATIO:
            raise SceneError(path, f"the header declares {n} points, more than the file can hold")
        # max_length 0 would mean "no limit": an empty scene needs no data at all
        payload = inflater.decompress(inflater.unconsumed_tail, size) if size else b""
    except zlib.error as exc:
        raise SceneError(path, f"corrupt gzip stream ({exc})") from None
    if len(payload) < size:
        raise SceneError(
            path, f"truncated: the header declares {n} points ({size} bytes), found {len(payload)}"
        )
    return fields, payload


def _positions(data: np.ndarray, fraction_bits: int) -> np.ndarray:
    """[N, 3] float32 positions of [N, 9] uint8 24-bit little-endian signed fixed point."""
    b = data.reshape(-1, 3, 3).astype(np.int32)
    fixed = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    fixed = (fixed ^ 0x800000) - 0x800000  # sign-extend 24 bits
    return (fixed * 2.0**-fraction_bits).astype(np.float32)


def _rotations(data: np.ndarray, version: int) -> np.ndarray:
    """[N, 4] float32 (w, x, y, z) quaternions of [N, 3] (v2) or [N, 4] (v3) uint8 rows."""
    if version == 2:
        xyz = data.astype(np.float32) / 127.5 - 1.0
        xyzw = expand_smallest_three(np.full(len(data), 3), xyz)
    else:
        largest, fields = unpack_smallest_three(data.copy().view("<u4")[:, 0])
        magnitude = (fields & 0x1FF).astype(np.float32) * np.float32(np.sqrt(0.5) / 511.0)
        xyzw = expand_smallest_three(largest, np.where(fields & 0x200, -magnitude, magnitude))
    return xyzw[:, [3, 0, 1, 2]]


def read_spz(path: Path) -> GaussianScene:
    """Decode a .spz file (version 2 or 3, SH degree 0 to 3, no extensions).

    Raises:
        SceneError: on a missing file, a corrupt or truncated gzip stream, a wrong magic, an
            unsupported version/degree/flag, or a point count the data does not hold.
    """
    (_, version, n, degree, fraction_bits, _, _), payload = _decompress(path, read_bytes(path))
    data, offset = {}, 0
    for name, width in _section_widths(version, degree).items():
        data[name] = np.frombuffer(payload, np.uint8, n * width, offset).reshape(n, width)
        offset += n * width
    rest_count = REST_COUNT_FOR_DEGREE[degree]
    rest = (data["sh"].reshape(n, rest_count // 3, 3).astype(np.float32) - 128.0) / 128.0
    dc = (data["colours"].astype(np.float32) / 255.0 - 0.5) / COLOUR_SCALE
    rotations = _rotations(data["rotations"], version)
    rotations[:, 2:] *= -1.0
    return build_scene(
        path,
        means=_positions(data["positions"], fraction_bits) * RUB_TO_RDF,
        rotations=rotations,
        sh=assemble_sh(dc, rest * SH_RUB_TO_RDF[: rest_count // 3, None]),
        log_scales=data["scales"].astype(np.float32) / 16.0 - 10.0,
        opacities=data["alphas"][:, 0].astype(np.float32) / 255.0,
    )
