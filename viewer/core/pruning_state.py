"""The viewer's pruning: the scene's scores and the Gaussians the pruning settings keep.

The scores come from the cache, or are measured one view per frame so the window stays
responsive.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.errors import SceneError
from viewer.features.pruning import (
    PruneSettings,
    ViewScoreJob,
    keep_mask,
    ranking,
    view_free_scores,
)
from viewer.features.score_cache import ScoreCache
from viewer.formats import save_scene
from viewer.image_metrics import compare
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import VIEW_SCORES, RenderSettings


@dataclass(frozen=True)
class PruneFacts:
    """What the pruning section shows.

    Attributes:
        scoring: (views done, views in all) while the view scores are being measured, else None.
        kept: Gaussians pruning keeps (None while the score is not known yet).
        score_range: (lowest, highest) value of the chosen score, or None.
        quality: (PSNR dB, SSIM) of the pruned frame against the unpruned one, once compared.
    """

    scoring: tuple[int, int] | None = None
    kept: int | None = None
    score_range: tuple[float, float] | None = None
    quality: tuple[float, float] | None = None


class PruningState:
    """Scores of one scene on one renderer; `update` once per frame.

    The view scores are read from the cache, or measured a view per frame, once something needs
    them.

    Attributes:
        scores: [N] float32 per score name known so far (the view-free ones from the start).
        job: the view scores being measured, or None.
        quality: (PSNR, SSIM) of the last comparison, or None.
        version: increases whenever scores become known or are dropped.
    """

    def __init__(self, renderer: SplatRenderer, gpu_scene: GpuScene, scene: GaussianScene) -> None:
        self.renderer = renderer
        self.gpu_scene = gpu_scene
        self.scene = scene
        self.scores: dict[str, np.ndarray] = view_free_scores(scene)
        self.job: ViewScoreJob | None = None
        self.quality: tuple[float, float] | None = None
        self.version = 0
        self._orders: dict[str, np.ndarray] = {}  # ranking of each score, made on first use
        self._counts: tuple[tuple[Any, ...], int | None, tuple[float, float] | None] | None = None
        self.cache = ScoreCache(scene)
        self._views: tuple[int, int, float] | None = None  # what the view scores were made of

    def update(self, settings: PruneSettings, near_plane: float, wanted: bool = True) -> bool:
        """Load the view scores from the cache, or measure one more view of them.

        Args:
            settings: the pruning settings (their views and view width select the view scores).
            near_plane: near plane of the views in world units (0: fitted to the scene).
            wanted: whether anything needs the view scores now (else nothing is read or measured;
                a measurement under way goes on).

        Returns:
            True when new scores became known.
        """
        views = (settings.views, settings.view_width, near_plane)
        if views != self._views:  # other views: the view scores measured so far are stale
            self._views, self.job = views, None
            for name in VIEW_SCORES:
                self.scores.pop(name, None)
                self._orders.pop(name, None)
            self.version += 1
        if VIEW_SCORES[0] in self.scores or (self.job is None and not wanted):
            return False
        if self.job is None:
            cached = self.cache.load(settings, near_plane)
            if cached is not None:
                self.scores.update({name: cached[name] for name in VIEW_SCORES})
                self.version += 1
                return True
            self.job = ViewScoreJob(self.renderer, self.gpu_scene, self.scene, settings, near_plane)
        if not self.job.step():
            return False
        self.scores.update(self.job.scores())
        self.cache.save(settings, near_plane, self.scores)
        self.job = None
        self.version += 1
        return True

    def keep(self, settings: PruneSettings) -> np.ndarray | None:
        """[N] bool of the Gaussians kept; None when nothing is pruned or the score is unknown."""
        name = settings.score
        if not settings.active or name not in self.scores:
            return None
        if name not in self._orders:
            self._orders[name] = ranking(self.scores[name])
        return keep_mask(self.scores[name], settings, self._orders[name])

    def compare(self, inputs: FrameInputs, render: RenderSettings) -> tuple[float, float]:
        """(PSNR, SSIM) of the view pruned against unpruned (two renders); kept in `quality`."""
        pruned = self.renderer.render_image(self.gpu_scene, inputs, render)
        unpruned = dataclasses.replace(inputs, flag_mask=inputs.flag_mask & ~FLAG_PRUNED)
        full = self.renderer.render_image(self.gpu_scene, unpruned, render)
        self.quality = compare(pruned, full)
        return self.quality

    def save(self, settings: PruneSettings, path: str) -> int:
        """Write the kept Gaussians to `path` (format by its suffix); returns how many.

        Raises:
            SceneError: when nothing is pruned yet or the file cannot be written.
        """
        keep = self.keep(settings)
        if keep is None:
            raise SceneError(path, "nothing is pruned: lower 'keep' (and wait for the scores)")
        save_scene(self.scene.subset(keep), path)
        return int(keep.sum())

    def facts(self, settings: PruneSettings) -> PruneFacts:
        """What the panel shows of it (the O(N) counts only when settings or scores changed)."""
        made_of = (settings, self.version)
        if self._counts is None or self._counts[0] != made_of:
            score = self.scores.get(settings.score)
            keep = self.keep(settings)
            self._counts = (
                made_of,
                None if keep is None else int(keep.sum()),
                None if score is None else (float(score.min()), float(score.max())),
            )
        job = self.job
        return PruneFacts(
            scoring=None if job is None else (job.done, len(job.views)),
            kept=self._counts[1],
            score_range=self._counts[2],
            quality=self.quality,
        )
