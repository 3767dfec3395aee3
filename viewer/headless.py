"""Headless rendering: a scene file and a camera file to a PNG and/or a float32 .npy (EGL)."""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.features.foveation import frame_fovea, frame_gaze, scene_levels
from viewer.features.lod_cache import cached_hierarchy
from viewer.features.lod_controller import frame_cut
from viewer.features.lod_gpu import attach_hierarchy, node_values
from viewer.features.score_cache import cached_scores
from viewer.progress import Progress
from viewer.render.budget import check_image
from viewer.render.context import ImageSizeError, create_headless_context
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scalars import heat_values
from viewer.scene import GaussianScene
from viewer.settings import (
    PRUNING_SCORES,
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)


def render_scene(
    scene: GaussianScene,
    camera: Camera,
    settings: RenderSettings = RenderSettings(),
    raster: RasterSettings = RasterSettings(),
    lod: LodSettings = LodSettings(),
    fov: FoveationSettings = FoveationSettings(),
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 display-referred RGB.

    With LOD enabled the scene's LOD tree is taken from the cache or built (a progress bar on
    stderr) and its cut drawn; the target_fps cut draws its full quality (the tau cut). With
    foveation enabled the image is foveated around the fixed gaze, or the centre (the `mouse`
    source has no pointer here); the subsets' scores come from the cache or are measured.

    Raises:
        ImageSizeError: when the camera's image is larger than the GL device can render
            (viewer.render.budget.check_image, before the scene is uploaded).
    """
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx, raster)
    try:
        check_image(ctx, renderer.device, camera.width, camera.height)
    except ImageSizeError:
        renderer.release()
        ctx.release()
        raise
    gpu_scene = GpuScene.from_scene(ctx, scene, renderer.device)
    try:
        cut, _ = frame_cut(lod)
        fovea = frame_fovea(fov, lod=cut is not None)
        heat = None
        scores = None
        heatmap_score = settings.mode == "heatmap" and settings.heatmap in PRUNING_SCORES
        if heatmap_score or (fovea is not None and fovea.subsets):
            near = settings.near_plane
            scoring = Progress("scoring views", unit="views")  # the foveation subsets' ranks
            scores = cached_scores(renderer, gpu_scene, scene, PruneSettings(), near, scoring)
        if settings.mode == "heatmap" and settings.heatmap != "lod_level":
            heat = heat_values(scene, settings.heatmap, scores).values
        tree = None
        if cut is not None:
            tree, _ = cached_hierarchy(scene, Progress("building the LOD tree").fraction)
            attach_hierarchy(gpu_scene, tree)
            heat = None if heat is None else node_values(tree, heat)
        if heat is not None:
            gpu_scene.write_heat(heat)
        if fovea is not None and fovea.subsets and scores is not None:
            gpu_scene.write_levels(scene_levels(scores[fov.subset_score], fov, tree))
        inputs = FrameInputs(camera, gaze=frame_gaze(fov, camera), fovea=fovea, lod=cut)
        return renderer.render_image(gpu_scene, inputs, settings)
    finally:
        gpu_scene.release()
        renderer.release()
        ctx.release()
