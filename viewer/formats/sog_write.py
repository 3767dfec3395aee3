"""PlayCanvas SOG, write: version 2, bundled (.sog ZIP) or unbundled (meta.json + images).

Encoding (the inverse of sog.py's decoding):
- Gaussians in Morton order of their centres (so that neighbouring pixels hold neighbouring
  Gaussians and the images compress), on a grid of width ceil(sqrt(N) / 4) * 4 and height
  ceil(N / width / 4) * 4 as splat-transform lays it out, trailing pixels zero;
- positions: n = sign(v) log(1 + |v|) per axis, 16 bits of [min n, max n] (meta means.mins,
  maxs), the low byte in means_l, the high byte in means_u;
- rotations: smallest three of (w, x, y, z) with the largest made non-negative, each stored
  component as round(255 (v sqrt(2) / 2 + 0.5)), alpha 252 + the largest's index;
- log-scales (all three axes) and SH DC (all three channels): a 256-entry codebook each
  (1D k-means, kmeans.codebook_1d) and the index of the nearest entry; opacity round(255 a);
- SH above DC (degree > 0): a palette of up to 64k entries (kmeans.palette), its values through
  one more 256-entry codebook, and a 16-bit label per Gaussian.
Images are lossless WebP (sog_images.py), encoded on two threads. Unbundled, each file is
replaced atomically and meta.json last, so a reader never sees a new meta.json before its images.
"""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from viewer.formats.compressed_ply_write import morton_order
from viewer.formats.files import write_file
from viewer.formats.kmeans import codebook_1d, nearest_1d, palette
from viewer.formats.quaternions import pack_smallest_three
from viewer.formats.sog_images import encode_webp
from viewer.formats.sog_meta import CODEBOOK_SIZE, MAX_PALETTE
from viewer.scene import GaussianScene

SOG_VERSION = 2
GENERATOR = "splatscope"
ENCODE_THREADS = 2


def grid_size(count: int) -> tuple[int, int]:
    """(width, height) of the per-Gaussian images for `count` Gaussians (at least 4 x 4)."""
    width = max(4, -(-int(np.ceil(np.sqrt(count))) // 4) * 4)
    height = max(4, -(-count // (width * 4)) * 4)
    return width, height


def _image(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """[height, width, C] uint8 image of [N, C] values, one pixel each, trailing pixels zero."""
    pixels = np.zeros((height * width, values.shape[1]), dtype=np.uint8)
    pixels[: values.shape[0]] = values
    return pixels.reshape(height, width, values.shape[1])


def _means(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """means_l and means_u pixel values ([N, 3] uint8 each) and the meta 'means' ranges."""
    n = np.sign(means.astype(np.float64)) * np.log1p(np.abs(means.astype(np.float64)))
    mins, maxs = n.min(axis=0), n.max(axis=0)
    span = np.where(maxs > mins, maxs - mins, 1.0)
    q = np.clip(np.rint((n - mins) / span * 65535.0), 0, 65535).astype(np.uint16)
    low = (q & 0xFF).astype(np.uint8)
    high = (q >> 8).astype(np.uint8)
    return low, high, {"mins": mins.tolist(), "maxs": maxs.tolist()}


def _quats(rotations: np.ndarray) -> np.ndarray:
    """[N, 4] uint8 quats pixels of (w, x, y, z) quaternions."""
    largest, others = pack_smallest_three(rotations)
    stored = np.rint((others.astype(np.float64) * (np.sqrt(2.0) / 2.0) + 0.5) * 255.0)
    pixels = np.empty((rotations.shape[0], 4), dtype=np.uint8)
    pixels[:, :3] = np.clip(stored, 0, 255).astype(np.uint8)
    pixels[:, 3] = 252 + largest.astype(np.uint8)
    return pixels


def _shn(sh: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """shN_centroids and shN_labels images and the meta 'shN' fields of [N, K, 3] SH."""
    n, coeffs = sh.shape[0], sh.shape[1] - 1
    centroids, labels = palette(sh[:, 1:].reshape(n, -1), min(MAX_PALETTE, n))
    codebook = codebook_1d(centroids, CODEBOOK_SIZE)
    entries = centroids.shape[0]
    rows = -(-entries // 64)
    table = np.zeros((rows * 64, coeffs, 3), dtype=np.uint8)
    table[:entries] = nearest_1d(centroids, codebook).reshape(entries, coeffs, 3)
    label_pixels = np.zeros((n, 3), dtype=np.uint8)
    label_pixels[:, 0] = labels & 0xFF
    label_pixels[:, 1] = labels >> 8
    fields = {"count": entries, "bands": degree, "codebook": codebook.tolist()}
    return table.reshape(rows, 64 * coeffs, 3), label_pixels, fields


def sog_files(scene: GaussianScene, keep_order: bool = False) -> dict[str, bytes]:
    """The files of `scene` as an unbundled SOG: meta.json and the WebP images, by name.

    The Gaussians are Morton-ordered unless `keep_order` (a streamed SOG chunk, whose rows the
    index addresses, is ordered by its writer).
    """
    if not keep_order:
        scene = scene.subset(morton_order(scene.means))
    width, height = grid_size(scene.count)
    low, high, means = _means(scene.means)
    log_scales = scene.stored_log_scales()
    scale_codebook = codebook_1d(log_scales, CODEBOOK_SIZE)
    dc_codebook = codebook_1d(scene.sh[:, 0], CODEBOOK_SIZE)
    sh0 = np.empty((scene.count, 4), dtype=np.uint8)
    sh0[:, :3] = nearest_1d(scene.sh[:, 0], dc_codebook)
    sh0[:, 3] = np.clip(np.rint(scene.opacities * 255.0), 0, 255).astype(np.uint8)
    images = {
        "means_l.webp": _image(low, width, height),
        "means_u.webp": _image(high, width, height),
        "quats.webp": _image(_quats(scene.rotations), width, height),
        "scales.webp": _image(nearest_1d(log_scales, scale_codebook), width, height),
        "sh0.webp": _image(sh0, width, height),
    }
    meta: dict[str, Any] = {
        "version": SOG_VERSION,
        "asset": {"generator": GENERATOR},
        "count": scene.count,
        "antialias": False,
        "means": means | {"files": ["means_l.webp", "means_u.webp"]},
        "scales": {"codebook": scale_codebook.tolist(), "files": ["scales.webp"]},
        "quats": {"files": ["quats.webp"]},
        "sh0": {"codebook": dc_codebook.tolist(), "files": ["sh0.webp"]},
    }
    if scene.sh_degree > 0:
        centroids, labels, shn = _shn(scene.sh, scene.sh_degree)
        images["shN_centroids.webp"] = centroids
        images["shN_labels.webp"] = _image(labels, width, height)
        meta["shN"] = shn | {"files": ["shN_centroids.webp", "shN_labels.webp"]}
    with ThreadPoolExecutor(ENCODE_THREADS) as pool:
        encoded = dict(zip(images, pool.map(encode_webp, images.values()), strict=True))
    return encoded | {"meta.json": json.dumps(meta, separators=(",", ":")).encode("utf-8")}


def _bundle(files: dict[str, bytes]) -> bytes:
    """A ZIP of `files` at its root: images stored (WebP is compressed), meta.json deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=method)
    return out.getvalue()


def write_sog(scene: GaussianScene, path: Path, *, keep_order: bool = False) -> None:
    """Write `scene` as SOG v2: a bundled .sog, or a meta.json with its images beside it.

    `keep_order` writes the Gaussians in the scene's order instead of Morton order.

    Raises:
        SceneError: when a file cannot be written.
    """
    files = sog_files(scene, keep_order)
    if path.name.lower() != "meta.json":
        write_file(path, partial(_put, _bundle(files)))
        return
    meta = files.pop("meta.json")
    for name, data in files.items():
        write_file(path.parent / name, partial(_put, data))
    write_file(path, partial(_put, meta))


def _put(data: bytes, file: BinaryIO) -> None:
    """Write `data` to `file` (for write_file)."""
    file.write(data)
