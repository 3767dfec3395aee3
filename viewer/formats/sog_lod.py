"""Streamed SOG (lod-meta.json, version 1), read whole at one LOD level.

The index (sog_lod_meta.py) is checked first; then every chunk file that the level uses is read
through the SOG reader (sog.py: its own size and path checks), each chunk path resolved inside
the index's folder (symlinks included), and the rows the tree gives each leaf are taken from
it: a ref past the chunk's end is refused. The environment SOG, when there is one, is drawn at
every level and so is read with any level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.limits import check_decoded_size, decoded_bytes
from viewer.formats.sog import read_sog
from viewer.formats.sog_files import MAX_META_BYTES, SogFolder
from viewer.formats.sog_lod_meta import LodMeta, LodRef, parse_lod_meta
from viewer.formats.sog_meta import parse_json
from viewer.input_files import file_size, read_bytes
from viewer.scene import GaussianScene


def read_lod_meta(path: Path) -> LodMeta:
    """The checked index of a streamed SOG.

    Raises:
        SceneError: for a missing, oversized or malformed lod-meta.json.
    """
    if file_size(path) > MAX_META_BYTES:
        raise SceneError(path, "not a streamed SOG lod-meta.json (too large)")
    return parse_lod_meta(path, parse_json(path, read_bytes(path)))


def _rows(refs: list[LodRef]) -> np.ndarray:
    """The chunk rows of `refs`, in order."""
    return np.concatenate([np.arange(r.offset, r.offset + r.count) for r in refs])


def _chunk(folder: SogFolder, name: str, refs: list[LodRef]) -> GaussianScene:
    """The Gaussians `refs` give from the chunk `name`."""
    chunk = read_sog(folder.path(name))
    end = max(r.offset + r.count for r in refs)
    if end > chunk.count:
        raise SceneError(
            folder.source,
            f"lod-meta.json gives rows up to {end:,} of '{name}', which holds {chunk.count:,}",
        )
    return chunk.subset(_rows(refs))


def joined(path: Path, parts: list[GaussianScene], file_format: str) -> GaussianScene:
    """One scene of `parts` in order, SH padded with zeros to the highest degree among them."""
    coeffs = max(part.sh.shape[1] for part in parts)

    def padded(sh: np.ndarray) -> np.ndarray:
        return np.pad(sh, ((0, 0), (0, coeffs - sh.shape[1]), (0, 0)))

    def raw(name: str) -> np.ndarray | None:
        values = [getattr(part, name) for part in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    def stacked(name: str) -> np.ndarray:
        return np.concatenate([getattr(part, name) for part in parts])

    return GaussianScene(
        stacked("means"),
        stacked("scales"),
        stacked("rotations"),
        stacked("opacities"),
        np.concatenate([padded(part.sh) for part in parts]),
        source=str(path),
        log_scales=raw("log_scales"),
        opacity_logits=raw("opacity_logits"),
        file_format=file_format,
    )


def read_streamed_sog(path: Path, level: int = 0) -> GaussianScene:
    """Read the lod-meta.json of a streamed SOG at LOD `level` (0, the default, the finest).

    Raises:
        SceneError: for a hostile or malformed index (sog_lod_meta.py), a level it lacks, a
            chunk that is missing, malformed or leaves the folder, or holds fewer rows than
            the index gives, or a level too large for memory.
    """
    meta = read_lod_meta(path)
    if not 0 <= level < meta.levels:
        raise SceneError(path, f"has no LOD level {level} (levels 0..{meta.levels - 1})")
    check_decoded_size(path, meta.counts[level], decoded_bytes(meta.counts[level], 1), 1)
    by_file: dict[int, list[LodRef]] = {}
    for ref in meta.refs(level):
        by_file.setdefault(ref.file, []).append(ref)
    folder = SogFolder(path)
    parts = [_chunk(folder, meta.filenames[file], refs) for file, refs in by_file.items()]
    if meta.environment is not None:
        parts.append(read_sog(folder.path(meta.environment)))
    chunks = f"{len(by_file)} chunk{'s' * (len(by_file) != 1)}"
    return joined(
        path,
        parts,
        f"PlayCanvas streamed SOG v1 (LOD {level} of 0..{meta.levels - 1}, {chunks})",
    )
