"""LOD trees cached by the scene's content; the background build and its progress."""

from __future__ import annotations

import io
import time

import numpy as np

from tests.conftest import random_scene
from viewer.features.lod_cache import (
    HierarchyJob,
    cached_hierarchy,
    load_tree,
    lod_cache_dir,
    save_tree,
    tree_key,
)
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.features.score_cache import scene_fingerprint
from viewer.progress import Progress


def same_tree(a, b) -> None:
    for name in ("means", "scales", "rotations", "opacities", "sh", "parent_from_node", "level",
                 "first_child", "child_count", "child_from_slot", "bound_centers", "bound_radii",
                 "cell_sizes"):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.leaf_count == b.leaf_count


def test_built_once_then_read_from_the_cache(tmp_path):
    scene = random_scene(np.random.default_rng(31), 600, sh_degree=2)
    fractions = []
    tree, cached = cached_hierarchy(scene, fractions.append, tmp_path)
    assert not cached and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    reported = len(fractions)
    again, cached = cached_hierarchy(scene, fractions.append, tmp_path)
    assert cached and len(fractions) == reported  # read, not built: nothing reported
    same_tree(again, tree)
    same_tree(tree, build_hierarchy(scene))


def test_an_edited_or_broken_cache_is_built_again(tmp_path):
    scene = random_scene(np.random.default_rng(32), 300, sh_degree=0)
    cached_hierarchy(scene, folder=tmp_path)
    edited = random_scene(np.random.default_rng(32), 300, sh_degree=0)
    edited.opacities[0] *= 0.5  # another content: another fingerprint, another file
    _, cached = cached_hierarchy(edited, folder=tmp_path)
    assert not cached and len(list(tmp_path.glob("*.npz"))) == 2
    path = tmp_path / f"{scene_fingerprint(scene)}.npz"
    path.write_bytes(b"not a zip file")
    _, cached = cached_hierarchy(scene, folder=tmp_path)
    assert not cached
    _, cached = cached_hierarchy(scene, folder=tmp_path)
    assert cached
    # a file under the right name but another key (e.g. another grid ratio) is not used
    tree = build_hierarchy(scene)
    assert save_tree(path, "v0:other", tree)
    assert load_tree(path, tree_key(scene_fingerprint(scene)), scene) is None


def test_the_cache_lives_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert lod_cache_dir() == tmp_path / "splatscope" / "lod"
    scene = random_scene(np.random.default_rng(33), 100, sh_degree=0)
    cached_hierarchy(scene)
    assert len(list((tmp_path / "splatscope" / "lod").glob("*.npz"))) == 1


def test_background_job_reports_progress_and_its_tree(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = random_scene(np.random.default_rng(34), 2000, sh_degree=1)
    stream = io.StringIO()
    job = HierarchyJob(scene, Progress("building", stream=stream).fraction)
    deadline = time.monotonic() + 60
    while not job.done and time.monotonic() < deadline:
        time.sleep(0.01)
    tree = job.result()
    assert job.fraction == 1.0 and not job.cached and job.seconds > 0
    same_tree(tree, build_hierarchy(scene))
    lines = stream.getvalue()
    assert lines.startswith("building ") and lines.endswith("\n") and "100 %" in lines
    assert "\r" not in lines  # not a terminal: whole lines
    stream = io.StringIO()
    second = HierarchyJob(scene, Progress("building", stream=stream).fraction)
    second.result()
    assert second.cached and second.fraction == 1.0
    assert stream.getvalue() == ""  # read from the cache: it does not say "building"
