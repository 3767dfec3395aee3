"""Streamed SOG (lod-meta.json, version 1), read whole at one LOD level.

The index (sog_lod_meta.py) is checked first; then every chunk file that the level uses is read
through the SOG reader (sog.py: its own size and path checks), each chunk path resolved inside
the index's folder (symlinks included), and the rows the tree gives each leaf are taken from
it: a ref past the chunk's end is refused. The environment SOG, when there is one, is drawn at
every level and so is read with any level.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LodPiece:
    """The Gaussians of one leaf of the tree at one level: rows of one chunk file."""

    leaf: int  # the leaf's index in LodMeta.nodes
    level: int
    ref: LodRef


def level_pieces(meta: LodMeta, level: int | None = None) -> list[LodPiece]:
    """Each leaf's piece at `level`, or with None at the leaf's coarsest level.

    Leaves without the level and empty references are left out.
    Grouped by chunk file (so that a reader decodes each file once), files in the order the
    tree first names them, leaves in tree order within a file.
    """
    pieces = []
    for leaf, node in enumerate(meta.nodes):
        held = [at for at, ref in node.lods.items() if ref.count > 0]
        at = max(held, default=-1) if level is None else level
        if at in held:
            pieces.append(LodPiece(leaf, at, node.lods[at]))
    first: dict[int, int] = {}  # file -> rank of its first appearance in tree order
    for piece in pieces:
        first.setdefault(piece.ref.file, len(first))
    return sorted(pieces, key=lambda p: first[p.ref.file])  # stable: tree order within a file


def piece_rows(ref: LodRef) -> np.ndarray:
    """The chunk rows of `ref`."""
    return np.arange(ref.offset, ref.offset + ref.count)


def piece_of(folder: SogFolder, name: str, chunk: GaussianScene, ref: LodRef) -> GaussianScene:
    """The Gaussians `ref` gives from `chunk` (the decoded file `name`).

    Raises:
        SceneError: when the chunk holds fewer rows than the index gives.
    """
    if ref.offset + ref.count > chunk.count:
        raise SceneError(
            folder.source,
            f"lod-meta.json gives rows up to {ref.offset + ref.count:,} of '{name}', which holds "
            f"{chunk.count:,}",
        )
    return chunk.subset(piece_rows(ref))


def read_pieces(path: Path, meta: LodMeta, pieces: list[LodPiece]) -> list[GaussianScene]:
    """The Gaussians of `pieces`, then the environment's when the scene has one.

    `pieces` ordered by file (as level_pieces gives them): each file is decoded once, one at
    a time.
    """
    folder = SogFolder(path)
    parts: list[GaussianScene] = []
    for file, group in itertools.groupby(pieces, key=lambda p: p.ref.file):
        name = meta.filenames[file]
        chunk = read_sog(folder.path(name))
        parts.extend(piece_of(folder, name, chunk, piece.ref) for piece in group)
    if meta.environment is not None:
        parts.append(read_sog(folder.path(meta.environment)))
    return parts


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


def read_streamed_sog(path: Path, level: int | None = 0) -> GaussianScene:
    """Read the lod-meta.json of a streamed SOG at LOD `level` (0, the default, the finest).

    With None every leaf is read at its coarsest level (where a viewer starts to stream it).

    Raises:
        SceneError: for a hostile or malformed index (sog_lod_meta.py), a level it lacks, a
            chunk that is missing, malformed or leaves the folder, or holds fewer rows than
            the index gives, or a level too large for memory.
    """
    meta = read_lod_meta(path)
    if level is not None and not 0 <= level < meta.levels:
        raise SceneError(path, f"has no LOD level {level} (levels 0..{meta.levels - 1})")
    pieces = level_pieces(meta, level)
    rows = sum(piece.ref.count for piece in pieces)
    check_decoded_size(path, rows, decoded_bytes(rows, 1), 1)
    chunks = len({piece.ref.file for piece in pieces})
    which = "coarsest" if level is None else f"LOD {level}"
    return joined(
        path,
        read_pieces(path, meta, pieces),
        f"PlayCanvas streamed SOG v1 ({which} of 0..{meta.levels - 1}, "
        f"{chunks} chunk{'s' * (chunks != 1)})",
    )
