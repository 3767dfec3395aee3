"""Streamed SOG (lod-meta.json v1): read whole at one LOD level; hostile indexes are one line.

The scenes here are hand made: small unbundled SOG chunks written by splatscope and an index
over them; splat-transform's own streamed output is read in test_formats_interop.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.formats_helpers import stored_scene
from tests.test_hostile_inputs import fails
from viewer.cli import main
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.scene import GaussianScene

FINE, COARSE = 120, 30


def leaf(lo: float, refs: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    """A leaf node over [lo, lo + 1]^3 with refs {level: (file, offset, count)}."""
    lods = {level: {"file": f, "offset": o, "count": c} for level, (f, o, c) in refs.items()}
    return {"bound": {"min": [lo] * 3, "max": [lo + 1] * 3}, "lods": lods}


def index(tree: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A lod-meta.json over the chunks of `streamed` with `tree`."""
    return {
        "version": 1,
        "count": FINE + COARSE,
        "counts": [FINE, COARSE],
        "lodLevels": 2,
        "filenames": ["0_0/meta.json", "1_0/meta.json"],
        "tree": tree,
    } | fields


def good_tree() -> dict[str, Any]:
    """Two leaves: the fine chunk split 70 / 50, the coarse one 20 / 10."""
    return {
        "bound": {"min": [0, 0, 0], "max": [2, 2, 2]},
        "children": [
            leaf(0, {"0": (0, 0, 70), "1": (1, 0, 20)}),
            leaf(1, {"0": (0, 70, 50), "1": (1, 20, 10)}),
        ],
    }


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of two SOG chunks: 0_0 (fine, SH 2) and 1_0 (coarse, SH 0)."""
    folder = tmp_path_factory.mktemp("chunks")
    for name, count, degree in (("0_0", FINE, 2), ("1_0", COARSE, 0)):
        (folder / name).mkdir()
        save_scene(stored_scene(count, degree, seed=count), folder / name / "meta.json")
    return folder


@pytest.fixture
def streamed(chunks: Path, tmp_path: Path) -> tuple[Path, GaussianScene, GaussianScene]:
    """A two-level streamed SOG; its chunks as splatscope reads them (fine, coarse)."""
    folder = tmp_path / "scene"
    shutil.copytree(chunks, folder)
    (folder / "lod-meta.json").write_text(json.dumps(index(good_tree())))
    fine, coarse = (load_scene(folder / name / "meta.json") for name in ("0_0", "1_0"))
    return folder / "lod-meta.json", fine, coarse


def test_each_level_reads_its_chunks_rows(streamed) -> None:
    path, fine, coarse = streamed
    scene = load_scene(path)
    assert scene.count == FINE and scene.sh_degree == 2
    assert "streamed SOG v1 (LOD 0 of 0..1, 1 chunk)" in scene.file_format
    np.testing.assert_array_equal(scene.means, fine.means)
    np.testing.assert_array_equal(scene.sh, fine.sh)
    scene = load_scene(path.parent, lod_level=1)  # the folder names its lod-meta.json
    assert scene.count == COARSE and scene.sh_degree == 0
    np.testing.assert_array_equal(scene.means, coarse.means)


def test_rows_are_taken_in_tree_order_and_sh_is_padded(streamed) -> None:
    path, fine, coarse = streamed
    tree = {
        "bound": {"min": [0, 0, 0], "max": [2, 2, 2]},
        "children": [
            leaf(0, {"0": (0, 100, 20)}),
            leaf(1, {"0": (1, 0, 30)}),
            leaf(1, {"0": (0, 0, 70)}),
        ],
    }
    meta = index(tree, counts=[120], count=120, lodLevels=1)
    path.write_text(json.dumps(meta))
    scene = load_scene(path)
    assert scene.count == 120 and scene.sh_degree == 2
    np.testing.assert_array_equal(scene.means[:20], fine.means[100:])
    np.testing.assert_array_equal(scene.means[20:90], fine.means[:70])  # file 0's rows together
    np.testing.assert_array_equal(scene.means[90:], coarse.means)
    assert not scene.sh[90:, 1:].any()


def test_the_environment_is_read_with_every_level(streamed) -> None:
    path, _, _ = streamed
    path.write_text(json.dumps(index(good_tree(), environment="1_0/meta.json")))
    assert load_scene(path, lod_level=1).count == 2 * COARSE


def test_other_formats_have_only_level_0(streamed) -> None:
    path, _, _ = streamed
    with pytest.raises(SceneError, match="one level of detail"):
        load_scene(path.parent / "0_0" / "meta.json", lod_level=1)
    with pytest.raises(SceneError, match=r"no LOD level 2 \(levels 0..1\)"):
        load_scene(path, lod_level=2)


def deep(depth: int) -> dict[str, Any]:
    """A chain of `depth` inner nodes over one leaf."""
    node = leaf(0, {"0": (0, 0, FINE), "1": (1, 0, COARSE)})
    for _ in range(depth):
        node = {"bound": {"min": [0] * 3, "max": [1] * 3}, "children": [node]}
    return node


def with_leaf(refs: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
    return leaf(0, refs)


HOSTILE: list[tuple[str, Any, str]] = [
    ("not JSON", b"{", "not JSON"),
    ("not UTF-8", b'{"a\xc3\x28": 1}', "not UTF-8"),
    ("nested JSON", b"[" * 100_000 + b"]" * 100_000, "not JSON that can be read"),
    ("a list", [], "not a JSON object"),
    ("version 2", {"version": 2}, "unsupported streamed SOG version 2"),
    ("no levels", {"lodLevels": 0}, "lodLevels is 0"),
    ("levels a string", {"lodLevels": "2"}, "lodLevels is '2'"),
    ("no filenames", {"filenames": []}, "filenames is not a list"),
    (
        "parent path",
        {"filenames": ["../0_0/meta.json", "1_0/meta.json"]},
        "leaves the scene's folder",
    ),
    ("absolute path", {"filenames": ["/etc/passwd", "1_0/meta.json"]}, "leaves the scene's folder"),
    ("environment outside", {"environment": "../env/meta.json"}, "leaves the scene's folder"),
    ("missing chunk", {"filenames": ["9_9/meta.json", "1_0/meta.json"]}, "no such file"),
    ("deep tree", {"tree": deep(100)}, "tree deeper than 64"),
    ("tree not object", {"tree": [1]}, "not an object"),
    ("no bound", {"tree": {"lods": {}}}, "without a bound"),
    (
        "infinite bound",
        {"tree": {"bound": {"min": [0, 0, 0], "max": [1e999, 0, 0]}, "lods": {}}},
        "not finite",
    ),
    (
        "empty children",
        {"tree": {"bound": {"min": [0] * 3, "max": [1] * 3}, "children": []}},
        "children",
    ),
    ("level past lodLevels", {"tree": with_leaf({"2": (0, 0, 1)})}, "LOD level '2' of 2"),
    ("file past filenames", {"tree": with_leaf({"0": (2, 0, 120), "1": (1, 0, 30)})}, "file is 2"),
    ("negative offset", {"tree": with_leaf({"0": (0, -1, 120), "1": (1, 0, 30)})}, "offset is -1"),
    ("counts mismatch", {"counts": [FINE, COARSE + 1]}, "do not match its tree"),
    ("count mismatch", {"count": 7}, "count does not match"),
    (
        "overlap",
        {"tree": with_leaf({"0": (0, 0, 120), "1": (0, 100, 30)}), "counts": None},
        "overlapping rows",
    ),
    (
        "rows past chunk",
        {"tree": with_leaf({"0": (0, 1, 120), "1": (1, 0, 30)})},
        "rows up to 121 of '0_0/meta.json', which holds 120",
    ),
    (
        "chunk is the index",
        {"filenames": ["lod-meta.json", "1_0/meta.json"]},
        "a streamed SOG index",
    ),
]


@pytest.mark.parametrize("what, change, fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_indexes_are_one_line_exit_2(capsys, streamed, what, change, fragment) -> None:
    path, _, _ = streamed
    if isinstance(change, bytes):
        path.write_bytes(change)
    elif isinstance(change, dict):
        path.write_text(json.dumps(index(good_tree()) | change))
    else:
        path.write_text(json.dumps(change))
    fails(capsys, "info", str(path), "--lod-level", "0", fragments=(fragment,))


def test_a_chunk_link_leaving_the_folder_is_refused(capsys, streamed, tmp_path: Path) -> None:
    path, _, _ = streamed
    (tmp_path / "scene" / "0_0").rename(tmp_path / "outside")
    (tmp_path / "scene" / "0_0").symlink_to(tmp_path / "outside")
    fails(
        capsys, "info", str(path), "--lod-level", "0",
        fragments=("a link that leaves the scene's folder",),
    )  # fmt: skip


def test_a_renamed_index_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "renamed-meta.json").write_text(json.dumps(index(good_tree())))
    with pytest.raises(SceneError, match=r"reads it under its own name, lod-meta\.json"):
        load_scene(tmp_path / "renamed-meta.json")


def test_info_reads_the_level_asked_for(capsys, streamed) -> None:
    path, _, _ = streamed
    assert main(["info", str(path.parent), "--lod-level", "1"]) == 0
    out = capsys.readouterr().out
    assert "LOD 1 of 0..1" in out and f"gaussians    {COARSE}" in out


def test_info_describes_the_index_and_the_coarsest_level_by_default(capsys, streamed) -> None:
    path, _, _ = streamed
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"streamed     {FINE} Gaussians at level 0; per level {FINE}, {COARSE}" in out
    assert "coarsest of 0..1" in out and f"gaussians    {COARSE}" in out
