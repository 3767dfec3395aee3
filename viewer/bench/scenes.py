"""The GPU scene each bench configuration draws, prepared by viewer sessions before any timing.

A configuration's scene is the GPU scene of a `ViewerSession` settled with its settings: the
pruning flags, the LOD tree and foveation's nested subsets are made by the same code that
prepares the window's scene (`ViewerSession.settle`), the scores and the tree from their disk
caches. Configurations share a session unless they need other data on the GPU: those that prune
alike share one; levels are read only by frames drawn with subsets, so the first configuration
foveating with subsets puts its levels into the session it would share anyway, and only a second,
different set on the same session takes a session of its own. The first session, unpruned, also
serves the quality reference (`full`).
"""

from __future__ import annotations

from typing import Any

from viewer.bench.configs import BenchConfig
from viewer.camera import Camera
from viewer.core.session import ViewerSession
from viewer.progress import Progress
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import StreamSettings


def subsets_of(config: BenchConfig) -> bool:
    """Whether `config` foveates with nested subsets (its scene must hold levels)."""
    return config.fov.enabled and config.fov.source == "subsets"


class ConfigScenes:
    """Makes (once each) and settles the sessions of the configurations; `release` frees them.

    Args:
        renderer: the sessions' renderer: it measures the scores that are not cached.
        scene: the scene on the CPU.
        camera: a view of the bench (the sessions are settled with it).
    """

    def __init__(self, renderer: SplatRenderer, scene: GaussianScene, camera: Camera) -> None:
        self.renderer, self.scene, self.camera = renderer, scene, camera
        # (pruning key, levels key or None, session); the pruning key is None without pruning
        self._made: list[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None, ViewerSession]] = []
        if scene.streamed is None:
            self._reference = self._session(None)
        else:  # settled frame by frame while the configurations stream: a session of its own
            self._reference = ViewerSession(renderer, scene)
        self.full = self._reference.gpu_scene

    def settle_reference(self, camera: Camera, stream: StreamSettings) -> None:
        """Make a streamed scene's reference hold what `camera` needs (under `stream`)."""
        if self._reference.stream is not None:
            self._reference.settle(SettingsSet().replaced(stream), camera)

    def of(self, config: BenchConfig) -> GpuScene:
        """The scene `config` draws (its session made on first need, settled with `config`)."""
        return self.session_of(config).gpu_scene

    def session_of(self, config: BenchConfig) -> ViewerSession:
        """The session of `config` (made on first need, settled with `config`).

        A streamed scene's is not settled: it streams as it draws, from its first frame.
        """
        prune = self._prune_key(config)
        levels = self._levels_key(config) if subsets_of(config) else None
        for i, (made_prune, made_levels, session) in enumerate(self._made):
            if made_prune != prune:
                continue
            if levels is None or made_levels in (None, levels):  # none yet: it takes these
                self._made[i] = (prune, made_levels if levels is None else levels, session)
                return self._settled(session, config)
        return self._settled(self._session(prune, levels), config)

    def _session(
        self, prune: tuple[Any, ...] | None, levels: tuple[Any, ...] | None = None
    ) -> ViewerSession:
        session = ViewerSession(self.renderer, self.scene)
        self._made.append((prune, levels, session))
        return session

    def _settled(self, session: ViewerSession, config: BenchConfig) -> ViewerSession:
        if session.stream is not None:
            return session  # it streams from its first frame on (bench.runner.Target)
        scoring = Progress("scoring views", unit="views")
        session.settle(config.settings, self.camera, scoring)
        return session

    def release(self) -> None:
        """Free every session made here, `full` too."""
        for _, _, session in self._made:
            session.release()
        if self.scene.streamed is not None:
            self._reference.release()
        self._made = []

    def _prune_key(self, config: BenchConfig) -> tuple[Any, ...] | None:
        """What sessions shared by configurations must agree on (None: nothing)."""
        if self.scene.streamed is not None:  # each configuration streams on its own
            return (id(config),)
        return (config.prune, config.render.near_plane) if config.prune.active else None

    @staticmethod
    def _levels_key(config: BenchConfig) -> tuple[Any, ...]:
        fov, prune = config.fov, config.prune
        return (fov.subset_score, fov.shares, prune.views, prune.view_width,
                config.render.near_plane)  # fmt: skip
