"""The viewer's cached view and what the renderer sizes by the window (headless GL)."""

from __future__ import annotations

import numpy as np

from viewer.app.view_target import ViewTarget
from viewer.builtin_scene import default_camera, load_builtin_scene
from viewer.render.fovea import Fovea, fovea_mask
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.inset import plan
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings


def test_a_huge_window_does_not_keep_its_memory(gl_ctx):
    """A 4096x4096 window (and a pick in it) used to leave its contributions pixels, tile
    pairs and ranges allocated after the window was small again.

    2048x2048 here (software GL draws it in seconds) is 18 times 640x360: enough to tell. The
    pick bins the view in tiles whatever the backend (the tiles backend draws the same buffers
    but takes minutes at this size on software GL).
    """
    raster = RasterSettings(backend="quads")
    renderer = SplatRenderer(gl_ctx, raster)
    scene = GpuScene.from_scene(gl_ctx, load_builtin_scene(), renderer.device)
    target = ViewTarget(gl_ctx)
    settings = RenderSettings()

    def show(width: int, height: int) -> int:
        """A frame of a window of that size and a pick in it; the GPU bytes held then."""
        inputs = FrameInputs(default_camera(width, height))
        target.render(renderer, scene, inputs, settings, raster)
        renderer.measure(scene, inputs, settings, pixel=(width // 2, height // 2))
        return renderer.gpu_bytes + target.nbytes

    try:
        small = show(640, 360)
        huge = show(2048, 2048)
        assert huge > 10 * small
        assert show(640, 360) <= 1.1 * small
        assert show(1, 1) <= small
        assert show(640, 360) <= 1.1 * small
    finally:
        target.release()
        scene.release()
        renderer.release()


def test_a_scaled_view_keeps_the_gaze_and_draws_the_inset(gl_ctx):
    """At render scale 0.5 the view is the renderer's image of the scaled camera, gaze scaled
    with it, with foveated resolution's inset too (its window copy then stretches it)."""
    raster = RasterSettings(backend="quads")
    renderer = SplatRenderer(gl_ctx, raster)
    scene = GpuScene.from_scene(gl_ctx, load_builtin_scene(), renderer.device)
    target = ViewTarget(gl_ctx)
    settings = RenderSettings()
    try:
        camera = default_camera(320, 192)
        fovea = Fovea(borders=(6.0, 10.0, 14.0), subsets=False, periphery_scale=0.5)
        inputs = FrameInputs(camera, gaze=(80.0, 60.0), fovea=fovea, render_scale=0.5)
        target.render(renderer, scene, inputs, settings, raster)
        width, height = target.image.size
        shown = np.frombuffer(target.image.texture.read(), np.uint8).reshape(height, width, 4)
        drawn = FrameInputs(inputs.render_camera, gaze=(40.0, 30.0), fovea=fovea)
        expected = renderer.render_image(scene, drawn, settings)
        assert (width, height) == (160, 96)
        # where the inset's weight is 1 or 0 (the feather blends 8-bit values, clamped at 1)
        _, inset = plan(drawn.camera, fovea, drawn.gaze)
        assert inset is not None
        x0, y0, x1, y1 = inset.box
        solid = np.ones((height, width), bool)
        solid[y0:y1, x0:x1] = False
        solid |= fovea_mask(drawn.camera, fovea, drawn.gaze)
        shown_rgb, expected_rgb = shown[::-1, :, :3] / 255.0, np.clip(expected, 0.0, 1.0)
        np.testing.assert_allclose(shown_rgb[solid], expected_rgb[solid], atol=1.5 / 255.0)
    finally:
        target.release()
        scene.release()
        renderer.release()
