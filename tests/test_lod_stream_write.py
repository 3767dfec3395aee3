"""Streamed SOG, write: the spatial partition, the LOD cuts, and round trips through our reader.

splat-transform reading what this writes is checked in test_formats_interop.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.formats_helpers import stored_scene
from tests.test_formats_interop import assert_within_sog_quantisation, matched
from tests.test_hostile_inputs import fails
from viewer.cli import main
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.features.lod_partition import partition
from viewer.features.lod_spill import SpilledRows, budget_layout
from viewer.features.lod_stream_write import (
    SceneRows,
    StreamLayout,
    cut_levels,
    write_streamed_sog,
)
from viewer.formats import load_scene, save_scene
from viewer.formats.ply_pieces import PlyPieces
from viewer.formats.sog_lod import joined, read_lod_meta
from viewer.scene import GaussianScene

COUNT = 1500
LAYOUT = StreamLayout(leaf_size=400, unit_size=1000, levels=3)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[GaussianScene, Path, list[int]]:
    """A 1500-Gaussian SH-1 scene written as a streamed SOG in 400-Gaussian leaves."""
    scene = stored_scene(COUNT, 1, seed=4)
    path = tmp_path_factory.mktemp("streamed") / "out" / "lod-meta.json"
    return scene, path, write_streamed_sog(SceneRows(scene), path, LAYOUT)


def test_the_partition_has_bounded_leaves_holding_every_row_once() -> None:
    positions = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    leaves = partition(positions, 100).leaves()
    assert all(leaf.size <= 100 and np.all(np.diff(leaf) > 0) for leaf in leaves)
    np.testing.assert_array_equal(np.sort(np.concatenate(leaves)), np.arange(1000))
    assert len(leaves) == 16  # median splits: 1000 -> 500 -> 250 -> 125 -> 62/63


def test_each_level_is_a_cut_of_the_hierarchy() -> None:
    hierarchy = build_hierarchy(stored_scene(500, 0, seed=1))
    cuts = cut_levels(hierarchy, 4, 4.0)
    np.testing.assert_array_equal(cuts[0], np.arange(500))
    for k, cut in enumerate(cuts):
        assert cut.size <= max(1, int(np.ceil(500 / 4.0**k)))
        covered = np.zeros(hierarchy.node_count, dtype=np.int64)  # cut ancestors per leaf
        for leaf in range(500):
            node = leaf
            while node >= 0:
                covered[leaf] += node in set(cut.tolist())
                node = int(hierarchy.parent_from_node[node])
        assert np.all(covered[:500] == 1)
    assert [c.size for c in cuts] == sorted((c.size for c in cuts), reverse=True)


def test_round_trip_counts_tree_and_values(written) -> None:
    scene, path, counts = written
    meta = read_lod_meta(path)
    assert meta.levels == 3 and list(meta.counts) == counts and counts[0] == COUNT
    leaves = [node for node in meta.nodes if not node.children]
    assert len(leaves) == 4  # 1500 -> 750 -> 375
    names = ["0_0/meta.json", "0_1/meta.json", "1_0/meta.json", "2_0/meta.json"]
    assert sorted(meta.filenames) == names
    ours = load_scene(path)
    assert "LOD 0 of 0..2, 2 chunks" in ours.file_format
    assert_within_sog_quantisation(ours, matched(ours, scene))
    for level in (1, 2):
        assert load_scene(path, lod_level=level).count == counts[level] < counts[level - 1]


def test_coarse_levels_are_the_leaves_hierarchy_cuts(written) -> None:
    """Level 1 holds, per spatial leaf, the cut of that leaf's own hierarchy."""
    scene, path, counts = written
    expected = []
    for rows in partition(scene.means, LAYOUT.leaf_size).leaves():
        hierarchy = build_hierarchy(scene.subset(rows))
        ids = cut_levels(hierarchy, LAYOUT.levels, LAYOUT.ratio)[1]
        expected.append(
            GaussianScene(
                hierarchy.means[ids],
                hierarchy.scales[ids],
                hierarchy.rotations[ids],
                hierarchy.opacities[ids],
                hierarchy.sh[ids],
            )
        )
    level1 = load_scene(path, lod_level=1)
    reference = joined(path, expected, "")
    assert reference.count == counts[1]
    assert_within_sog_quantisation(level1, matched(level1, reference))


def test_leaf_bounds_hold_their_gaussians_at_every_level(written) -> None:
    _, path, _ = written
    meta = read_lod_meta(path)
    for level in range(meta.levels):
        chunks = {}
        for node in meta.nodes:
            if not node.children:
                ref = node.lods[level]
                if ref.file not in chunks:
                    chunks[ref.file] = load_scene(path.parent / meta.filenames[ref.file])
                means = chunks[ref.file].means[ref.offset : ref.offset + ref.count]
                assert np.all(means >= node.lo - 1e-4) and np.all(means <= node.hi + 1e-4)


def test_convert_writes_a_streamed_sog_and_replaces_only_one(capsys, tmp_path: Path) -> None:
    save_scene(stored_scene(300, 0, seed=2), tmp_path / "in.ply")
    out = tmp_path / "out" / "lod-meta.json"
    for _ in range(2):  # the second run replaces the first's folder
        assert main(["convert", str(tmp_path / "in.ply"), str(out)]) == 0
        assert "wrote 300 Gaussians" in capsys.readouterr().out
    assert json.loads(out.read_text())["counts"][0] == 300
    (tmp_path / "out" / "notes.txt").write_text("mine")
    fails(capsys, "convert", str(tmp_path / "in.ply"), str(out), fragments=("holds 'notes.txt'",))
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    (tmp_path / "out" / "notes.txt").unlink()
    inside = tmp_path / "out" / "0_0" / "meta.json"
    fails(capsys, "convert", str(inside), str(out), fragments=("input",))


def test_a_ply_read_in_pieces_gives_the_same_streamed_sog(written, tmp_path: Path) -> None:
    """--memory-budget's path: the .ply read 100 rows at a time, rows spilled per leaf."""
    scene, path, counts = written
    save_scene(scene, tmp_path / "in.ply")
    row_bytes = PlyPieces(tmp_path / "in.ply", 1).dtype.itemsize
    ply = PlyPieces(tmp_path / "in.ply", piece_bytes=100 * row_bytes)
    assert sum(1 for _ in ply.pieces()) == 15
    index = tmp_path / "pieces" / "lod-meta.json"
    assert write_streamed_sog(SpilledRows(ply), index, LAYOUT) == counts
    assert index.read_text() == path.read_text()
    names = sorted(p.name for p in index.parent.iterdir())
    assert names == sorted(p.name for p in path.parent.iterdir())
    for level in range(LAYOUT.levels):
        a, b = load_scene(index, lod_level=level), load_scene(path, lod_level=level)
        np.testing.assert_array_equal(a.means, b.means)
        np.testing.assert_array_equal(a.sh, b.sh)


def test_a_budget_sizes_reads_leaves_and_chunks() -> None:
    piece, layout = budget_layout(64 * 2**20)
    assert piece == 8 * 2**20 and layout.leaf_size == layout.unit_size == 64 * 2**20 // 6144
    assert budget_layout(2**40)[1] == StreamLayout()


def test_convert_with_a_memory_budget(capsys, tmp_path: Path) -> None:
    save_scene(stored_scene(300, 0, seed=2), tmp_path / "in.ply")
    out = tmp_path / "out" / "lod-meta.json"
    assert main(["convert", str(tmp_path / "in.ply"), str(out), "--memory-budget", "64"]) == 0
    assert "wrote 300 Gaussians" in capsys.readouterr().out
    assert load_scene(out).count == 300
    save_scene(stored_scene(30, 0), tmp_path / "in.spz")
    out = tmp_path / "other" / "lod-meta.json"  # the first is now an input of this process
    fails(capsys, "convert", str(tmp_path / "in.spz"), str(out), "--memory-budget", "64",
          fragments=("reads an INRIA 3DGS .ply",))  # fmt: skip
    fails(capsys, "convert", str(tmp_path / "in.ply"), str(tmp_path / "x.sog"), "--memory-budget",
          "64", fragments=("streamed SOG output",))  # fmt: skip
