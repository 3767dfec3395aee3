"""Headless rendering: a scene file and a camera file to a PNG and/or a float32 .npy (EGL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.camera import Camera
from viewer.features.pruning import SCORES, PruneSettings
from viewer.features.score_cache import cached_scores
from viewer.render.context import create_headless_context
from viewer.render.renderer import SplatRenderer
from viewer.scalars import heat_values
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings


def render_scene(
    scene: GaussianScene,
    camera: Camera,
    settings: RenderSettings = RenderSettings(),
    raster: RasterSettings = RasterSettings(),
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 linear RGB."""
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx, raster)
    try:
        renderer.set_scene(scene)
        if settings.mode == "heatmap":
            scores = None
            if settings.heatmap in SCORES:
                scores = cached_scores(renderer, scene, PruneSettings(), settings.near_plane)
            renderer.scene.write_heat(heat_values(scene, settings.heatmap, scores).values)
        return renderer.render_image(camera, settings)
    finally:
        renderer.release()
        ctx.release()


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8, rounded."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write a float [H, W, 3] image as an 8-bit PNG."""
    from PIL import Image

    Image.fromarray(to_rgb8(image)).save(path)
