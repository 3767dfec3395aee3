"""SOG meta.json (version 2): parsed and checked before any image is read.

Fields used (PlayCanvas's SOG specification): version, count, antialias (optional), means
{mins, maxs, files [means_l, means_u]}, scales {codebook, files [scales]}, quats {files
[quats]}, sh0 {codebook, files [sh0]}, optional shN {count, bands, codebook, files [centroids,
labels]}. Unknown fields are ignored, as the spec asks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewer.errors import SceneError
from viewer.formats.sog_files import checked_name

READABLE_VERSIONS = (2,)
CODEBOOK_SIZE = 256
MAX_PALETTE = 65536  # labels are 16-bit
MAX_COUNT = 16383 * 16383  # pixels of the largest WebP image
COEFFS_FOR_BANDS = {1: 3, 2: 8, 3: 15}  # SH coefficients per channel above DC
LOD_META_NAME = "lod-meta.json"  # the index of a streamed SOG


@dataclass(frozen=True)
class SogMeta:
    """The checked contents of a meta.json.

    Attributes:
        count: number of Gaussians.
        antialias: the scene was trained with antialiasing (Mip-Splatting's 2D filter).
        mins, maxs: [3] float64 per-axis range of the log-transformed positions.
        scales, sh0, sh_codebook: float32 codebooks (up to 256 entries; sh_codebook empty
            without shN).
        files: image name by role: means_l, means_u, scales, quats, sh0, and with shN
            centroids and labels.
        bands: SH degree above DC held by the palette (0 without shN).
        palette: number of palette entries (0 without shN).
    """

    count: int
    antialias: bool
    mins: np.ndarray
    maxs: np.ndarray
    scales: np.ndarray
    sh0: np.ndarray
    sh_codebook: np.ndarray
    files: dict[str, str]
    bands: int
    palette: int


def parse_json(source: Path, data: bytes) -> Any:
    """The JSON document in `data` (a meta.json).

    Raises:
        SceneError: for bytes that are not UTF-8 JSON, or JSON nested too deeply.
    """
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise SceneError(source, "meta.json is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SceneError(
            source, f"meta.json is not JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except (ValueError, RecursionError):
        raise SceneError(source, "meta.json is not JSON that can be read") from None


def _object(source: Path, parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise SceneError(source, f"meta.json has no '{key}' object")
    return value


def _count(source: Path, value: object, what: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise SceneError(source, f"meta.json {what} is {value!r}, not an integer in 0..{limit:,}")
    return value


def _numbers(source: Path, value: object, what: str, sizes: range) -> np.ndarray:
    """float64 array of a JSON list of finite numbers whose length is in `sizes`."""
    if not isinstance(value, list) or len(value) not in sizes:
        raise SceneError(
            source, f"meta.json {what} is not a list of {sizes.start}..{sizes.stop - 1} numbers"
        )
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise SceneError(source, f"meta.json {what} holds something other than finite numbers")
    return np.array(value, dtype=np.float64)


def _files(
    source: Path, group: dict[str, Any], what: str, roles: tuple[str, ...]
) -> dict[str, str]:
    names = group.get("files")
    if not isinstance(names, list) or len(names) != len(roles):
        raise SceneError(source, f"meta.json {what}.files is not a list of {len(roles)} names")
    return {role: checked_name(source, name) for role, name in zip(roles, names, strict=True)}


def parse_meta(source: Path, document: Any) -> SogMeta:
    """The checked SogMeta of a parsed meta.json.

    Raises:
        SceneError: for a version other than 2, a streamed SOG index (read by sog_lod.py), or
            a missing or malformed field.
    """
    if not isinstance(document, dict):
        raise SceneError(source, "meta.json is not a JSON object")
    if source.name.lower() == LOD_META_NAME or "lodLevels" in document:
        raise SceneError(
            source,
            "a streamed SOG index: splatscope reads it under its own name, lod-meta.json",
        )
    version = document.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        shown = "none (SOG v1)" if version is None else repr(version)
        raise SceneError(source, f"unsupported SOG version {shown} (readable: 2)")
    count = _count(source, document.get("count"), "count", MAX_COUNT)
    means = _object(source, document, "means")
    scales = _object(source, document, "scales")
    sh0 = _object(source, document, "sh0")
    codebook = range(1, CODEBOOK_SIZE + 1)
    files = {
        **_files(source, means, "means", ("means_l", "means_u")),
        **_files(source, scales, "scales", ("scales",)),
        **_files(source, _object(source, document, "quats"), "quats", ("quats",)),
        **_files(source, sh0, "sh0", ("sh0",)),
    }
    bands, palette, sh_codebook = 0, 0, np.zeros(0)
    if document.get("shN") is not None:
        shn = _object(source, document, "shN")
        given = shn.get("bands")
        if type(given) is not int or given not in COEFFS_FOR_BANDS:  # a list is unhashable
            raise SceneError(source, f"meta.json shN.bands is {given!r}, not 1, 2 or 3")
        bands = given
        palette = _count(source, shn.get("count"), "shN.count", MAX_PALETTE)
        sh_codebook = _numbers(source, shn.get("codebook"), "shN.codebook", codebook)
        files |= _files(source, shn, "shN", ("centroids", "labels"))
    antialias = document.get("antialias") is True or document.get("model") == "antialiased"
    return SogMeta(
        count=count,
        antialias=antialias,
        mins=_numbers(source, means.get("mins"), "means.mins", range(3, 4)),
        maxs=_numbers(source, means.get("maxs"), "means.maxs", range(3, 4)),
        scales=_numbers(source, scales.get("codebook"), "scales.codebook", codebook).astype(
            np.float32
        ),
        sh0=_numbers(source, sh0.get("codebook"), "sh0.codebook", codebook).astype(np.float32),
        sh_codebook=sh_codebook.astype(np.float32),
        files=files,
        bands=bands,
        palette=palette,
    )
