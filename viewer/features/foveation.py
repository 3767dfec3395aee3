"""Foveation: the nested subsets of the Gaussians, the settings as one frame's `Fovea`, the gaze.

Nested subsets (RTGS): the Gaussians ranked by a pruning score (best first, ties in index
order); level k keeps the round(share_k x N) best, each level a subset of the one before (a
share above the previous level's counts as that one). A Gaussian's stored value b is the number
of levels that keep it: 0 (not even the fovea's), up to the number of levels. It is static per
scene, score and shares, and uploaded once (`GpuScene.write_levels`); the GPU decides per frame
where each level applies (viewer/render/fovea.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from viewer.camera import Camera
from viewer.features.lod_gpu import node_levels
from viewer.features.lod_hierarchy import LodHierarchy
from viewer.features.pruning import ranking
from viewer.render.fovea import Fovea
from viewer.settings import FoveationSettings, LodSettings


def subset_counts(shares: tuple[float, ...], count: int) -> np.ndarray:
    """[levels] Gaussians each level keeps: round(share x count), never more than the last."""
    wanted = np.array([round(share * count) for share in shares], np.int64)
    return np.minimum.accumulate(np.clip(wanted, 0, count))


def subset_levels(
    scores: np.ndarray, shares: tuple[float, ...], order: np.ndarray | None = None
) -> np.ndarray:
    """[N] uint8: how many of the nested levels keep each Gaussian.

    Args:
        scores: [N] one score per Gaussian, higher is better.
        shares: fraction of the Gaussians each level keeps (level 0 first).
        order: `ranking(scores)`, when already known.
    """
    count = scores.shape[0]
    order = ranking(scores) if order is None else order
    rank = np.empty(count, np.int64)
    rank[order] = np.arange(count)
    kept = subset_counts(shares, count)
    return (rank[:, None] < kept[None, :]).sum(axis=1).astype(np.uint8)


def scene_levels(
    scores: np.ndarray,
    settings: FoveationSettings,
    tree: LodHierarchy | None = None,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """The stored levels of every row of a GPU scene (`GpuScene.write_levels`).

    Args:
        scores: [N] the subset score of each of the scene's Gaussians, higher is better.
        settings: the shares of the levels.
        tree: the LOD tree attached to the GPU scene, if any (its merged nodes keep the levels
            any child keeps).
        order: `ranking(scores)`, when already known.
    """
    levels = subset_levels(scores, settings.shares, order)
    return levels if tree is None else node_levels(tree, levels)


def check_source(settings: FoveationSettings, lod: LodSettings) -> None:
    """Refuse the `lod` source without LOD: it coarsens the LOD cut, and there is none.

    Raises:
        ValueError: saying what to enable.
    """
    if settings.enabled and settings.source == "lod" and not lod.enabled:
        raise ValueError("fov.source lod coarsens the LOD cut: enable LOD too (e.g. lod.tau=1)")


def frame_fovea(settings: FoveationSettings, lod: bool = False) -> Fovea | None:
    """The `Fovea` of frames drawn with `settings`; None when foveation is off.

    Args:
        settings: the foveation settings.
        lod: whether the frame has an LOD cut (the `lod` source foveates that cut; without one
            it has nothing to coarsen and the frame is drawn in full).
    """
    if not settings.enabled:
        return None
    subsets = settings.source == "subsets"
    if not subsets and not lod:
        return None
    first = settings.fovea
    borders = (first, first + settings.bands[0], first + settings.bands[0] + settings.bands[1])
    return Fovea(
        levels=len(settings.shares),
        mapping=settings.mapping,
        borders=borders,
        blend=settings.band_blend,
        alpha=settings.alpha,
        display_fov=settings.display_fov,
        subsets=subsets,
        lod_tau_scale=settings.lod_tau_scale if not subsets else 1.0,
        periphery_scale=settings.periphery_scale,
    )


def region_fovea(settings: FoveationSettings) -> Fovea:
    """The `Fovea` whose level-0 pixels are the fovea region of `settings` (used or not).

    Quality by region (the bench, the panel's readout) needs the fovea of a configuration that
    does not foveate too.
    """
    fovea = frame_fovea(dataclasses.replace(settings, enabled=True, source="subsets"))
    assert fovea is not None
    return fovea


def frame_gaze(
    settings: FoveationSettings, camera: Camera, pointer: tuple[float, float] | None = None
) -> tuple[float, float] | None:
    """The gaze in `camera`'s pixels (None: the image centre).

    Args:
        settings: the gaze source and the fixed point.
        camera: the image the gaze falls on.
        pointer: the mouse pointer over the view in the image's pixels, if known (the `mouse`
            source; without it, the centre).
    """
    if settings.gaze == "fixed":
        return settings.gaze_x * camera.width, settings.gaze_y * camera.height
    if settings.gaze == "mouse" and pointer is not None:
        return pointer
    return None
