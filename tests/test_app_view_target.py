"""The viewer's cached view and what the renderer sizes by the window (headless GL)."""

from __future__ import annotations

import dataclasses
import time

from viewer.app.frame_pacer import FramePacer
from viewer.app.view_target import ViewTarget
from viewer.builtin_scene import default_camera, load_builtin_scene
from viewer.render.accum_target import AccumTarget
from viewer.render.fovea import Fovea
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
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


def test_a_scaled_view_is_the_renderers_image_at_that_scale(gl_ctx):
    """At render scale 0.5, with foveated resolution's inset, the view is the renderer's own
    image of those inputs, half the window's size (its copy to the window stretches it): the
    render scale (the camera and gaze scaled, the inset placed) is applied once, by the
    renderer."""
    raster = RasterSettings(backend="quads")
    renderer = SplatRenderer(gl_ctx, raster)
    scene = GpuScene.from_scene(gl_ctx, load_builtin_scene(), renderer.device)
    target = ViewTarget(gl_ctx)
    settings = RenderSettings()
    try:
        camera = default_camera(320, 192)
        fovea = Fovea(borders=(6.0, 10.0, 14.0), subsets=False, periphery_scale=0.5)
        inputs = FrameInputs(camera, gaze=(80.0, 60.0), fovea=fovea, render_scale=0.5)
        stats = target.render(renderer, scene, inputs, settings, raster)
        assert stats is not None and stats.render_scale == 0.5
        width, height = target.image.size
        assert (width, height) == (160, 96)
        shown = target.image.texture.read()
        expected = AccumTarget(gl_ctx, dtype="f1")  # an image like the view's
        expected.ensure_size(width, height)
        renderer.render(scene, inputs, settings, expected.framebuffer)
        assert shown == expected.texture.read()
        half = dataclasses.replace(inputs, fovea=None)
        renderer.render(scene, half, settings, expected.framebuffer)
        assert shown != expected.texture.read()  # with its inset
        expected.release()
    finally:
        target.release()
        scene.release()
        renderer.release()


class FixedParts(FramePacer):
    """A pacer drawing 4000 parts (splats of the quads backend) per UI frame, whatever the costs."""

    def count(self, preparing: bool = False) -> int | None:
        return 4000


def test_the_period_is_between_frames_shown_drawn_whole_or_in_parts(gl_ctx):
    """The frame-rate target sees how often new images appear, not how often the UI loops."""
    raster = RasterSettings(backend="quads")
    renderer = SplatRenderer(gl_ctx, raster)
    scene = GpuScene.from_scene(gl_ctx, load_builtin_scene(), renderer.device)
    target = ViewTarget(gl_ctx)
    settings = RenderSettings()
    cameras = [dataclasses.replace(default_camera(96, 64), cx=48.0 + k) for k in range(4)]

    def ui_frame(camera, pacer=None) -> float | None:
        """One UI frame: the period taken (as the window does first), then the render call."""
        period = target.take_period()
        target.render(renderer, scene, FrameInputs(camera), settings, raster, pacer=pacer)
        return period

    try:
        assert ui_frame(cameras[0]) is None  # nothing shown before
        assert ui_frame(cameras[1]) is None  # the first frame of a motion: nothing to measure
        start = time.perf_counter()
        period = ui_frame(cameras[2])  # the frame of cameras[1] followed the one before at once
        assert period is not None and 0.0 < period < time.perf_counter() - start + 1.0
        ui_frame(cameras[2])  # the camera still: no frame drawn ...
        ui_frame(cameras[3])  # ... so the next frame, after a rest, is not measured
        assert ui_frame(cameras[3]) is None and target.take_period() is None
        # in parts: a frame over several UI frames, one period per frame shown
        pacer = FixedParts()
        moving = [dataclasses.replace(cameras[0], cx=40.0 + 0.1 * i) for i in range(24)]
        periods = [ui_frame(camera, pacer) for camera in moving]
        ui_frames = target.last_frame[0]  # how many the last frame took
        measured = [p for p in periods if p is not None]
        assert ui_frames > 1 and 2 <= len(measured) <= 24 // ui_frames
    finally:
        target.release()
        scene.release()
        renderer.release()
