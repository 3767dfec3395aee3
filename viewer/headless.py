"""Headless rendering (EGL): one scene uploaded once, rendered for one camera or many."""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.features.foveation import frame_fovea, frame_gaze, scene_levels
from viewer.features.lod_cache import cached_hierarchy
from viewer.features.lod_controller import frame_cut
from viewer.features.lod_gpu import attach_hierarchy, node_values
from viewer.features.score_cache import cached_scores
from viewer.progress import Progress
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


class HeadlessRenderer:
    """One GL context with `scene` uploaded and set up once: renders any number of cameras.

    The setup is what a frame needs besides its camera: with LOD enabled the scene's LOD tree is
    taken from the cache or built (a progress bar on stderr) and its cut drawn (the target_fps
    cut draws its full quality, the tau cut); with foveation enabled each image is foveated
    around the fixed gaze, or the centre (the `mouse` source has no pointer here), the subsets'
    scores coming from the cache or measured; a heat map's values are written once.

    Usage::

        with HeadlessRenderer(scene, (width, height), settings) as renderer:
            images = [renderer.render(camera) for camera in cameras]
    """

    def __init__(
        self,
        scene: GaussianScene,
        size: tuple[int, int],
        settings: RenderSettings = RenderSettings(),
        raster: RasterSettings = RasterSettings(),
        lod: LodSettings = LodSettings(),
        fov: FoveationSettings = FoveationSettings(),
    ) -> None:
        """Make the context, check the image size, upload `scene` and set it up.

        Args:
            scene: the Gaussians.
            size: (width, height) of the images to render, checked against the GL device.
            settings: the render settings of every image.
            raster: the raster settings (backend, sort).
            lod: the level of detail settings.
            fov: the foveation settings.

        Raises:
            ImageSizeError: when the GL device cannot render `size` images (checked before the
                scene is uploaded).
        """
        self.settings = settings
        self.fov = fov
        self.ctx = create_headless_context()
        self.renderer = SplatRenderer(self.ctx, raster)
        try:
            self.renderer.device.check_image_size(*size)
        except ImageSizeError:
            self.renderer.release()
            self.ctx.release()
            raise
        self.gpu_scene = GpuScene.from_scene(self.ctx, scene, self.renderer.device)
        try:
            self._set_up(scene, lod)
        except BaseException:
            self.release()
            raise

    def _set_up(self, scene: GaussianScene, lod: LodSettings) -> None:
        """The LOD tree, the scores, heat values and foveation levels every frame uses."""
        settings, fov = self.settings, self.fov
        self.cut, _ = frame_cut(lod)
        self.fovea = frame_fovea(fov, lod=self.cut is not None)
        heat = None
        scores = None
        heatmap_score = settings.mode == "heatmap" and settings.heatmap in PRUNING_SCORES
        if heatmap_score or (self.fovea is not None and self.fovea.subsets):
            near = settings.near_plane
            scoring = Progress("scoring views", unit="views")  # the foveation subsets' ranks
            scores = cached_scores(
                self.renderer, self.gpu_scene, scene, PruneSettings(), near, scoring
            )
        if settings.mode == "heatmap" and settings.heatmap != "lod_level":
            heat = heat_values(scene, settings.heatmap, scores).values
        tree = None
        if self.cut is not None:
            tree, _ = cached_hierarchy(scene, Progress("building the LOD tree").fraction)
            attach_hierarchy(self.gpu_scene, tree)
            heat = None if heat is None else node_values(tree, heat)
        if heat is not None:
            self.gpu_scene.write_heat(heat)
        if self.fovea is not None and self.fovea.subsets and scores is not None:
            self.gpu_scene.write_levels(scene_levels(scores[fov.subset_score], fov, tree))

    def render(self, camera: Camera) -> np.ndarray:
        """One frame: [H, W, 3] float32 display-referred RGB.

        Raises:
            ImageSizeError: when this camera's image is larger than the GL device can render.
        """
        self.renderer.device.check_image_size(camera.width, camera.height)
        gaze = frame_gaze(self.fov, camera)
        inputs = FrameInputs(camera, gaze=gaze, fovea=self.fovea, lod=self.cut)
        return self.renderer.render_image(self.gpu_scene, inputs, self.settings)

    def release(self) -> None:
        """Free the scene, the renderer and the context."""
        self.gpu_scene.release()
        self.renderer.release()
        self.ctx.release()

    def __enter__(self) -> HeadlessRenderer:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def render_scene(
    scene: GaussianScene,
    camera: Camera,
    settings: RenderSettings = RenderSettings(),
    raster: RasterSettings = RasterSettings(),
    lod: LodSettings = LodSettings(),
    fov: FoveationSettings = FoveationSettings(),
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 display-referred RGB.

    A context of its own (HeadlessRenderer); render many cameras through one HeadlessRenderer.

    Raises:
        ImageSizeError: when the camera's image is larger than the GL device can render
            (checked before anything is allocated for it).
    """
    size = (camera.width, camera.height)
    with HeadlessRenderer(scene, size, settings, raster, lod, fov) as renderer:
        return renderer.render(camera)
