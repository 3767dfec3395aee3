"""The GPU scene each bench configuration draws, prepared before anything is timed.

Configurations share the scene uploaded whole (`full`) unless they need data of their own on the
GPU: a pruning configuration draws a copy whose flags hide the pruned Gaussians; a configuration
foveating with nested subsets draws a scene holding its levels (`GpuScene.write_levels`). Levels
are read only by frames drawn with subsets, so configurations that do not foveate (and the
quality reference, drawn without a fovea) may draw a scene that holds levels: the first set of
levels goes into the scene the configuration would draw anyway, and only a second, different
set on the same scene takes a copy. The scores behind both are cached on disk.
"""

from __future__ import annotations

from collections.abc import Sequence

import moderngl
import numpy as np

from viewer.bench.configs import BenchConfig
from viewer.features.foveation import scene_levels
from viewer.features.lod_cache import cached_hierarchy
from viewer.features.lod_gpu import attach_hierarchy, node_flags
from viewer.features.lod_hierarchy import LodHierarchy
from viewer.features.pruning import keep_mask, prune_flags
from viewer.features.score_cache import cached_scores
from viewer.progress import Progress
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene


def lod_tree(scene: GaussianScene, configs: Sequence[BenchConfig]) -> LodHierarchy | None:
    """The scene's LOD tree when a configuration draws LOD (cached; a progress bar on stderr)."""
    if not any(config.lod.enabled for config in configs):
        return None
    tree, _ = cached_hierarchy(scene, Progress("building the LOD tree").fraction)
    return tree


def subsets_of(config: BenchConfig) -> bool:
    """Whether `config` foveates with nested subsets (its scene must hold levels)."""
    return config.fov.enabled and config.fov.source == "subsets"


class ConfigScenes:
    """Makes (once each) and holds the GPU scenes of the configurations; `release` frees them.

    Args:
        ctx: the GL context.
        scene: the scene on the CPU.
        full: `scene` uploaded whole (the tree attached when there is one); not freed here.
        renderer: measures the scores when they are not cached.
        tree: the scene's LOD tree, when a configuration draws LOD.
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        scene: GaussianScene,
        full: GpuScene,
        renderer: SplatRenderer,
        tree: LodHierarchy | None = None,
    ) -> None:
        self.ctx, self.scene, self.full, self.renderer, self.tree = ctx, scene, full, renderer, tree
        # (pruning key, levels key or None, scene); the pruning key is None without pruning
        self._made: list[tuple[tuple | None, tuple | None, GpuScene]] = [(None, None, full)]
        self._measured: dict[tuple, dict[str, np.ndarray]] = {}

    def of(self, config: BenchConfig) -> GpuScene:
        """The scene `config` draws (made on first need)."""
        prune = self._prune_key(config)
        levels = self._levels_key(config) if subsets_of(config) else None
        for made_prune, made_levels, gpu in self._made:
            if made_prune == prune and levels in (None, made_levels):
                return gpu
        for i, (made_prune, made_levels, gpu) in enumerate(self._made):
            if made_prune == prune and made_levels is None:  # holds no levels yet: takes these
                self._write_levels(gpu, config)
                self._made[i] = (prune, levels, gpu)
                return gpu
        gpu = self._copy(config)
        if levels is not None:
            self._write_levels(gpu, config)
        self._made.append((prune, levels, gpu))
        return gpu

    def release(self) -> None:
        """Free every scene made here (not `full`)."""
        for _, _, gpu in self._made[1:]:
            if gpu is not self.full:
                gpu.release()
        self._made = self._made[:1]

    def _prune_key(self, config: BenchConfig) -> tuple | None:
        return (config.prune, config.render.near_plane) if config.prune.active else None

    def _levels_key(self, config: BenchConfig) -> tuple:
        fov = config.fov
        return (fov.subset_score, fov.shares, *_scores_key(config))

    def scores(self, config: BenchConfig) -> dict[str, np.ndarray]:
        """Every pruning score of the scene over `config`'s views (cached; measured once)."""
        key = _scores_key(config)
        if key not in self._measured:
            near = config.render.near_plane
            self._measured[key] = cached_scores(
                self.renderer, self.full, self.scene, config.prune, near
            )
        return self._measured[key]

    def _copy(self, config: BenchConfig) -> GpuScene:
        """A new upload of the scene, pruned as `config` prunes (with the tree, if any)."""
        flags = None
        if config.prune.active:
            flags = prune_flags(keep_mask(self.scores(config)[config.prune.score], config.prune))
        copy = GpuScene.from_scene(self.ctx, self.scene, self.renderer.device)
        if self.tree is not None:
            attach_hierarchy(copy, self.tree)
            flags = None if flags is None else node_flags(self.tree, flags)
        if flags is not None:
            copy.write_flags(flags)
        return copy

    def _write_levels(self, gpu: GpuScene, config: BenchConfig) -> None:
        fov = config.fov
        gpu.write_levels(scene_levels(self.scores(config)[fov.subset_score], fov, self.tree))


def _scores_key(config: BenchConfig) -> tuple:
    """What a configuration's scores depend on (the views they are measured over)."""
    return config.prune.views, config.prune.view_width, config.render.near_plane
