"""Headless rendering: a scene file and a camera file to a PNG and/or a float32 .npy (EGL)."""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.features.lod_cache import TerminalProgress, cached_hierarchy
from viewer.features.lod_controller import frame_cut
from viewer.features.lod_gpu import attach_hierarchy, node_values
from viewer.features.score_cache import cached_scores
from viewer.render.context import ImageSizeError, create_headless_context
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scalars import heat_values
from viewer.scene import GaussianScene
from viewer.settings import (
    PRUNING_SCORES,
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
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 display-referred RGB.

    With LOD enabled the scene's LOD tree is taken from the cache or built (a progress bar on
    stderr) and its cut drawn; the target_fps cut draws its full quality (the tau cut).

    Raises:
        ImageSizeError: when the camera's image is larger than the GL device can render
            (checked before anything is allocated for it).
    """
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx, raster)
    try:
        renderer.device.check_image_size(camera.width, camera.height)
    except ImageSizeError:
        renderer.release()
        ctx.release()
        raise
    gpu_scene = GpuScene.from_scene(ctx, scene, renderer.device)
    try:
        heat = None
        if settings.mode == "heatmap" and settings.heatmap != "lod_level":
            scores = None
            if settings.heatmap in PRUNING_SCORES:
                near = settings.near_plane
                scores = cached_scores(renderer, gpu_scene, scene, PruneSettings(), near)
            heat = heat_values(scene, settings.heatmap, scores).values
        cut, _ = frame_cut(lod)
        if cut is not None:
            tree, _ = cached_hierarchy(scene, TerminalProgress("building the LOD tree"))
            attach_hierarchy(gpu_scene, tree)
            heat = None if heat is None else node_values(tree, heat)
        if heat is not None:
            gpu_scene.write_heat(heat)
        return renderer.render_image(gpu_scene, FrameInputs(camera, lod=cut), settings)
    finally:
        gpu_scene.release()
        renderer.release()
        ctx.release()
