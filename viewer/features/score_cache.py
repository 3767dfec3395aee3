"""Pruning scores cached on disk, keyed by what they were computed from.

The cache file is `<user cache>/splatscope/scores/<fingerprint>.npz` ($XDG_CACHE_HOME, default
~/.cache), or with `PruneSettings.score_cache == "beside"` `<scene file>.scores.npz` next to the
scene where that folder may be written. Its key holds a hash of the Gaussians' parameters and
the score settings, so a changed scene or other views make it stale: it is then recomputed and
rewritten. Files are replaced atomically (`viewer.atomic_write`), so processes saving one cache
at the same time leave one whole file, never a mix.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from viewer.atomic_write import atomic_output
from viewer.features.pruning import compute_scores
from viewer.input_files import open_input
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import PRUNING_SCORES, PruneSettings

CACHE_VERSION = 1


def scene_fingerprint(scene: GaussianScene) -> str:
    """A hash of every per-Gaussian array (so any edit changes it)."""
    digest = hashlib.sha1()
    for array in (scene.means, scene.scales, scene.rotations, scene.opacities, scene.sh):
        digest.update(np.ascontiguousarray(array).view(np.uint8).data)
    return digest.hexdigest()


def cache_key(fingerprint: str, settings: PruneSettings, near_plane: float) -> str:
    """What a cache entry must match to be used."""
    return (
        f"v{CACHE_VERSION}:{fingerprint}:views={settings.views}:width={settings.view_width}"
        f":near={near_plane!r}"
    )


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/splatscope/scores (default ~/.cache/splatscope/scores)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "splatscope" / "scores"


def writable_dir(folder: Path) -> bool:
    """Whether `folder` may be written, by access rights and by its mode bits.

    Both count: root passes every access check, yet a folder marked read-only should stay
    untouched.
    """
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    return bool(mode & bits) and os.access(folder, os.W_OK)


def cache_paths(scene: GaussianScene, fingerprint: str, where: str = "user") -> list[Path]:
    """Where the cache may be, in order of preference (`where`: "user" or "beside")."""
    paths = []
    source = Path(scene.source)
    beside = where == "beside" and (source.is_file() or source.is_dir())
    if beside and writable_dir(source.parent):
        paths.append(source.with_name(source.name + ".scores.npz"))
    return [*paths, user_cache_dir() / f"{fingerprint}.npz"]


def load_scores(paths: list[Path], key: str) -> dict[str, np.ndarray] | None:
    """The scores of the first readable cache file whose key is `key`, else None."""
    for path in paths:
        try:  # a regular file only (a FIFO there would block), not an input: it is replaced
            with (
                open_input(path, remember=False) as file,
                np.load(file, allow_pickle=False) as data,
            ):
                if str(data["key"]) == key:
                    return {name: data[name] for name in PRUNING_SCORES}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            continue  # missing, special, unreadable or not ours: try the next, else recompute
    return None


def save_scores(paths: list[Path], key: str, scores: dict[str, np.ndarray]) -> Path | None:
    """Write the scores to the first cache path that can be written; returns it (None: none)."""
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays: dict[str, Any] = {"key": np.array(key)}
            arrays.update((name, scores[name]) for name in PRUNING_SCORES)
            with atomic_output(path) as file:
                np.savez(file, **arrays)
            return path
        except OSError:
            continue
    return None


class ScoreCache:
    """The score cache of one scene: `load` and `save` by score settings.

    The scene's hash is taken once, on first use.
    """

    def __init__(self, scene: GaussianScene) -> None:
        self.scene = scene
        self._fingerprint = ""

    def load(self, settings: PruneSettings, near_plane: float) -> dict[str, np.ndarray] | None:
        """Every score from a fresh cache entry, else None."""
        return load_scores(self._paths(settings), self._key(settings, near_plane))

    def save(
        self, settings: PruneSettings, near_plane: float, scores: dict[str, np.ndarray]
    ) -> Path | None:
        """Cache every score of `scores`; returns the file written (None: none could be)."""
        return save_scores(self._paths(settings), self._key(settings, near_plane), scores)

    def _paths(self, settings: PruneSettings) -> list[Path]:
        return cache_paths(self.scene, self._hash(), settings.score_cache)

    def _key(self, settings: PruneSettings, near_plane: float) -> str:
        return cache_key(self._hash(), settings, near_plane)

    def _hash(self) -> str:
        self._fingerprint = self._fingerprint or scene_fingerprint(self.scene)
        return self._fingerprint


def cached_scores(
    renderer: SplatRenderer,
    gpu_scene: GpuScene,
    scene: GaussianScene,
    settings: PruneSettings,
    near_plane: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Every score of `scene` (uploaded as `gpu_scene`), from the cache when fresh.

    Otherwise the scores are computed and cached.
    """
    cache = ScoreCache(scene)
    scores = cache.load(settings, near_plane)
    if scores is None:
        scores = compute_scores(renderer, gpu_scene, scene, settings, near_plane, progress)
        cache.save(settings, near_plane, scores)
    return scores
