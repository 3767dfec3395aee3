"""Headless rendering (EGL): one scene uploaded once, rendered for one camera or many.

`HeadlessRenderer` makes a `ViewerSession` (the same viewer core as the window) and settles it
before the first frame: every score and LOD tree the settings need is loaded from the cache or
made (progress on stderr), so `splatscope render` draws what the window shows at rest.
"""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.core.session import ViewerSession
from viewer.progress import Progress
from viewer.render.budget import check_image
from viewer.render.context import ImageSizeError, create_headless_context
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import (
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)


class HeadlessRenderer:
    """One GL context with `scene` uploaded and set up once: renders any number of cameras.

    With LOD enabled the cut is drawn at full quality (the target_fps cut at rest is the tau
    cut); with foveation enabled each image is foveated around the fixed gaze, or the centre
    (the `mouse` gaze has no pointer here); a heat map's values are written once.

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
        prune: PruneSettings = PruneSettings(),
    ) -> None:
        """Make the context, check the image size, upload `scene` (set up on the first frame).

        Args:
            scene: the Gaussians.
            size: (width, height) of the images to render, checked against the GL device.
            settings: the render settings of every image.
            raster: the raster settings (backend, sort).
            lod: the level of detail settings.
            fov: the foveation settings.
            prune: the pruning settings (scores from the cache, or measured before the first
                frame).

        Raises:
            ImageSizeError: when the GL device cannot render `size` images (checked before the
                scene is uploaded).
        """
        self.settings = settings
        self.everything = SettingsSet().replaced(settings).replaced(raster)
        self.everything = self.everything.replaced(lod).replaced(fov).replaced(prune)
        self.ctx = create_headless_context()
        self.renderer = SplatRenderer(self.ctx, raster)
        try:
            check_image(self.ctx, self.renderer.device, *size)
        except ImageSizeError:
            self.renderer.release()
            self.ctx.release()
            raise
        self.session = ViewerSession(self.renderer, scene)
        self._settled = False

    def render(self, camera: Camera) -> np.ndarray:
        """One frame: [H, W, 3] float32 display-referred RGB.

        Raises:
            ImageSizeError: when this camera's image is larger than the GL device can render.
        """
        self.renderer.device.check_image_size(camera.width, camera.height)
        if not self._settled or self.session.stream is not None:  # what every frame uses,
            # or what this camera needs of a streamed scene
            scoring = Progress("scoring views", unit="views")
            inputs = self.session.settle(self.everything, camera, scoring)
            self._settled = True
        else:
            inputs = self.session.frame_inputs(camera, self.everything)
        return self.renderer.render_image(self.session.gpu_scene, inputs, self.settings)

    def release(self) -> None:
        """Free the scene, the renderer and the context."""
        self.session.release()
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
    prune: PruneSettings = PruneSettings(),
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 display-referred RGB.

    A context of its own (HeadlessRenderer); render many cameras through one HeadlessRenderer.

    Raises:
        ImageSizeError: when the camera's image is larger than the GL device can render
            (viewer.render.budget.check_image, before the scene is uploaded).
    """
    size = (camera.width, camera.height)
    with HeadlessRenderer(scene, size, settings, raster, lod, fov, prune) as renderer:
        return renderer.render(camera)
