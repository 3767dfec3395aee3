"""LOD trees cached on disk, keyed by the scene's content, and built on a worker thread.

The cache file is `<user cache>/splatscope/lod/<fingerprint>.npz` ($XDG_CACHE_HOME, default
~/.cache): the merged nodes and the tree's structure (the leaves are the scene's own Gaussians
and are not stored again). Its key holds a hash of every per-Gaussian array and the grid ratio,
so an edited scene is built again. Files are replaced atomically (`viewer.atomic_write`), so
processes caching one scene at once leave one whole file.
"""

from __future__ import annotations

import os
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from viewer.atomic_write import atomic_output
from viewer.features.lod_hierarchy import GRID_RATIO, LodHierarchy, build_hierarchy
from viewer.features.score_cache import scene_fingerprint
from viewer.input_files import open_input
from viewer.scene import GaussianScene

CACHE_VERSION = 1
_MERGED = ("means", "scales", "rotations", "opacities", "sh")  # stored for nodes N .. M - 1
_STRUCTURE = (
    "parent_from_node", "level", "first_child", "child_count", "child_from_slot",
    "bound_centers", "bound_radii", "cell_sizes",
)  # fmt: skip


def lod_cache_dir() -> Path:
    """$XDG_CACHE_HOME/splatscope/lod (default ~/.cache/splatscope/lod)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "splatscope" / "lod"


def tree_key(fingerprint: str, grid_ratio: float = GRID_RATIO) -> str:
    """What a cache file must match to be used."""
    return f"v{CACHE_VERSION}:{fingerprint}:ratio={grid_ratio!r}"


def save_tree(path: Path, key: str, tree: LodHierarchy) -> bool:
    """Write `tree` to `path` under `key`, atomically; False when it cannot be written."""
    n = tree.leaf_count
    arrays: dict[str, Any] = {"key": np.array(key), "leaf_count": np.array(n)}
    arrays.update((name, getattr(tree, name)[n:]) for name in _MERGED)
    arrays.update((name, getattr(tree, name)) for name in _STRUCTURE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as file:
            np.savez(file, **arrays)
    except OSError:
        return False
    return True


def load_tree(path: Path, key: str, scene: GaussianScene) -> LodHierarchy | None:
    """The tree cached at `path` for `scene` when its key is `key`, else None."""
    try:  # a regular file only (a FIFO there would block), not an input: it is replaced
        with open_input(path, remember=False) as file, np.load(file, allow_pickle=False) as data:
            if str(data["key"]) != key or int(data["leaf_count"]) != scene.count:
                return None
            merged = {name: data[name] for name in _MERGED}
            structure = {name: data[name] for name in _STRUCTURE}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None  # missing, special, unreadable or not ours: build again
    leaves = {name: getattr(scene, name) for name in _MERGED}
    try:
        nodes = {name: np.concatenate([leaves[name], merged[name]]) for name in _MERGED}
    except ValueError:  # shapes of another scene (e.g. another SH degree)
        return None
    if any(len(structure[name]) != len(nodes["means"]) for name in _STRUCTURE[:4]):
        return None
    return LodHierarchy(**nodes, **structure, leaf_count=scene.count, source=scene.source)


def cached_hierarchy(
    scene: GaussianScene,
    progress: Callable[[float], None] | None = None,
    folder: Path | None = None,
) -> tuple[LodHierarchy, bool]:
    """The scene's LOD tree from the cache, or built (and cached).

    Args:
        scene: the scene.
        progress: called with the fraction done (0..1) while building (not for a tree read
            from the cache).
        folder: the cache folder (default `lod_cache_dir()`).

    Returns:
        (the tree, whether it came from the cache).
    """
    fingerprint = scene_fingerprint(scene)
    key = tree_key(fingerprint)
    path = (folder or lod_cache_dir()) / f"{fingerprint}.npz"
    tree = load_tree(path, key, scene)
    if tree is not None:  # nothing built: no progress to report
        return tree, True
    tree = build_hierarchy(scene, progress=progress)
    save_tree(path, key, tree)
    return tree, False


class HierarchyJob:
    """One scene's LOD tree, loaded from the cache or built on a worker thread.

    NumPy releases the GIL in its loops, so a window polling `done` each frame stays responsive.

    Attributes:
        fraction: how far the build is (0..1), for progress bars.
        cached: whether the tree came from the cache (once done).
        seconds: how long loading or building took (once done).
    """

    def __init__(self, scene: GaussianScene, report: Callable[[float], None] | None = None) -> None:
        self.scene = scene
        self.fraction = 0.0
        self.cached = False
        self.seconds = 0.0
        self._report = report
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lod-build")
        self._future: Future[LodHierarchy] = self._pool.submit(self._run)
        self._pool.shutdown(wait=False)

    def _progress(self, fraction: float) -> None:
        with self._lock:
            self.fraction = fraction
        if self._report is not None:
            self._report(fraction)

    def _run(self) -> LodHierarchy:
        start = time.perf_counter()
        tree, self.cached = cached_hierarchy(self.scene, self._progress)
        self.seconds = time.perf_counter() - start
        with self._lock:
            self.fraction = 1.0  # read from the cache: no progress was reported
        return tree

    @property
    def done(self) -> bool:
        """Whether the tree is ready (or the build failed)."""
        return self._future.done()

    def result(self) -> LodHierarchy:
        """The tree (waits for it); raises what the build raised."""
        return self._future.result()
