"""scripts/make_streamed_scene.py: a large synthetic city written as a streamed SOG, by region.

The 20M scene itself is made by hand (docs/lod.md, "Large scenes"); here a 200k run is read back
level by level, and the no-holding path is checked structurally: the tree is known before any
Gaussian exists, tiles are made one at a time and none outlives its turn.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from viewer.features.lod_stream_write import Region, StreamLayout, write_streamed_tree
from viewer.formats.sog import read_sog
from viewer.formats.sog_lod import read_lod_meta, read_streamed_sog
from viewer.formats.sog_lod_meta import LodMeta
from viewer.scene import GaussianScene

REPO = Path(__file__).resolve().parents[1]
COUNT = 200_000
LEVELS = 3
QUANTUM = 0.2  # SOG's 16-bit log positions: about 0.1 units at 500 from the origin


@pytest.fixture(scope="module")
def script() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location(
        "make_streamed_scene", REPO / "scripts" / "make_streamed_scene.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def city(script, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The script run for 200k Gaussians, SH 1, three levels."""
    path = tmp_path_factory.mktemp("city") / "out" / "lod-meta.json"
    args = [str(path), "--count", str(COUNT), "--levels", str(LEVELS), "--seed", "3"]
    assert script.main(args) == 0
    return path


def leaf_ids(meta: LodMeta, node: int) -> list[int]:
    """The leaves under `node` (itself if it is one)."""
    children = meta.nodes[node].children
    return [node] if not children else [leaf for c in children for leaf in leaf_ids(meta, c)]


def test_the_run_reads_back_at_every_level(city: Path, capsys) -> None:
    meta = read_lod_meta(city)
    assert meta.levels == LEVELS and meta.counts[0] == COUNT
    assert all(a > b for a, b in zip(meta.counts, meta.counts[1:], strict=False))
    assert meta.counts[-1] <= math.ceil(COUNT / 4 ** (LEVELS - 1))
    leaves = [node for node in meta.nodes if not node.children]
    assert len(leaves) == 4  # 200k in tiles of <= 65,536: a 2 x 2 grid
    for level in range(LEVELS):
        scene = read_streamed_sog(city, level)
        assert scene.count == meta.counts[level] == sum(leaf.lods[level].count for leaf in leaves)
        assert scene.sh_degree == 1
        assert np.all(np.abs(scene.means[:, :2]) <= 500 + 10)  # the 1000-unit city (and trees)


def test_tree_bounds_hold_their_gaussians(city: Path) -> None:
    meta = read_lod_meta(city)
    folder = city.parent
    for level in range(LEVELS):
        names = enumerate(meta.filenames)
        chunks = {f: read_sog(folder / n) for f, n in names if n.startswith(f"{level}_")}
        for index, node in enumerate(meta.nodes):
            for leaf in leaf_ids(meta, index):
                ref = meta.nodes[leaf].lods[level]
                means = chunks[ref.file].means[ref.offset : ref.offset + ref.count]
                assert np.all(means >= node.lo - QUANTUM) and np.all(means <= node.hi + QUANTUM)


def test_the_tree_is_known_before_any_gaussian_and_tiles_hold_a_leaf(script) -> None:
    """20M: 18 x 17 tiles of <= 65,536, five levels, and not one Gaussian made to know it."""
    city = script.City(20_000_000)
    assert city.tiles == (18, 17)
    nx, ny = city.tiles
    counts = [city.tile_count(i, j) for i in range(nx) for j in range(ny)]
    assert sum(counts) == 20_000_000 and max(counts) <= StreamLayout().leaf_size

    def refuse(i: int, j: int) -> GaussianScene:
        raise AssertionError("made a tile")

    root = city.regions(refuse)
    assert sum(1 for _ in root.leaves()) == nx * ny
    assert script.auto_levels(20_000_000) == 5  # 20M / 4^4 = 78k at the coarsest
    assert script.auto_levels(COUNT) == 4 and script.auto_levels(10) == 4


def test_the_writer_makes_one_tile_at_a_time_and_keeps_none(script, tmp_path: Path) -> None:
    """Peak memory is one tile's, whatever the count: no tile is alive when the next is made."""
    layout = StreamLayout(leaf_size=1000, unit_size=2500, levels=3)
    city = script.City(5000, seed=1, sh_degree=0, leaf_size=layout.leaf_size)
    made: list[tuple[int, int]] = []
    alive: list[weakref.ref[GaussianScene]] = []

    def make(i: int, j: int) -> GaussianScene:
        gc.collect()
        assert not [ref for ref in alive if ref() is not None], "an earlier tile is still held"
        made.append((i, j))
        scene = city.tile(i, j)
        alive.append(weakref.ref(scene))
        assert scene.count == city.tile_count(i, j) <= layout.leaf_size
        return scene

    root = city.regions(make)
    assert not made
    counts = write_streamed_tree(root, tmp_path / "out" / "lod-meta.json", layout)
    nx, ny = city.tiles
    assert sorted(made) == [(i, j) for i in range(nx) for j in range(ny)]  # each once
    assert counts[0] == 5000


def test_a_tile_comes_from_its_own_seed(script) -> None:
    city = script.City(300_000, seed=5)
    a = city.tile(1, 2)
    city.tile(0, 0)
    b = city.tile(1, 2)
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.sh, b.sh)
    assert not np.array_equal(script.City(300_000, seed=6).tile(1, 2).means[:10], a.means[:10])
    x0, y0, x1, y1 = city.tile_box(1, 2)
    inside = np.all((a.means[:, :2] >= (x0, y0)) & (a.means[:, :2] <= (x1, y1)), axis=1)
    assert inside.mean() > 0.99  # buildings and trees stay in their tile (a crown may poke out)


def test_a_region_leaf_must_make_what_a_leaf_holds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="children or"):
        Region()
    big = Region(make=lambda: _discs(11))
    with pytest.raises(ValueError, match="made 11 Gaussians"):
        write_streamed_tree(big, tmp_path / "x" / "lod-meta.json", StreamLayout(leaf_size=10))
    assert not (tmp_path / "x").exists()


def _discs(n: int) -> GaussianScene:
    rng = np.random.default_rng(n)
    return GaussianScene.from_arrays(
        rng.normal(size=(n, 3)), np.full((n, 3), 0.1), np.tile([1.0, 0, 0, 0], (n, 1)),
        np.full(n, 0.5), rng.normal(size=(n, 1, 3)),
    )  # fmt: skip
