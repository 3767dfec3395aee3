"""Resolve pass: accumulation image plus background to the output (resolve.vert/resolve.frag)."""

from __future__ import annotations

import moderngl

from viewer.render.accum_target import AccumTarget
from viewer.render.programs import raster_program, set_uniforms


class ResolvePass:
    """Draws a full-screen triangle: C + (1 - A) * background."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = raster_program(ctx, "resolve.vert", "resolve.frag")
        self.vao = ctx.vertex_array(self.program, [])

    def run(
        self,
        accum: AccumTarget,
        output: moderngl.Framebuffer,
        background: tuple[float, float, float],
    ) -> None:
        """Write the final image into `output`.

        An accumulation image smaller than `output` (a render scale below 1) is stretched over
        it with bilinear filtering; one of the same size is copied pixel for pixel.
        """
        assert accum.texture is not None
        output.use()
        self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        stretch = tuple(accum.size) != tuple(output.size)
        linear = moderngl.LINEAR if stretch else moderngl.NEAREST
        accum.texture.filter = (linear, linear)
        accum.texture.repeat_x = accum.texture.repeat_y = False
        accum.texture.use(0)
        set_uniforms(
            self.program, accum=0, background=tuple(background), stretch=stretch,
            output_size=(float(output.size[0]), float(output.size[1])),
        )  # fmt: skip
        self.vao.render(moderngl.TRIANGLES, vertices=3)

    def release(self) -> None:
        """Free GL objects."""
        self.vao.release()
        self.program.release()
