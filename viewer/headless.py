"""Headless rendering: a scene and a camera to an image, through the same viewer core as the window.

`render_scene` makes a `ViewerSession` on an EGL context and settles it (every score and LOD
tree the settings need is loaded from the cache or made, with progress on stderr) before drawing
the one frame, so `splatscope render` draws what the window would show at rest.
"""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.core.session import ViewerSession
from viewer.progress import Progress
from viewer.render.context import ImageSizeError, create_headless_context
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import FoveationSettings, LodSettings, RasterSettings, RenderSettings


def render_scene(
    scene: GaussianScene,
    camera: Camera,
    settings: RenderSettings = RenderSettings(),
    raster: RasterSettings = RasterSettings(),
    lod: LodSettings = LodSettings(),
    fov: FoveationSettings = FoveationSettings(),
) -> np.ndarray:
    """One frame of `scene` through the GPU pipeline: [H, W, 3] float32 display-referred RGB.

    With LOD enabled the scene's LOD tree is taken from the cache or built and its cut drawn at
    full quality (the target_fps cut at rest is the tau cut). With foveation enabled the image
    is foveated around the fixed gaze, or the centre (the `mouse` gaze has no pointer here); the
    subsets' scores come from the cache or are measured.

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
    session = ViewerSession(renderer, scene)
    try:
        everything = SettingsSet().replaced(settings).replaced(raster).replaced(lod).replaced(fov)
        inputs = session.settle(everything, camera, Progress("scoring views", unit="views"))
        return renderer.render_image(session.gpu_scene, inputs, settings)
    finally:
        session.release()
        renderer.release()
        ctx.release()
