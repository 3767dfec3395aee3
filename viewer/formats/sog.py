"""PlayCanvas SOG (Spatially Ordered Gaussians), version 2: read (the writer is sog_write.py).

A scene is a meta.json (sog_meta.py) and 8-bit images, either files beside the meta.json or the
members of a bundled .sog ZIP (sog_files.py). Pixel i (row-major from the top left) of every
image but the SH centroids is Gaussian i; images may hold trailing pixels. Decoding, as
PlayCanvas's SOG specification defines it:

- positions: per axis q = (means_u << 8) | means_l, n = lerp(mins, maxs, q / 65535), then the
  symmetric log transform undone: sign(n) (exp|n| - 1);
- rotations: RGB the three smaller components as (v / 255 - 0.5) * 2 / sqrt(2), A = 252 + the
  index (in w, x, y, z order) of the largest, which is sqrt(1 - |others|^2) >= 0;
- log-scales: scales.codebook[scales.rgb]; SH DC: sh0.codebook[sh0.rgb]; opacity sh0.a / 255;
- SH above DC: a palette entry per Gaussian, label shN_labels.r + (shN_labels.g << 8); entry n,
  coefficient c is the pixel (u, v) = ((n % 64) * coeffs + c, n // 64) of shN_centroids, whose
  RGB index shN.codebook.

The axes are those of a 3DGS .ply (the spec says so), so nothing flips.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.builder import build_scene
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.quaternions import expand_smallest_three
from viewer.formats.sog_files import MAX_META_BYTES, META_NAME, SogBundle, SogFiles, SogFolder
from viewer.formats.sog_images import SizeCheck, decode_image
from viewer.formats.sog_meta import COEFFS_FOR_BANDS, MAX_PALETTE, SogMeta, parse_json, parse_meta
from viewer.input_files import file_size, read_bytes
from viewer.scene import GaussianScene

ZIP_MAGIC = b"PK"  # local file header (PK\3\4) or, for an empty archive, end of directory
QUAT_MODE_BASE = 252  # quats alpha: 252 + index of the largest component
SLACK_PIXELS = 65536  # trailing pixels an image may hold beyond 2x the count
IMAGES_PER_POINT = 7 * 4  # RGBA bytes of the decoded per-Gaussian images
CENTROID_PIXELS = 64 * 15 * (65536 // 64)  # the largest SH palette image
FILE_BYTES_PER_PIXEL = 8  # an image file of P pixels (lossless WebP or PNG) holds fewer bytes


def _meta(path: Path, files: SogFiles) -> SogMeta:
    """The checked meta.json of a bundle (its member) or a folder (`path` itself)."""
    if isinstance(files, SogBundle):
        data = files.read(META_NAME, MAX_META_BYTES)
    else:
        if file_size(path) > MAX_META_BYTES:
            raise SceneError(path, "not a SOG meta.json (too large)")
        data = read_bytes(path)
    return parse_meta(path, parse_json(path, data))


def _grid_check(count: int, shape: list[tuple[int, int]]) -> SizeCheck:
    """A size check for the per-Gaussian images: enough pixels, not far too many, all alike."""

    def check(width: int, height: int) -> str | None:
        if width * height < count:
            return f"fewer pixels than the {count:,} Gaussians of meta.json"
        if width * height > 2 * count + SLACK_PIXELS:
            return f"far more pixels than the {count:,} Gaussians of meta.json"
        if shape and shape[0] != (width, height):
            return f"the other images are {shape[0][0]}x{shape[0][1]}"
        shape.append((width, height))
        return None

    return check


def _image_bytes(count: int) -> int:
    """The most bytes an image file for `count` Gaussians may hold."""
    return FILE_BYTES_PER_PIXEL * (2 * count + SLACK_PIXELS)


def _lookup(path: Path, codebook: np.ndarray, indices: np.ndarray, what: str) -> np.ndarray:
    """codebook[indices], refusing an index past the codebook's end."""
    if indices.dtype == np.uint8 and codebook.shape[0] > 255:
        return codebook[indices]  # every byte has an entry
    if indices.size and int(indices.max()) >= codebook.shape[0]:
        raise SceneError(
            path, f"{what} index {int(indices.max())} past the {codebook.shape[0]}-entry codebook"
        )
    return codebook[indices]


def _positions(meta: SogMeta, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[N, 3] float32 positions of the first N pixels of means_l and means_u.

    Each axis has 65,536 possible values: they are computed once (float64) and looked up.
    """
    q = np.arange(65536, dtype=np.float64)[:, None]
    n = meta.mins + (meta.maxs - meta.mins) * (q / 65535.0)
    table = (np.sign(n) * np.expm1(np.abs(n))).astype(np.float32).T.ravel()  # [axis, q]
    index = (high[:, :3].astype(np.int32) << 8) | low[:, :3]
    index += np.arange(3, dtype=np.int32) * 65536
    return table[index]


def _rotations(path: Path, quats: np.ndarray) -> np.ndarray:
    """[N, 4] float32 (w, x, y, z) quaternions of the first N pixels of quats."""
    mode = quats[:, 3].astype(np.int16) - QUAT_MODE_BASE
    if mode.size and (mode.min() < 0):
        raise SceneError(path, f"quats alpha {int(mode.min()) + QUAT_MODE_BASE} is not 252..255")
    stored = (quats[:, :3].astype(np.float32) / np.float32(255.0) - np.float32(0.5)) * np.float32(
        2.0 / np.sqrt(2.0)
    )
    return expand_smallest_three(mode, stored)


def _sh_rest(path: Path, meta: SogMeta, files: SogFiles, grid: SizeCheck) -> np.ndarray:
    """[N, K - 1, 3] float32 SH above DC from the palette and the labels."""
    coeffs = COEFFS_FOR_BANDS[meta.bands]
    rows = -(-meta.palette // 64)

    def centroid_size(width: int, height: int) -> str | None:
        if width != 64 * coeffs:
            return f"not {64 * coeffs} wide (64 entries of {coeffs} coefficients per row)"
        if not rows <= height <= MAX_PALETTE // 64:
            return f"not {rows} rows for the {meta.palette:,} palette entries of meta.json"
        return None

    name = meta.files["centroids"]
    data = files.read(name, FILE_BYTES_PER_PIXEL * CENTROID_PIXELS)
    centroids = decode_image(path, name, data, centroid_size)
    entries = centroids[:, :, :3].reshape(-1, 64, coeffs, 3).reshape(-1, coeffs, 3)
    palette = _lookup(path, meta.sh_codebook, entries[: meta.palette], "shN centroid")
    name = meta.files["labels"]
    data = files.read(name, _image_bytes(meta.count))
    labels_image = decode_image(path, name, data, grid).reshape(-1, 4)[: meta.count]
    labels = labels_image[:, 0].astype(np.int64) | (labels_image[:, 1].astype(np.int64) << 8)
    if labels.size and int(labels.max()) >= meta.palette:
        raise SceneError(
            path, f"shN label {int(labels.max())} past the {meta.palette:,} palette entries"
        )
    return palette[labels]


def read_sog(path: Path) -> GaussianScene:
    """Read a bundled .sog or the meta.json of an unbundled SOG scene.

    Raises:
        SceneError: for a missing, malformed, hostile or unsupported scene (see the modules
            above), or one that would not fit in memory.
    """
    bundled = read_bytes(path, 2) == ZIP_MAGIC
    files = SogBundle(path) if bundled else SogFolder(path)
    with contextlib.closing(files):
        return _decode(
            path, files, _meta(path, files), "bundled .sog" if bundled else "meta.json folder"
        )


def _decode(path: Path, files: SogFiles, meta: SogMeta, kind: str) -> GaussianScene:
    """The scene of an opened SOG (read_sog)."""
    kept = (meta.bands + 1) ** 2
    check_decoded_size(
        path, meta.count, decoded_bytes(meta.count, kept) + meta.count * IMAGES_PER_POINT, kept
    )
    grid = _grid_check(meta.count, [])

    def image(role: str) -> np.ndarray:
        name = meta.files[role]
        data = files.read(name, _image_bytes(meta.count))
        return decode_image(path, name, data, grid).reshape(-1, 4)[: meta.count]

    means = _positions(meta, image("means_l"), image("means_u"))
    rotations = _rotations(path, image("quats"))
    log_scales = _lookup(path, meta.scales, image("scales")[:, :3], "scales")
    sh0 = image("sh0")
    sh = np.empty((meta.count, kept, 3), dtype=np.float32)
    sh[:, 0] = _lookup(path, meta.sh0, sh0[:, :3], "sh0")
    if meta.bands:
        sh[:, 1:] = _sh_rest(path, meta, files, grid)
    return build_scene(
        path,
        means,
        rotations,
        sh,
        log_scales=log_scales,
        opacities=sh0[:, 3].astype(np.float32) / np.float32(255.0),
        file_format=f"PlayCanvas SOG v2 ({kind})",
    )
