"""Quads raster backend: instanced eigen-aligned quads, back to front (splat.vert/splat.frag)."""

from __future__ import annotations

import moderngl

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.programs import raster_program, set_uniforms


class QuadsRaster:
    """Blends premultiplied splats (ONE, ONE_MINUS_SRC_ALPHA) with an indirect instanced draw."""

    name = "quads"

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = raster_program(ctx, "splat.vert", "splat.frag")
        self.vao = ctx.vertex_array(self.program, [])

    def run(self, frame: FrameBuffers, camera: Camera, target: AccumTarget) -> None:
        """Draw every visible splat into `target` (cleared first)."""
        assert target.framebuffer is not None
        set_uniforms(self.program, viewport=(float(camera.width), float(camera.height)))
        frame.bind()
        target.framebuffer.use()
        target.framebuffer.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.blend_equation = moderngl.FUNC_ADD
        self.vao.render_indirect(frame.counters, mode=moderngl.TRIANGLE_STRIP, count=1)
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        """Free GL objects."""
        self.vao.release()
        self.program.release()
