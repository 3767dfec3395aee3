"""Quad rasters: one instanced quad per visible splat, blended back to front.

The same draw serves three rasters that differ only in their shaders: the quads backend (eigen-
aligned quads, splat.vert/splat.frag), the points mode (dots at the centres, points.vert/
points.frag) and the outlines mode (ellipse rings, splat.vert/outlines.frag).
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from viewer.render.accum_target import AccumTarget
from viewer.render.contributions import Contributions, GpuMeasure
from viewer.render.programs import ViewportUniforms, raster_program, set_uniforms
from viewer.render.raster import RasterJob


@dataclass(frozen=True)
class QuadUniforms:
    """The quad rasters' uniforms: the image size, the points mode's dot size, the first quad.

    `first_instance` counts in drawing order (back to front) from the farthest visible splat.
    """

    image: ViewportUniforms
    point_size: float | None = None
    first_instance: int = 0


class InstancedQuads:
    """A `Raster` blending premultiplied fragments (ONE, ONE_MINUS_SRC_ALPHA), one indirect draw.

    Attributes:
        point_size: whether the shaders draw dots of `RenderSettings.point_size`.
    """

    bins = False
    fovea_per_pixel = False
    tile_bins = None

    def __init__(
        self, ctx: moderngl.Context, vertex: str, fragment: str, point_size: bool = False
    ) -> None:
        """Quads drawn by shaders/<vertex> and shaders/<fragment>."""
        self.ctx = ctx
        self.point_size = point_size
        self.program = raster_program(ctx, vertex, fragment)
        self.vao = ctx.vertex_array(self.program, [])

    def bin(self, job: RasterJob) -> None:
        """Nothing to bin: every splat is one instance."""

    def parts(self, job: RasterJob) -> int:
        """One part per visible splat (reads the frame's count: waits for the GPU)."""
        return job.frame.visible_count()

    def draw(self, job: RasterJob, target: AccumTarget, parts: range | None = None) -> None:
        """Draw the visible splats, or the `parts` of them in back-to-front order, into `target`.

        The whole frame is one indirect draw of every visible splat; a range is a draw of its
        instances. `target` is cleared before a whole draw and the range starting at 0.
        """
        size = job.settings.point_size if self.point_size else None
        first = 0 if parts is None else parts.start
        uniforms = QuadUniforms(ViewportUniforms.of(job.view.camera), size, first)
        set_uniforms(self.program, uniforms)
        job.frame.bind()
        target.framebuffer.use()
        if first == 0:
            target.framebuffer.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.enable_only(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self.ctx.blend_equation = moderngl.FUNC_ADD, moderngl.FUNC_ADD
        if parts is None:
            self.vao.render_indirect(job.frame.counters, moderngl.TRIANGLE_STRIP, 1)
        elif len(parts):
            self.vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=len(parts))
        self.ctx.disable(moderngl.BLEND)

    def release(self) -> None:
        """Free GL objects."""
        self.vao.release()
        self.program.release()


class QuadsRaster(InstancedQuads):
    """The quads backend (a `RasterBackend`): eigen-aligned quads; measures on the GPU."""

    name = "quads"

    def __init__(self, ctx: moderngl.Context, measurer: GpuMeasure) -> None:
        """The backend's quads (splat.vert, splat.frag); `measurer` bins and measures views."""
        super().__init__(ctx, "splat.vert", "splat.frag")
        self._measurer = measurer

    def measure(
        self, job: RasterJob, gaussians: int, pixel: tuple[int, int] | None
    ) -> Contributions:
        """Measure the view on the GPU (`GpuMeasure`)."""
        return self._measurer.measure(job, gaussians, pixel)
