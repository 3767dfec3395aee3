"""Resolve pass: accumulation image plus background to the output (resolve.vert/resolve.frag)."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from viewer.render.accum_target import AccumTarget
from viewer.render.inset import Inset, Placement
from viewer.render.programs import raster_program, set_uniforms


@dataclass(frozen=True)
class ResolveUniforms:
    """resolve.frag's uniforms (the shader's comments say what each is).

    Attributes:
        accum: the texture unit of the accumulation image.
        placement: where the image lies over the output: an inset's rectangle and feather
            (`Inset.placement`), or the whole output.
    """

    accum: int
    background: tuple[float, float, float]
    stretch: bool
    inset: bool
    placement: Placement


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
        inset: Inset | None = None,
    ) -> None:
        """Write the final image into `output`, or, with `inset`, blend that inset over it.

        An accumulation image smaller than its part of `output` (a render scale below 1) is
        stretched over it with bilinear filtering; one of the same size is copied pixel for
        pixel. An inset is drawn only over its rectangle, feathered (viewer/render/inset.py).
        """
        assert accum.texture is not None
        size = (int(output.size[0]), int(output.size[1]))
        whole = Placement(origin=(0.0, 0.0), extent=(float(size[0]), float(size[1])))
        placement = whole if inset is None else inset.placement(size)
        covers = accum.size if inset is None else inset.size
        stretch = tuple(covers) != size
        linear = moderngl.LINEAR if stretch else moderngl.NEAREST
        accum.texture.filter = (linear, linear)
        accum.texture.repeat_x = accum.texture.repeat_y = False
        accum.texture.use(0)
        r, g, b = background
        uniforms = ResolveUniforms(
            accum=0,
            background=(r, g, b),
            stretch=stretch,
            inset=inset is not None,
            placement=placement,
        )
        set_uniforms(self.program, uniforms)
        if inset is None:
            output.use()
            self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
            self.vao.render(moderngl.TRIANGLES, vertices=3)
            return
        output.viewport = inset.viewport(size)
        output.use()
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.blend_equation = moderngl.FUNC_ADD, moderngl.FUNC_ADD
        self.vao.render(moderngl.TRIANGLES, vertices=3)
        output.viewport = (0, 0, size[0], size[1])
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        """Free GL objects."""
        self.vao.release()
        self.program.release()
