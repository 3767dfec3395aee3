"""Streamed SOG (lod-meta.json v1), write: spatial chunks x LOD levels of splatscope's hierarchy.

Layout (the reader, viewer.formats.sog_lod, documents the format):
1. The centres are partitioned into leaves of at most `leaf_size` Gaussians (lod_partition:
   a median k-d tree); the tree becomes lod-meta.json's tree. A writer that knows its spatial
   tree beforehand (a generator, scripts/make_streamed_scene.py) gives it as Regions instead
   (`write_streamed_tree`): each leaf makes its Gaussians when the writer comes to it, so no
   array of all the centres is ever needed.
2. Each leaf, on its own and one at a time, gets its LOD hierarchy (lod_hierarchy.
   build_hierarchy over its Gaussians). Its level k is a cut of that tree: the nodes n with
   level(n) <= j < level(parent(n)) (the active nodes once merge level j is done) for the
   smallest merge level j whose cut holds at most ceil(n / ratio^k) nodes. Level 0 is the
   leaf's own Gaussians; a leaf too small for a level stops at its root (one Gaussian).
3. A leaf's Gaussians at each level, Morton-ordered, are appended to that level's open chunk
   file ({level}_{i}/meta.json, unbundled SOG in the given order); a chunk that reaches
   `unit_size` Gaussians is written at once and the next one opened, so at most one chunk per
   level is held (lod_spill.py feeds a .ply larger than memory through this). The leaf's
   bound is the box around its Gaussians' 1-sigma ellipsoids at every level (as
   splat-transform's writer bounds them); an inner node's the union of its children's.
4. lod-meta.json is written last; the whole folder replaces the old one in one rename
   (atomic_write.atomic_folder), and only a folder that holds a streamed SOG and nothing else
   may be replaced.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from viewer.atomic_write import atomic_folder
from viewer.errors import SceneError
from viewer.features.lod_hierarchy import LodHierarchy, build_hierarchy, covariances
from viewer.features.lod_partition import Part, partition
from viewer.formats.compressed_ply_write import morton_order
from viewer.formats.sog_lod import joined
from viewer.formats.sog_meta import LOD_META_NAME
from viewer.formats.sog_write import GENERATOR, write_sog
from viewer.scene import GaussianScene

LOD_META_VERSION = 1
SCRATCH_NAME = "scratch"  # a folder for the source's use while the chunks are written
CHUNK_NAME = re.compile(r"\d+_\d+|env")  # the folders a streamed SOG holds besides its index


@dataclass(frozen=True)
class StreamLayout:
    """How a streamed SOG is cut.

    Gaussians per spatial leaf and per chunk file, the number of LOD levels and the count
    ratio between consecutive levels.
    """

    leaf_size: int = 65536
    unit_size: int = 524288
    levels: int = 4
    ratio: float = 4.0


class RowSource(Protocol):
    """A scene read in pieces: all its centres at once, then each leaf's rows on demand."""

    def positions(self) -> np.ndarray:
        """[N, 3] float32 centres."""
        ...

    def prepare(self, leaves: list[np.ndarray], scratch: Path) -> None:
        """Get ready to hand out the leaves' rows (a folder `scratch` may be made for it)."""
        ...

    def rows(self, rows: np.ndarray) -> GaussianScene:
        """The Gaussians of the sorted `rows` of one leaf."""
        ...


@dataclass(frozen=True)
class SceneRows:
    """A scene in memory as a RowSource."""

    scene: GaussianScene

    def positions(self) -> np.ndarray:
        """The scene's centres."""
        return self.scene.means

    def prepare(self, leaves: list[np.ndarray], scratch: Path) -> None:
        """Nothing to prepare: the scene is in memory."""

    def rows(self, rows: np.ndarray) -> GaussianScene:
        """scene.subset(rows)."""
        return self.scene.subset(rows)


@dataclass(frozen=True)
class Region:
    """A node of a spatial tree known before its Gaussians (lod-meta.json's tree, as written).

    An inner region has children (one or more); a leaf region has none and `make` gives its
    Gaussians (1..leaf_size of them), called once, when the writer comes to that leaf: leaves
    are made one at a time, depth first, and none is kept once its chunks hold it. Bounds come
    from the Gaussians made, so a region need not know its own.
    """

    children: tuple[Region, ...] = ()
    make: Callable[[], GaussianScene] | None = None

    def __post_init__(self) -> None:
        if (self.make is None) == (not self.children):
            raise ValueError("a region has children or (a leaf) a make, not both or neither")

    def leaves(self) -> Iterator[Region]:
        """The leaf regions, depth first (in the order the writer makes them)."""
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()


def _regions(part: Part, source: RowSource) -> Region:
    """A partition of a RowSource's rows as regions whose leaves read their rows."""
    if part.children is None:
        assert part.rows is not None
        rows = part.rows
        return Region(make=lambda: source.rows(rows))
    return Region(children=tuple(_regions(child, source) for child in part.children))


def cut_levels(hierarchy: LodHierarchy, levels: int, ratio: float) -> list[np.ndarray]:
    """The node ids of each LOD level's cut (see the module docstring), level 0 the leaves."""
    level = hierarchy.level.astype(np.int64)
    parent = hierarchy.parent_from_node
    top = int(level.max())
    upper = np.where(parent >= 0, level[np.maximum(parent, 0)], top + 1)  # first j not in
    sizes = np.cumsum(np.bincount(level, minlength=top + 2) - np.bincount(upper, minlength=top + 2))
    cuts = []
    for k in range(levels):
        target = max(1, math.ceil(hierarchy.leaf_count / ratio**k))
        j = int(np.argmax(sizes <= target))
        cuts.append(np.flatnonzero((level <= j) & (upper > j)))
    return cuts


def _nodes(hierarchy: LodHierarchy, ids: np.ndarray, source: str) -> GaussianScene:
    """The hierarchy's nodes `ids` as a scene."""
    return GaussianScene(
        hierarchy.means[ids],
        hierarchy.scales[ids],
        hierarchy.rotations[ids],
        hierarchy.opacities[ids],
        hierarchy.sh[ids],
        source=source,
    )


def _bound(blocks: list[GaussianScene]) -> dict[str, list[float]]:
    """The box around the 1-sigma ellipsoids of every Gaussian in `blocks`."""
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for block in blocks:
        cov = covariances(block.scales, block.rotations)
        half = np.sqrt(cov[:, [0, 3, 5]])
        lo = np.minimum(lo, (block.means - half).min(axis=0))
        hi = np.maximum(hi, (block.means + half).max(axis=0))
    return {"min": _floats(lo), "max": _floats(hi)}


def _floats(values: np.ndarray) -> list[float]:
    """Shortest float32 decimal of each value (as splat-transform rounds, ~7 digits)."""
    return [float(str(np.float32(v))) for v in values]


class _Chunks:
    """The open chunk file of each level; a full one is written and a new one opened."""

    def __init__(self, folder: Path, unit_size: int) -> None:
        self.folder, self.unit_size = folder, unit_size
        self.filenames: list[str] = []
        self.written: dict[int, int] = {}  # chunks written per level
        self.open: dict[int, tuple[int, list[GaussianScene]]] = {}  # level -> (file, blocks)
        self.counts: dict[int, int] = {}

    def add(self, level: int, block: GaussianScene) -> dict[str, int]:
        """Append `block` to the level's chunk; its ref {file, offset, count}."""
        if level not in self.open:
            self.filenames.append(f"{level}_{self.written.get(level, 0)}/meta.json")
            self.open[level] = (len(self.filenames) - 1, [])
        file, blocks = self.open[level]
        offset = sum(b.count for b in blocks)
        blocks.append(block)
        self.counts[level] = self.counts.get(level, 0) + block.count
        if offset + block.count >= self.unit_size:
            self.flush(level)
        return {"file": file, "offset": offset, "count": block.count}

    def flush(self, level: int) -> None:
        """Write the level's open chunk."""
        file, blocks = self.open.pop(level)
        path = self.folder / self.filenames[file]
        path.parent.mkdir()
        write_sog(joined(path, blocks, ""), path, keep_order=True)
        self.written[level] = self.written.get(level, 0) + 1

    def close(self) -> None:
        """Write every open chunk."""
        for level in list(self.open):
            self.flush(level)


def _leaf(make: Callable[[], GaussianScene], layout: StreamLayout, chunks: _Chunks) -> Any:
    """The tree node of one leaf, its Gaussians added to the chunks level by level."""
    scene = make()
    if not 0 < scene.count <= layout.leaf_size:
        raise ValueError(f"a leaf region made {scene.count:,} Gaussians (1..{layout.leaf_size:,})")
    hierarchy = build_hierarchy(scene)
    blocks = [scene] + [
        _nodes(hierarchy, ids, scene.source)
        for ids in cut_levels(hierarchy, layout.levels, layout.ratio)[1:]
    ]
    del hierarchy, scene
    blocks = [block.subset(morton_order(block.means)) for block in blocks]
    lods = {str(k): chunks.add(k, block) for k, block in enumerate(blocks)}
    return {"bound": _bound(blocks), "lods": lods}


def _tree(region: Region, layout: StreamLayout, chunks: _Chunks) -> dict[str, Any]:
    """The lod-meta.json tree of `region`, leaves made (depth first) and written to `chunks`."""
    if region.make is not None:
        return _leaf(region.make, layout, chunks)
    children = [_tree(child, layout, chunks) for child in region.children]
    lo = np.min([child["bound"]["min"] for child in children], axis=0)
    hi = np.max([child["bound"]["max"] for child in children], axis=0)
    return {"bound": {"min": _floats(lo), "max": _floats(hi)}, "children": children}


def check_replaceable(folder: Path) -> None:
    """Refuse to replace a folder that holds anything but a streamed SOG.

    Raises:
        SceneError: for a folder with other files (a streamed SOG replaces its whole folder).
    """
    if not folder.is_dir():
        return
    other = sorted(
        name
        for name in os.listdir(folder)
        if name != LOD_META_NAME and not (CHUNK_NAME.fullmatch(name) and (folder / name).is_dir())
    )
    if other:
        raise SceneError(
            folder / LOD_META_NAME,
            f"its folder holds '{other[0]}', not a streamed SOG: a streamed SOG replaces its "
            "whole folder, so write it to a new or empty one",
        )


def write_streamed_sog(
    source: RowSource, path: Path, layout: StreamLayout = StreamLayout()
) -> list[int]:
    """Write `source` as a streamed SOG: `path` (lod-meta.json) and its chunks in its folder.

    Returns:
        The Gaussians per level.

    Raises:
        SceneError: for a folder that holds other files, or when a file cannot be written.
    """
    check_replaceable(path.parent)
    tree = partition(source.positions(), layout.leaf_size)
    return write_streamed_tree(
        _regions(tree, source),
        path,
        layout,
        prepare=lambda scratch: source.prepare(tree.leaves(), scratch),
    )


def write_streamed_tree(
    root: Region,
    path: Path,
    layout: StreamLayout = StreamLayout(),
    prepare: Callable[[Path], None] | None = None,
) -> list[int]:
    """Write the Gaussians of a spatial tree as a streamed SOG (see `write_streamed_sog`).

    `root`'s tree is lod-meta.json's tree; its leaves are made one at a time, depth first.
    `prepare`, when given, is called first with a scratch folder's path inside the new
    folder (it may make it; it is removed before lod-meta.json is written).

    Returns:
        The Gaussians per level.

    Raises:
        SceneError: for a folder that holds other files, or when a file cannot be written.
        ValueError: for a leaf region that makes no Gaussians or more than `layout.leaf_size`.
    """
    check_replaceable(path.parent)
    with atomic_folder(path.parent, check_replaceable) as folder:
        if prepare is not None:
            prepare(folder / SCRATCH_NAME)
        chunks = _Chunks(folder, layout.unit_size)
        tree = _tree(root, layout, chunks)
        chunks.close()
        shutil.rmtree(folder / SCRATCH_NAME, ignore_errors=True)
        counts = [chunks.counts[k] for k in range(layout.levels)]
        meta = {
            "version": LOD_META_VERSION,
            "asset": {"generator": GENERATOR},
            "count": sum(counts),
            "counts": counts,
            "lodLevels": layout.levels,
            "filenames": chunks.filenames,
            "tree": tree,
        }
        (folder / LOD_META_NAME).write_text(json.dumps(meta, separators=(",", ":")))
    return counts
