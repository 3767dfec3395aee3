"""Streamed SOG index (lod-meta.json, version 1): parsed and checked before any chunk is read.

The layout (PlayCanvas's Streamed SOG specification and splat-transform's writer):
    {version: 1, asset?: {generator}, count, counts: [per level], lodLevels,
     environment?: "env/meta.json", filenames: ["0_0/meta.json", ...], tree: node}
    node = {bound: {min: [3], max: [3]}, children: [node, ...]}            (inner)
         | {bound: {min: [3], max: [3]}, lods: {"L": {file, offset, count}}} (leaf)
Level 0 is the finest. Every path is relative to the folder of lod-meta.json, and each chunk is
an unbundled SOG (meta.json and images) whose rows offset .. offset + count - 1 are the leaf's
Gaussians at that level. count and counts are optional (older writers omit them); where given
they must match the tree. Unknown fields are ignored.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from viewer.errors import SceneError
from viewer.formats.sog_files import checked_name
from viewer.formats.sog_meta import MAX_COUNT

LOD_META_VERSION = 1
MAX_LEVELS = 32
MAX_FILES = 65536  # chunk files (a chunk holds up to about 512k Gaussians)
MAX_NODES = 2**20  # tree nodes
MAX_DEPTH = 64  # a balanced binary tree of 2^20 nodes is 20 deep
MAX_TOTAL = 2**40  # Gaussians over all levels


@dataclass(frozen=True)
class LodRef:
    """The rows of chunk file `file` (an index into filenames) that hold a node at one level."""

    file: int
    offset: int
    count: int


@dataclass(frozen=True)
class LodNode:
    """A node of the spatial tree: bounds, child indices (inner) or refs by level (leaf)."""

    lo: np.ndarray
    hi: np.ndarray
    children: tuple[int, ...]
    lods: dict[int, LodRef]


@dataclass(frozen=True)
class LodMeta:
    """The checked contents of a lod-meta.json.

    Attributes:
        levels: number of LOD levels (0 the finest).
        counts: Gaussians per level (from the tree).
        filenames: chunk meta.json paths, relative to the index's folder.
        environment: the always-drawn environment SOG's meta.json, or None.
        nodes: the tree in depth-first order, the root first.
    """

    levels: int
    counts: tuple[int, ...]
    filenames: tuple[str, ...]
    environment: str | None
    nodes: tuple[LodNode, ...]

    def refs(self, level: int) -> list[LodRef]:
        """The refs of `level`, leaves in tree order."""
        return [node.lods[level] for node in self.nodes if level in node.lods]


def _int(source: Path, value: object, what: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise SceneError(
            source, f"lod-meta.json {what} is {value!r}, not an integer in 0..{limit:,}"
        )
    return value


def _bound(source: Path, node: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    bound = node.get("bound")
    corners = [bound.get(key) if isinstance(bound, dict) else None for key in ("min", "max")]
    if not all(
        isinstance(c, list)
        and len(c) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in c)
        for c in corners
    ):
        raise SceneError(source, "lod-meta.json has a tree node without a bound {min, max}")
    lo, hi = (np.array(c, dtype=np.float64) for c in corners)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise SceneError(source, "lod-meta.json has a tree node bound that is not finite")
    return lo, hi


def _lods(source: Path, value: object, levels: int, files: int) -> dict[int, LodRef]:
    if not isinstance(value, dict):
        raise SceneError(source, "lod-meta.json has a tree node with neither children nor lods")
    refs: dict[int, LodRef] = {}
    for key, ref in value.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < levels):
            raise SceneError(source, f"lod-meta.json names LOD level {key!r} of {levels}")
        if not isinstance(ref, dict):
            raise SceneError(source, f"lod-meta.json LOD {key} reference is not an object")
        refs[int(key)] = LodRef(
            file=_int(source, ref.get("file"), "a reference's file", files - 1),
            offset=_int(source, ref.get("offset"), "a reference's offset", MAX_COUNT),
            count=_int(source, ref.get("count"), "a reference's count", MAX_COUNT),
        )
    return refs


def _tree(source: Path, root: object, levels: int, files: int) -> tuple[LodNode, ...]:
    """The nodes depth first (iteratively: no recursion on hostile depths)."""
    found: list[tuple[np.ndarray, np.ndarray, dict[int, LodRef]]] = []
    children: list[list[int]] = []
    stack: list[tuple[object, int, int]] = [(root, 0, -1)]  # (node, depth, parent id)
    while stack:
        value, depth, parent = stack.pop()
        if not isinstance(value, dict):
            raise SceneError(source, "lod-meta.json has a tree node that is not an object")
        if depth > MAX_DEPTH or len(found) >= MAX_NODES:
            raise SceneError(
                source, f"lod-meta.json tree deeper than {MAX_DEPTH} or over {MAX_NODES:,} nodes"
            )
        index = len(found)
        if parent >= 0:
            children[parent].append(index)
        children.append([])
        lo, hi = _bound(source, value)
        below = value.get("children")
        if below is None:
            found.append((lo, hi, _lods(source, value.get("lods"), levels, files)))
            continue
        if not isinstance(below, list) or not below:
            raise SceneError(source, "lod-meta.json has tree children that are not a list")
        stack.extend((child, depth + 1, index) for child in reversed(below))
        found.append((lo, hi, {}))
    return tuple(
        LodNode(lo, hi, tuple(ids), lods)
        for (lo, hi, lods), ids in zip(found, children, strict=True)
    )


def _check_ranges(source: Path, nodes: tuple[LodNode, ...], names: tuple[str, ...]) -> None:
    """Refs to one file may not overlap (each row of a chunk is one Gaussian of one node)."""
    by_file: dict[int, list[tuple[int, int]]] = {}
    for node in nodes:
        for ref in node.lods.values():
            by_file.setdefault(ref.file, []).append((ref.offset, ref.count))
    for file, ranges in by_file.items():
        ranges.sort()
        for (offset, count), (following, _) in itertools.pairwise(ranges):
            if offset + count > following:
                raise SceneError(
                    source, f"lod-meta.json gives overlapping rows of '{names[file]}' to two nodes"
                )


def parse_lod_meta(source: Path, document: Any) -> LodMeta:
    """The checked LodMeta of a parsed lod-meta.json.

    Raises:
        SceneError: for a version other than 1, a missing or malformed field, a path that
            leaves the folder, a tree too deep or large, or counts that do not match the tree.
    """
    if not isinstance(document, dict):
        raise SceneError(source, "lod-meta.json is not a JSON object")
    version = document.get("version", LOD_META_VERSION)
    if version != LOD_META_VERSION or isinstance(version, bool):
        raise SceneError(source, f"unsupported streamed SOG version {version!r} (readable: 1)")
    levels = _int(source, document.get("lodLevels"), "lodLevels", MAX_LEVELS)
    if levels == 0:
        raise SceneError(source, "lod-meta.json lodLevels is 0")
    names = document.get("filenames")
    if not isinstance(names, list) or not 0 < len(names) <= MAX_FILES:
        raise SceneError(source, f"lod-meta.json filenames is not a list of 1..{MAX_FILES} names")
    filenames = tuple(checked_name(source, name) for name in names)
    environment = document.get("environment")
    if environment is not None:
        environment = checked_name(source, environment)
    nodes = _tree(source, document.get("tree"), levels, len(filenames))
    _check_ranges(source, nodes, filenames)
    counts = [0] * levels
    for node in nodes:
        for level, ref in node.lods.items():
            counts[level] += ref.count
    given = document.get("counts")
    if given is not None and given != counts:
        raise SceneError(source, f"lod-meta.json counts {given!r} do not match its tree {counts}")
    if document.get("count", sum(counts)) != sum(counts) or sum(counts) > MAX_TOTAL:
        raise SceneError(source, f"lod-meta.json count does not match its tree ({sum(counts):,})")
    if 0 in counts:
        raise SceneError(source, f"lod-meta.json LOD {counts.index(0)} holds no Gaussians")
    return LodMeta(levels, tuple(counts), filenames, environment, nodes)
