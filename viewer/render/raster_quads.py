"""Quad rasters: one instanced quad per visible splat, blended back to front.

The same draw serves three passes that differ only in their shaders: the quads backend (eigen-
aligned quads, splat.vert/splat.frag), the points mode (dots at the centres, points.vert/
points.frag) and the outlines mode (ellipse rings, splat.vert/outlines.frag).
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.programs import ViewportUniforms, raster_program, set_uniforms
from viewer.settings import RenderSettings


@dataclass(frozen=True)
class QuadUniforms:
    """The quad rasters' uniforms: the image size, and the dot size of the points mode."""

    image: ViewportUniforms
    point_size: float | None = None


class QuadsRaster:
    """Blends premultiplied fragments (ONE, ONE_MINUS_SRC_ALPHA) with an indirect instanced draw."""

    def __init__(
        self,
        ctx: moderngl.Context,
        name: str = "quads",
        vertex: str = "splat.vert",
        fragment: str = "splat.frag",
        point_size: bool = False,
    ) -> None:
        """A quad raster of the two shaders; `point_size`: they draw dots of that size."""
        self.ctx = ctx
        self.name = name
        self.point_size = point_size
        self.program = raster_program(ctx, vertex, fragment)
        self.vao = ctx.vertex_array(self.program, [])

    def run(
        self, frame: FrameBuffers, camera: Camera, target: AccumTarget, settings: RenderSettings
    ) -> None:
        """Draw every visible splat into `target` (cleared first)."""
        size = settings.point_size if self.point_size else None
        set_uniforms(self.program, QuadUniforms(ViewportUniforms.of(camera), size))
        frame.bind()
        target.framebuffer.use()
        target.framebuffer.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.blend_equation = moderngl.FUNC_ADD, moderngl.FUNC_ADD
        self.vao.render_indirect(frame.counters, moderngl.TRIANGLE_STRIP, 1)
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        """Free GL objects."""
        self.vao.release()
        self.program.release()
