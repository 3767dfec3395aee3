"""Shared helpers for the format tests: random scenes, the shared real scenes, and small encoders
for the formats the package only reads (compressed .ply, .spz), written independently here."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import zstandard
from plyfile import PlyData, PlyElement

from viewer.scene import (
    SH_COEFFS_FOR_DEGREE,
    GaussianScene,
    activate_opacities,
    activate_scales,
)
from viewer.sh import C0


def stored_scene(count: int, degree: int, seed: int = 0) -> GaussianScene:
    """`count` random Gaussians with SH of `degree`, holding their pre-activation values like a
    scene that comes from a trainer or a file (for write/read round trips; `conftest.random_scene`
    makes scenes for rendering)."""
    rng = np.random.default_rng(seed)
    log_scales = rng.normal(-4.0, 1.0, size=(count, 3)).astype(np.float32)
    logits = rng.normal(0.0, 2.0, size=count).astype(np.float32)
    return GaussianScene.from_arrays(
        means=rng.normal(0.0, 2.0, size=(count, 3)),
        scales=activate_scales(log_scales),
        rotations=rng.normal(size=(count, 4)),
        opacities=activate_opacities(logits),
        sh=rng.normal(0.0, 0.3, size=(count, SH_COEFFS_FOR_DEGREE[degree], 3)),
        source="random",
        log_scales=log_scales,
        opacity_logits=logits,
    )


def write_vertex_ply(path: Path, columns: dict[str, np.ndarray], **ply_options: object) -> None:
    """A one-element PLY whose vertex properties are `columns` (name -> [N] array), in order."""
    first = next(iter(columns.values()))
    rows = np.empty(len(first), dtype=[(name, col.dtype) for name, col in columns.items()])
    for name, col in columns.items():
        rows[name] = col
    PlyData([PlyElement.describe(rows, "vertex")], **ply_options).write(str(path))


def _unorm(t: np.ndarray, bits: int) -> np.ndarray:
    """uint32 round(t (2^bits - 1)) of t clamped to [0, 1]."""
    top = (1 << bits) - 1
    return np.clip(np.floor(np.clip(t, 0.0, 1.0) * top + 0.5), 0, top).astype(np.uint32)


def _chunk_normalise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-256-row-chunk (min, max) of [C * 256, 3] values and the values mapped to [0, 1]."""
    chunks = values.reshape(-1, 256, 3)
    lo, hi = chunks.min(axis=1), chunks.max(axis=1)  # [C, 3]
    flat = (hi - lo < 1e-5)[:, None]  # [C, 1, 3]
    t = np.where(flat, 0.0, (chunks - lo[:, None]) / np.where(flat, 1.0, (hi - lo)[:, None]))
    return lo, hi, t.reshape(-1, 3)


def write_compressed_ply(scene: GaussianScene, path: Path, colour_bounds: bool = True) -> None:
    """Encode `scene` as a SuperSplat compressed .ply (chunks of 256, last row repeated)."""
    n = scene.count
    pad = np.minimum(np.arange(-(-n // 256) * 256), n - 1)  # row of each slot
    rgb = 0.5 + C0 * scene.sh[pad, 0]
    p_lo, p_hi, p_t = _chunk_normalise(scene.means[pad])
    s_lo, s_hi, s_t = _chunk_normalise(scene.stored_log_scales()[pad])
    c_lo, c_hi, c_t = _chunk_normalise(rgb) if colour_bounds else (None, None, rgb)
    position = _unorm(p_t[:, 0], 11) << 21 | _unorm(p_t[:, 1], 10) << 11 | _unorm(p_t[:, 2], 11)
    scale = _unorm(s_t[:, 0], 11) << 21 | _unorm(s_t[:, 1], 10) << 11 | _unorm(s_t[:, 2], 11)
    colour = _unorm(c_t[:, 0], 8) << 24 | _unorm(c_t[:, 1], 8) << 16 | _unorm(c_t[:, 2], 8) << 8
    colour |= _unorm(scene.opacities[pad], 8)
    q = scene.rotations[pad] / np.linalg.norm(scene.rotations[pad], axis=1, keepdims=True)
    largest = np.abs(q).argmax(axis=1)
    q *= np.where(q[np.arange(len(q)), largest] < 0, -1.0, 1.0)[:, None]
    rotation = largest.astype(np.uint32)
    for slot in range(4):  # the three smaller components, ascending, first in the top bits
        keep = largest != slot
        rotation[keep] = rotation[keep] << 10 | _unorm(q[keep, slot] * np.sqrt(0.5) + 0.5, 10)
    bounds = [p_lo, p_hi, s_lo, s_hi] + ([c_lo, c_hi] if colour_bounds else [])
    names = [f"{e}_{a}" for e in ("min", "max") for a in "xyz"]
    names += [f"{e}_scale_{a}" for e in ("min", "max") for a in "xyz"]
    names += [f"{e}_{c}" for e in ("min", "max") for c in "rgb"] if colour_bounds else []
    table = np.concatenate(bounds, axis=1).astype(np.float32)
    chunk = np.empty(len(table), dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        chunk[name] = table[:, i]
    packed = {"position": position, "rotation": rotation, "scale": scale, "color": colour}
    vertex = np.empty(n, dtype=[(f"packed_{key}", "<u4") for key in packed])
    for key, words in packed.items():
        vertex[f"packed_{key}"] = words[:n]
    elements = [PlyElement.describe(chunk, "chunk"), PlyElement.describe(vertex, "vertex")]
    if scene.sh.shape[1] > 1:
        rest = scene.sh[:, 1:].transpose(0, 2, 1).reshape(n, -1)  # INRIA channel-major
        quantised = np.clip(np.trunc((rest / 8.0 + 0.5) * 256.0), 0, 255).astype(np.uint8)
        sh = np.empty(n, dtype=[(f"f_rest_{i}", "u1") for i in range(rest.shape[1])])
        for i in range(rest.shape[1]):
            sh[f"f_rest_{i}"] = quantised[:, i]
        elements.append(PlyElement.describe(sh, "sh"))
    PlyData(elements, byte_order="<").write(str(path))


# Signs of the axes and of SH coefficients 1..15 under RDF <-> RUB: (x, y, z) -> (x, -y, -z).
SH_AXIS_FLIP = np.array([-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1], dtype=np.float32)
AXIS_FLIP = np.array([1.0, -1.0, -1.0], dtype=np.float32)


def _pack_v3_rotations(xyzw: np.ndarray) -> np.ndarray:
    """[N, 4] uint8 "smallest three" words of [N, 4] unit (x, y, z, w) quaternions."""
    largest = np.abs(xyzw).argmax(axis=1)
    negate = xyzw[np.arange(len(xyzw)), largest] < 0
    words = largest.astype(np.uint32)
    for slot in range(4):
        keep = largest != slot
        value = xyzw[keep, slot]
        sign = ((value < 0) ^ negate[keep]).astype(np.uint32)
        magnitude = np.floor(511.0 * np.abs(value) / np.sqrt(0.5) + 0.5).astype(np.uint32)
        words[keep] = words[keep] << 10 | sign << 9 | magnitude
    return words.astype("<u4").view(np.uint8).reshape(-1, 4)


def spz_sections(
    scene: GaussianScene,
    version: int = 3,
    fraction_bits: int = 12,
    degree4: np.ndarray | None = None,
) -> tuple[int, list[np.ndarray]]:
    """SH degree and the six .spz sections (uint8, file order) of `scene`, in the RUB axes the
    format stores; `degree4` ([N, 9, 3]) appends degree-4 SH coefficients (then degree is 4)."""
    n, k = scene.count, scene.sh.shape[1]
    means = scene.means * AXIS_FLIP
    fixed = np.round(means * 2.0**fraction_bits).astype(np.int64) & 0xFFFFFF
    positions = ((fixed[..., None] >> np.array([0, 8, 16])) & 0xFF).astype(np.uint8)
    alphas = np.round(scene.opacities * 255.0).astype(np.uint8)
    colours = np.clip(np.round(scene.sh[:, 0] * 0.15 * 255.0 + 127.5), 0, 255).astype(np.uint8)
    scales = np.clip(np.round((scene.stored_log_scales() + 10.0) * 16.0), 0, 255).astype(np.uint8)
    w, x, y, z = (scene.rotations * [1.0, 1.0, -1.0, -1.0]).T
    xyzw = np.stack([x, y, z, w], axis=1)
    if version == 2:
        xyzw *= np.where(xyzw[:, 3:] < 0, -1.0, 1.0)
        rotations = np.clip(np.round(xyzw[:, :3] * 127.5 + 127.5), 0, 255).astype(np.uint8)
    else:
        rotations = _pack_v3_rotations(xyzw)
    rest = scene.sh[:, 1:] * SH_AXIS_FLIP[: k - 1, None]  # [N, K - 1, 3] coefficient-major
    degree = {1: 0, 4: 1, 9: 2, 16: 3}[k]
    if degree4 is not None:
        assert degree == 3 and degree4.shape == (n, 9, 3)
        rest, degree = np.concatenate([rest, degree4], axis=1), 4
    sh = np.clip(np.round(rest * 128.0) + 128.0, 0, 255).astype(np.uint8)
    return degree, [positions, alphas, colours, scales, rotations, sh]


def spz_bytes(
    scene: GaussianScene,
    version: int = 3,
    fraction_bits: int = 12,
    header: dict[str, int] | None = None,
    degree4: np.ndarray | None = None,
) -> bytes:
    """`scene` encoded as a gzip .spz (versions 2 and 3), in the RUB axes the format stores.

    `header` overrides header fields (magic, version, points, degree, fraction_bits, flags).
    """
    degree, body = spz_sections(scene, version, fraction_bits, degree4)
    fields = {"magic": 0x5053474E, "version": version, "points": scene.count, "degree": degree}
    fields |= {"fraction_bits": fraction_bits, "flags": 0} | (header or {})
    head = struct.pack("<IIIBBBB", *fields.values(), 0)
    return gzip.compress(head + b"".join(a.tobytes() for a in body), mtime=0)


def extension_record(kind: int, payload: bytes) -> bytes:
    """One .spz extension record: u32 type, u32 payload length, payload."""
    return struct.pack("<II", kind, len(payload)) + payload


def spz_v4_bytes(
    scene: GaussianScene,
    fraction_bits: int = 12,
    header: dict[str, int] | None = None,
    extensions: bytes = b"",
    degree4: np.ndarray | None = None,
    streams: list[bytes] | None = None,
    sizes: list[int] | None = None,
) -> bytes:
    """`scene` encoded as an NGSP .spz version 4, built by hand from the layout: a 32-byte
    header, `extensions` (flag 0x2 set when given), the table of contents, one zstd stream per
    non-empty section. `header` overrides fields; `streams`/`sizes` replace the compressed
    streams / the uncompressed sizes written in the table."""
    degree, body = spz_sections(scene, 3, fraction_bits, degree4)
    body = [section for section in body if section.size]
    if streams is None:
        streams = [zstandard.ZstdCompressor(level=3).compress(a.tobytes()) for a in body]
    if sizes is None:
        sizes = [a.nbytes for a in body]
    fields = {"magic": 0x5053474E, "version": 4, "points": scene.count, "degree": degree}
    fields |= {"fraction_bits": fraction_bits, "flags": 2 if extensions else 0}
    fields |= {"streams": len(streams), "toc": 32 + len(extensions)} | (header or {})
    head = struct.pack("<IIIBBBBI", *fields.values()) + bytes(12)
    toc = b"".join(struct.pack("<QQ", len(c), u) for c, u in zip(streams, sizes, strict=True))
    return head + extensions + toc + b"".join(streams)


def zeroed_spz(count: int) -> bytes:
    """A gzip .spz v3 (SH degree 0) declaring `count` Gaussians whose bytes are all zero.

    Built without deflating the whole payload (40M Gaussians: 800 MB that deflate to 0.78 MB):
    after a full flush the compressor emits the same bytes for every 4 MiB of zeros, so that
    block is repeated; only the CRC walks the data.
    """
    head = struct.pack("<IIIBBBB", 0x5053474E, 3, count, 0, 12, 0, 0)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    zeros = bytes(1 << 22)
    first = deflater.compress(head) + deflater.flush(zlib.Z_FULL_FLUSH)
    block = deflater.compress(zeros) + deflater.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(count * 20, len(zeros))
    tail = deflater.compress(zeros[:rest]) + deflater.flush()
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(zeros[:rest], crc)
    trailer = struct.pack("<II", crc, (len(head) + count * 20) & 0xFFFFFFFF)
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return gzip_header + first + block * blocks + tail + trailer


ARRAY_NAMES = ("means", "scales", "rotations", "opacities", "sh")


def assert_bit_exact(expected: GaussianScene, actual: GaussianScene) -> None:
    """The per-Gaussian arrays of two scenes hold the same float32 bit patterns."""
    for name in ARRAY_NAMES:
        a, b = getattr(expected, name), getattr(actual, name)
        assert a.shape == b.shape, name
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), name


def inria_columns(scene: GaussianScene, dtype: str = "<f4") -> dict[str, np.ndarray]:
    """INRIA .ply vertex properties of `scene`, name -> [N] column (normals omitted)."""
    n, k = scene.count, scene.sh.shape[1]
    rest = scene.sh[:, 1:].transpose(0, 2, 1).reshape(n, -1)  # channel-major
    values = {name: scene.means[:, i] for i, name in enumerate("xyz")}
    values |= {f"f_dc_{c}": scene.sh[:, 0, c] for c in range(3)}
    values |= {f"f_rest_{i}": rest[:, i] for i in range(3 * (k - 1))}
    values["opacity"] = scene.stored_opacity_logits()
    values |= {f"scale_{i}": scene.stored_log_scales()[:, i] for i in range(3)}
    values |= {f"rot_{i}": scene.rotations[:, i] for i in range(4)}
    return {name: column.astype(dtype) for name, column in values.items()}
