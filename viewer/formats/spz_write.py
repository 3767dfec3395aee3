"""Niantic .spz, write: version 4 (zstd streams, the library's default) or 3 (one gzip stream).

Version 3 is for older tools. Layout and quantisation as in spz.py and the library's
`packGaussians`:

- positions to 24-bit fixed point with 12 fractional bits (the library's choice), fewer only
  when the scene reaches past +-2048 (then the most that fit: FRACTION_BITS_FOR below);
- log-scales to (log + 10) * 16 and opacity, base colour (dc * 0.15 * 255 + 127.5) to 8 bits,
  rounded to nearest and clamped to 0..255;
- rotations "smallest three" (2-bit index, 3 x sign + 9-bit magnitude);
- SH above DC to 8 bits, (v * 128 + 128), then degree 1 to 5 significant bits and degree 2-3
  to 4 (the library's default buckets, which let zstd/gzip compress them; sh_bits=(8, 8) keeps
  them all);
- axes RUB (scenes here are RDF: y and z flip), no extension records; zstd level 12 as the
  library (multi-threaded: still one standard frame per stream).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import zstandard

from viewer.errors import SceneError
from viewer.formats.files import write_file
from viewer.formats.quaternions import pack_smallest_three
from viewer.formats.spz import (
    COLOUR_SCALE,
    FLAG_ANTIALIASED,
    LEGACY_HEADER,
    RUB,
    SH_PARITY,
    SPZ_MAGIC,
    TOC_ENTRY,
    V4_HEADER,
    SpzHeader,
    axis_signs,
)
from viewer.scene import GaussianScene

WRITABLE_VERSIONS = (3, 4)
DEFAULT_VERSION = 4
DEFAULT_FRACTION_BITS = 12
DEFAULT_SH_BITS = (5, 4)  # significant bits of degree-1 and of degree-2+ SH coefficients
FIXED_POINT_LIMIT = 2**23 - 1  # largest magnitude of a 24-bit signed integer
ZSTD_LEVEL = 12
GZIP_LEVEL = 6  # zlib's default, as the library
_CHUNK = 1 << 24  # bytes handed to the compressor at a time


def fraction_bits_for(scene: GaussianScene) -> int:
    """Fractional bits for the scene's positions: 12, or fewer so that the farthest one fits.

    Raises:
        SceneError: when a position is beyond +-2^23 (no fixed-point scale fits it).
    """
    reach = float(np.abs(scene.means).max()) if scene.count else 0.0
    bits = DEFAULT_FRACTION_BITS
    while bits > 0 and reach * 2.0**bits > FIXED_POINT_LIMIT:
        bits -= 1
    if reach > FIXED_POINT_LIMIT:
        raise SceneError(
            scene.source, f"a position at {reach:.3g} is beyond .spz's 24-bit range (+-8388607)"
        )
    return bits


def _unorm8(values: np.ndarray) -> np.ndarray:
    """uint8 of values rounded to nearest and clamped to 0..255."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _positions(means: np.ndarray, bits: int, signs: np.ndarray) -> np.ndarray:
    """[N, 9] uint8 24-bit little-endian fixed point of [N, 3] RDF positions."""
    fixed = np.rint(means.astype(np.float64) * (signs * 2.0**bits)).astype("<i4")  # [N, 3]
    return np.ascontiguousarray(fixed.view(np.uint8).reshape(-1, 3, 4)[:, :, :3]).reshape(-1, 9)


def _rotations(rotations: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """[N, 4] uint8 "smallest three" words of [N, 4] (w, x, y, z) quaternions."""
    xyzw = np.empty_like(rotations)
    xyzw[:, 3] = rotations[:, 0]
    xyzw[:, :3] = rotations[:, 1:] * (signs[[1, 0, 0]] * signs[[2, 2, 1]])
    largest, others = pack_smallest_three(xyzw)
    magnitude = np.floor(np.abs(others) * (511.0 / np.sqrt(0.5)) + 0.5)
    fields = np.minimum(magnitude, 511).astype(np.uint32) | np.where(others < 0, 0x200, 0)
    words = largest << np.uint32(30)
    for slot, shift in enumerate((20, 10, 0)):
        words |= fields[:, slot].astype(np.uint32) << np.uint32(shift)
    return words.astype("<u4").view(np.uint8).reshape(-1, 4)


def _sh(sh: np.ndarray, signs: np.ndarray, sh_bits: tuple[int, int]) -> np.ndarray:
    """[N, 3 (K - 1)] uint8 SH above DC, coefficient-major with the channel fastest."""
    rest = sh[:, 1:]
    flips = np.prod(signs[None, :] ** SH_PARITY, axis=1)[: rest.shape[1]]
    quantised = np.rint(rest * (flips[:, None] * 128.0)) + 128.0  # [N, K - 1, 3] float32
    bucket = np.array([1 << (8 - (sh_bits[0] if k < 3 else sh_bits[1])) for k in range(15)])
    bucket = bucket[: rest.shape[1], None].astype(np.float32)
    quantised = np.floor((quantised + bucket // 2) / bucket) * bucket  # nearest multiple
    return np.clip(quantised, 0, 255).astype(np.uint8).reshape(sh.shape[0], -1)


def encode_sections(
    scene: GaussianScene, version: int = DEFAULT_VERSION, sh_bits: tuple[int, int] = DEFAULT_SH_BITS
) -> tuple[SpzHeader, dict[str, np.ndarray]]:
    """The header fields and the quantised sections ([N, width] uint8, file order) of `scene`.

    Raises:
        SceneError: for an unwritable version, bad sh_bits or positions beyond the 24-bit range.
    """
    if version not in WRITABLE_VERSIONS:
        raise SceneError(scene.source, f"cannot write .spz version {version} (writable: 3, 4)")
    if not all(1 <= bits <= 8 for bits in sh_bits):
        raise SceneError(scene.source, f"SH bits {sh_bits} must be 1 to 8")
    bits = fraction_bits_for(scene)
    signs = axis_signs(RUB)
    header = SpzHeader(version, scene.count, scene.sh_degree, bits, 0)
    sections = {
        "positions": _positions(scene.means, bits, signs),
        "alphas": _unorm8(scene.opacities * 255.0)[:, None],
        "colours": _unorm8(scene.sh[:, 0] * (COLOUR_SCALE * 255.0) + 127.5),
        "scales": _unorm8((scene.stored_log_scales() + 10.0) * 16.0),
        "rotations": _rotations(scene.rotations, signs),
        "sh": _sh(scene.sh, signs, sh_bits),
    }
    return header, sections


def _v4_parts(header: SpzHeader, sections: dict[str, np.ndarray], flags: int) -> Iterator[bytes]:
    """The bytes of an NGSP (v4) file: header, table of contents, zstd streams."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    streams = [
        (compressor.compress(data.tobytes()), data.nbytes)
        for data in sections.values()
        if data.nbytes
    ]
    yield V4_HEADER.pack(
        SPZ_MAGIC,
        4,
        header.count,
        header.degree,
        header.fraction_bits,
        flags,
        len(streams),
        V4_HEADER.size,
        bytes(12),
    )
    yield b"".join(TOC_ENTRY.pack(len(stream), size) for stream, size in streams)
    for stream, _ in streams:
        yield stream


def _v3_parts(header: SpzHeader, sections: dict[str, np.ndarray], flags: int) -> Iterator[bytes]:
    """The bytes of a gzip (v3) file, compressed a chunk at a time."""
    deflater = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9)
    yield deflater.compress(
        LEGACY_HEADER.pack(
            SPZ_MAGIC, 3, header.count, header.degree, header.fraction_bits, flags, 0
        )
    )
    for data in sections.values():
        flat = memoryview(np.ascontiguousarray(data).reshape(-1).data)
        for start in range(0, len(flat), _CHUNK):
            yield deflater.compress(flat[start : start + _CHUNK])
    yield deflater.flush()


def spz_bytes(
    scene: GaussianScene,
    version: int = DEFAULT_VERSION,
    *,
    antialiased: bool = False,
    sh_bits: tuple[int, int] = DEFAULT_SH_BITS,
) -> bytes:
    """`scene` encoded as an .spz file (see write_spz)."""
    return b"".join(_parts(scene, version, antialiased, sh_bits))


def _parts(
    scene: GaussianScene, version: int, antialiased: bool, sh_bits: tuple[int, int]
) -> Iterator[bytes]:
    """The bytes of the file, in order."""
    header, sections = encode_sections(scene, version, sh_bits)
    flags = FLAG_ANTIALIASED if antialiased else 0
    return (_v4_parts if version == 4 else _v3_parts)(header, sections, flags)


def write_spz(
    scene: GaussianScene,
    path: Path,
    version: int = DEFAULT_VERSION,
    *,
    antialiased: bool = False,
    sh_bits: tuple[int, int] = DEFAULT_SH_BITS,
) -> None:
    """Write `scene` as .spz version 4 (default) or 3 (gzip, for tools that predate v4).

    Args:
        scene: the Gaussians (SH degree 0 to 3).
        path: the file to create or replace (atomically).
        version: 4 or 3.
        antialiased: set the file's antialiased flag (the scene was trained with Mip-Splatting's
            2D filter).
        sh_bits: significant bits kept of degree-1 and of degree-2+ SH coefficients (1 to 8).

    Raises:
        SceneError: for an unwritable version, positions beyond the 24-bit range, or a file
            that cannot be written.
    """
    if version not in WRITABLE_VERSIONS:
        raise SceneError(path, f"cannot write .spz version {version} (writable: 3, 4)")
    parts = _parts(scene, version, antialiased, sh_bits)  # encode before touching the file

    def write(file: BinaryIO) -> None:
        for part in parts:
            file.write(part)

    write_file(path, write)
