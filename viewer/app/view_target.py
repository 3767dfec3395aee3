"""The splats' image kept between frames: re-rendered only when what it shows changed.

On software GL a splat frame takes a large part of a second while the UI should answer every
frame; so the renderer draws into an offscreen framebuffer of the window's size, and each frame
copies that to the window before the UI is drawn over it. At a render scale below 1 (the LOD
frame-rate target) the image is that much smaller and the copy stretches it: one pass at the
window's size per frame, as at full scale.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Hashable

import moderngl
import OpenGL.GL as gl

from viewer.render.accum_target import AccumTarget
from viewer.render.fovea import render_gaze
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings
from viewer.stats import FrameStats


class ViewTarget:
    """An RGBA8 image of the window's size holding the last splat frame.

    When the window changes size, the renderer frees what it sized for a larger view
    (`SplatRenderer.fit_view`): one huge window must not keep its memory.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.image = AccumTarget(ctx, dtype="f1")
        self._shown: Hashable | None = None  # key of what the image shows
        self.window_size = (0, 0)  # what `present` fills: the camera's (unscaled) image size

    def render(
        self,
        renderer: SplatRenderer,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        raster: RasterSettings,
        always: bool = False,
    ) -> FrameStats | None:
        """Render the splats if the scene (its version), inputs or settings changed since last.

        With `always`, render in any case.

        Returns:
            The renderer's stats of the newest timed frame, or None when nothing was rendered.
        """
        key: Hashable = (scene.version, inputs.key(), settings, raster)
        if not always and key == self._shown:
            return None
        camera = inputs.camera
        if self.window_size != (camera.width, camera.height):  # the window changed size
            self.window_size = (camera.width, camera.height)
            renderer.fit_view(camera.width, camera.height)
        drawn = inputs.render_camera  # smaller at a render scale below 1: stretched by `present`
        self.image.ensure_size(drawn.width, drawn.height)
        gaze = render_gaze(camera, drawn, inputs.gaze)  # in the drawn image's pixels
        scaled = dataclasses.replace(inputs, camera=drawn, gaze=gaze, render_scale=1.0)
        stats = renderer.render(scene, scaled, settings, self.image.framebuffer)
        if stats is not None and inputs.render_scale != 1.0:
            stats = dataclasses.replace(stats, render_scale=inputs.render_scale)
        self._shown = key
        return stats

    @property
    def nbytes(self) -> int:
        """GPU memory held by the image."""
        return self.image.nbytes

    def present(self) -> None:
        """Copy the image to the window's framebuffer from the bottom left.

        Pixel for pixel, or stretched bilinearly over the window when drawn at a lower scale.
        """
        error = self.ctx.error  # clears it: PyOpenGL would raise a pending error on its next call
        if error != "GL_NO_ERROR":
            warnings.warn(f"OpenGL error while rendering the splats: {error}", stacklevel=2)
        width, height = self.image.size
        out_width, out_height = self.window_size if all(self.window_size) else self.image.size
        same = (width, height) == (out_width, out_height)
        gl.glDisable(gl.GL_SCISSOR_TEST)  # blits are clipped by the scissor box
        gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self.image.framebuffer.glo)
        gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, 0)
        gl.glBlitFramebuffer(
            0, 0, width, height, 0, 0, out_width, out_height, gl.GL_COLOR_BUFFER_BIT,
            gl.GL_NEAREST if same else gl.GL_LINEAR,
        )  # fmt: skip
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)

    def release(self) -> None:
        """Free the GL objects."""
        self.image.release()
