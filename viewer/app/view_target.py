"""The splats' image kept between frames: re-rendered only when what it shows changed.

On software GL a splat frame takes a large part of a second while the UI should answer every
frame; so the renderer draws into an offscreen framebuffer of the window's size, and each frame
copies that to the window before the UI is drawn over it. Frames are drawn into a second image
that becomes the one shown when the frame is done; with a `FramePacer` a slow frame is drawn over
several UI frames (a part each, into an accumulation image of its own) while the window keeps
showing the last finished one, stretched over the window if its size changed meanwhile. At a
render scale below 1 (the LOD frame-rate target) the image is that much smaller and the copy
to the window stretches it: one full-size pass per frame, as at full scale. The renderer alone
derives the scaled camera and gaze; the view only sizes its image.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Hashable

import moderngl
import OpenGL.GL as gl

from viewer.app.frame_pacer import FramePacer
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatFrame, SplatRenderer
from viewer.settings import RasterSettings, RenderSettings
from viewer.stats import FrameStats


class ViewTarget:
    """An RGBA8 image of the window's size holding the last splat frame.

    When the window changes size, the renderer frees what it sized for a larger view
    (`SplatRenderer.fit_view`): one huge window must not keep its memory.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.image = AccumTarget(ctx, dtype="f1")  # shown
        self._back = AccumTarget(ctx, dtype="f1")  # drawn: the image once the frame is done
        self._accum = AccumTarget(ctx)  # a frame in parts accumulates here
        self._shown: Hashable | None = None  # key of what the image shows
        self._frame: SplatFrame | None = None  # the frame being drawn in parts
        self._drawing: Hashable | None = None  # its key
        self._stepped_at: float | None = None  # when the last step in parts ended
        self._begun_at, self._steps = 0.0, 0  # of the frame being drawn
        self.last_frame = (0, 0.0)  # UI frames and milliseconds the last finished frame took
        self._done_at: float | None = None  # when the last frame was finished
        self._idle = True  # whether a render call found nothing to draw since then
        self._continuous = False  # whether the frame being drawn was begun with none idle
        self._period: float | None = None  # seconds between the last two frames (`take_period`)
        self.window_size = (0, 0)  # the camera's (unscaled) image size the renderer fits

    def take_period(self) -> float | None:
        """Seconds between the last two finished frames, once; None if not known since.

        Known when a frame was begun as soon as the one before was finished (the view kept
        changing): the rate at which new images appear, whether frames are drawn whole or in
        parts over several UI frames, which the frame-rate target holds.
        """
        period, self._period = self._period, None
        return period

    @property
    def drawing(self) -> bool:
        """Whether a frame is being drawn in parts (the loop must not wait for input)."""
        return self._frame is not None

    def render(
        self,
        renderer: SplatRenderer,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        raster: RasterSettings,
        always: bool = False,
        pacer: FramePacer | None = None,
    ) -> FrameStats | None:
        """Render the splats if the scene (its version), inputs or settings changed since last.

        With `always`, render in any case. With `pacer`, draw what it allows of the frame: a
        frame begun in parts is finished before the next (the latest inputs) is begun, unless
        the scene was replaced.

        Returns:
            The renderer's stats of the newest timed frame, or None when no frame was finished.
        """
        key: Hashable = (scene.version, inputs.key(), settings, raster)
        frame = self._frame
        if frame is not None and frame.scene is not scene:
            frame = self._frame = None  # drawn of another scene: begun again
        if frame is None:
            if not always and key == self._shown:
                self._idle = True
                return None
            frame = self._begin(renderer, scene, inputs, settings)
            self._drawing, self._begun_at, self._steps = key, time.perf_counter(), 0
            self._continuous, self._idle = not self._idle, False
        started = time.perf_counter()
        done = frame.step(None if pacer is None else pacer.count(frame.unprepared))
        self._steps += 1
        if pacer is not None:
            self._pace(pacer, frame, started)
        if not done:
            self._frame = frame
            return None
        self._frame, self._shown = None, self._drawing
        now = time.perf_counter()
        self.last_frame = (self._steps, (now - self._begun_at) * 1e3)
        if self._continuous and self._done_at is not None:
            self._period = now - self._done_at
        self._done_at = now
        self._back, self.image = self.image, self._back
        self._back.ensure_size(*self.image.size)  # an earlier size's memory is not kept
        if pacer is not None:
            pacer.frame_done(frame.work_ms)
        return frame.stats

    def _begin(
        self,
        renderer: SplatRenderer,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
    ) -> SplatFrame:
        """A frame of `inputs`, the image sized to it (and the renderer fitted to the window).

        At a render scale below 1 the image is that much smaller (`present` stretches it over
        the window, one full-size pass a UI frame either way); the renderer, given the inputs
        as they are, draws and resolves at that scale.
        """
        camera, drawn = inputs.camera, inputs.render_camera
        if self.window_size != (camera.width, camera.height):  # the window changed size
            self.window_size = (camera.width, camera.height)
            renderer.fit_view(camera.width, camera.height)
        self._back.ensure_size(drawn.width, drawn.height)
        return renderer.start(scene, inputs, settings, self._back.framebuffer, self._accum)

    def _pace(self, pacer: FramePacer, frame: SplatFrame, started: float) -> None:
        """Tell `pacer` what the step cost and, between steps, what the UI's own work did."""
        now = time.perf_counter()
        if frame.prepare_ms:
            pacer.prepared(frame.prepare_ms)
        if frame.last_step is not None:
            pacer.stepped(*frame.last_step)
            if self._stepped_at is not None:  # the UI frame since the last step in parts
                pacer.ui_frame((now - self._stepped_at) * 1e3, (now - started) * 1e3)
        self._stepped_at = now if frame.last_step is not None and not frame.done else None

    @property
    def nbytes(self) -> int:
        """GPU memory held by the images (shown, drawn, and the accumulation of frames in parts)."""
        return self.image.nbytes + self._back.nbytes + self._accum.nbytes

    def present(self, size: tuple[int, int]) -> None:
        """Copy the image over the window's framebuffer of `size` pixels, from the bottom left.

        Pixel for pixel, or stretched bilinearly over it when drawn at a lower scale (or while
        the frame for a window whose size changed is drawn).
        """
        error = self.ctx.error  # clears it: PyOpenGL would raise a pending error on its next call
        if error != "GL_NO_ERROR":
            warnings.warn(f"OpenGL error while rendering the splats: {error}", stacklevel=2)
        width, height = self.image.size
        out_width, out_height = size if all(size) else self.image.size
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
        for image in (self.image, self._back, self._accum):
            image.release()
