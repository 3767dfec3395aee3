"""Pruning: per-Gaussian importance scores, and the FLAG_PRUNED bits that hide the least important.

Scores (docs/design_log.md, "Pruning, LOD and foveation: what the field does"):
    opacity        the activated opacity;
    volume         opacity * (V / V90)^0.1, V the product of the scales, V90 its 90th percentile
                   (LightGaussian's view-free volume factor);
    significance   the sum over the pixels of a set of views of the Gaussian's alpha * T
                   (LightGaussian's global significance), from the GPU contributions pass;
    efficiency     its alpha * T summed over one view divided by the 16x16 tiles it touches
                   there, the maximum over the views (RTGS).
The views are the scene's training cameras (cameras.json), else views on rings around its bounds
(see `score_views`), all `PruneSettings.view_width` pixels wide. The view scores are computed at
the default render settings (but the near plane), with every flag ignored, so they describe the
whole scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from viewer.camera import Camera
from viewer.framing import Ring
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import PRUNING_SCORES, PruneSettings, RenderSettings

VOLUME_POWER = 0.1
VOLUME_QUANTILE = 0.9
RING_ELEVATIONS_DEGREES = (0.0, 25.0, -15.0)  # added to the framing elevation, in turn
GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
MIN_CAMERA_VIEWS = 8  # fewer training cameras than this (and than the views asked): rings


def parse_shorthand(text: str) -> dict[str, str]:
    """The settings keys of a bench shorthand `SCORE:KEEP` ("significance:0.3").

    Raises:
        ValueError: when the text is not a score and a number.
    """
    score, sep, keep = text.partition(":")
    if not sep or score not in PRUNING_SCORES:
        raise ValueError(
            f"prune: {text!r} is not SCORE:KEEP with SCORE one of {', '.join(PRUNING_SCORES)}"
        )
    return {"prune.score": score, "prune.keep": keep}


# -- scores -----------------------------------------------------------------------------------


def volume_scores(scene: GaussianScene) -> np.ndarray:
    """[N] float64 opacity * (V / V90)^0.1 with V the product of the three scales."""
    volume = np.prod(scene.scales.astype(np.float64), axis=1)
    v90 = max(float(np.quantile(volume, VOLUME_QUANTILE)), 1e-300)
    return scene.opacities.astype(np.float64) * (volume / v90) ** VOLUME_POWER


def score_views(scene: GaussianScene, settings: PruneSettings) -> list[Camera]:
    """The views the view scores are measured over.

    Up to `settings.views` of the scene's cameras (evenly spread) when it has at least
    min(views, MIN_CAMERA_VIEWS) of them, else `views` views on rings around its bounds,
    golden-angle spaced (a preset view or two, as the built-in scene has, would see too little).
    """
    width = settings.view_width
    if scene.cameras and len(scene.cameras) >= min(settings.views, MIN_CAMERA_VIEWS):
        cameras = scene.cameras
        count = min(settings.views, len(cameras))
        picks = [cameras[i * len(cameras) // count] for i in range(count)]
        return [c.resized(width, max(1, round(width * c.height / c.width))) for c in picks]
    height = max(1, round(width * 9 / 16))
    ring = Ring.framing(scene, width, height)
    views = []
    for i in range(settings.views):
        lift = math.radians(RING_ELEVATIONS_DEGREES[i % len(RING_ELEVATIONS_DEGREES)])
        elevation = float(np.clip(ring.elevation + lift, -1.4, 1.4))
        views.append(ring.camera(i * GOLDEN_ANGLE, elevation, 1.0, width, height, f"view {i}"))
    return views


class ViewScoreJob:
    """Significance and efficiency, one view per `step` (so a window can show progress).

    Attributes:
        views: the cameras measured. done: how many have been.
        significance: [N] float64 running sum. efficiency: [N] float64 running maximum.
    """

    def __init__(
        self,
        renderer: SplatRenderer,
        gpu_scene: GpuScene,
        scene: GaussianScene,
        settings: PruneSettings,
        near_plane: float = RenderSettings().near_plane,
    ) -> None:
        self.renderer = renderer
        self.gpu_scene = gpu_scene
        self.views = score_views(scene, settings)
        self.render = RenderSettings(near_plane=near_plane)
        self.done = 0
        self.significance = np.zeros(scene.count)
        self.efficiency = np.zeros(scene.count)

    @property
    def finished(self) -> bool:
        """Whether every view has been measured."""
        return self.done >= len(self.views)

    def step(self) -> bool:
        """Measure the next view (flags ignored); returns `finished`."""
        if self.finished:
            return True
        inputs = FrameInputs(self.views[self.done], flag_mask=0)
        measured = self.renderer.measure(self.gpu_scene, inputs, self.render, weights=True)
        assert measured.weights is not None and measured.tiles is not None
        self.significance += measured.weights
        per_tile = measured.weights / np.maximum(measured.tiles, 1)
        np.maximum(self.efficiency, per_tile, out=self.efficiency)
        self.done += 1
        return self.finished

    def scores(self) -> dict[str, np.ndarray]:
        """{"significance", "efficiency"} as measured so far, [N] float32 each."""
        return {
            "significance": self.significance.astype(np.float32),
            "efficiency": self.efficiency.astype(np.float32),
        }


def view_free_scores(scene: GaussianScene) -> dict[str, np.ndarray]:
    """{"opacity", "volume"}: the scores that need no render, [N] float32 each."""
    return {"opacity": scene.opacities.copy(), "volume": volume_scores(scene).astype(np.float32)}


def compute_scores(
    renderer: SplatRenderer,
    gpu_scene: GpuScene,
    scene: GaussianScene,
    settings: PruneSettings,
    near_plane: float = RenderSettings().near_plane,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Every pruning score of `scene` (uploaded as `gpu_scene`), [N] float32 each (as cached).

    Args:
        renderer: the renderer that measures the views.
        gpu_scene: `scene` on the GPU, in `renderer`'s context.
        scene: the scene scored; its cameras or bounds give the views (`score_views`).
        settings: the pruning settings (number and width of the views).
        near_plane: near plane of the views in world units (0: fitted to the scene).
        progress: called with (views done, views in all) after each view.
    """
    job = ViewScoreJob(renderer, gpu_scene, scene, settings, near_plane)
    while not job.step():
        if progress is not None:
            progress(job.done, len(job.views))
    if progress is not None:
        progress(job.done, len(job.views))
    return {**view_free_scores(scene), **job.scores()}


# -- pruning ----------------------------------------------------------------------------------


def ranking(scores: np.ndarray) -> np.ndarray:
    """[N] int64 indices from the best score to the worst, ties in index order (stable)."""
    return np.argsort(-scores, kind="stable")


def keep_mask(
    scores: np.ndarray, settings: PruneSettings, order: np.ndarray | None = None
) -> np.ndarray:
    """[N] bool: the Gaussians pruning keeps.

    With a threshold, those scoring at least it; else the round(keep * N) best of the stable
    `ranking` (so the same scores always keep the same Gaussians).

    Args:
        scores: [N] scores of one kind, higher is better.
        settings: the pruning settings (`keep` fraction, or `threshold` when above 0).
        order: `ranking(scores)`, when already known (moving a keep slider needs no new sort).
    """
    if settings.threshold > 0.0:
        return scores >= settings.threshold
    count = round(settings.keep * scores.shape[0])
    order = ranking(scores) if order is None else order
    mask = np.zeros(scores.shape[0], dtype=bool)
    mask[order[:count]] = True
    return mask


def prune_flags(keep: np.ndarray) -> np.ndarray:
    """[N] uint32 with FLAG_PRUNED where `keep` is False."""
    return np.where(keep, 0, FLAG_PRUNED).astype(np.uint32)
