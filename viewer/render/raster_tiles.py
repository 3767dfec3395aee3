"""Tiles raster backend: 16x16 compute tiles, front to back with early termination.

It bins the frame (viewer/render/tile_bins.py) and composites each tile's depth-sorted pairs in
one workgroup (tiles_raster.comp). Foveated frames drawing nested subsets are binned by each
tile's lowest level and weigh each splat per pixel by its level there (the FOVEA variant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import moderngl

from viewer.render.accum_target import AccumTarget
from viewer.render.contributions import Contributions, GpuMeasure
from viewer.render.fovea import SubsetUniforms
from viewer.render.layout import BINDING_PAIR_SPLATS, BINDING_TILE_RANGES
from viewer.render.programs import compute_shader, set_uniforms
from viewer.render.raster import RasterJob
from viewer.render.tile_bins import TileBins, TileUniforms, tile_grid


@dataclass(frozen=True)
class TileRows:
    """tiles_raster.comp: the first row of tiles of a part (0 for the whole frame)."""

    first_tile_row: int


class TilesRaster:
    """The tiles backend (a `RasterBackend`): bins, then composites each tile in a workgroup."""

    name = "tiles"
    bins = True
    fovea_per_pixel = True

    def __init__(
        self, ctx: moderngl.Context, bins: Callable[[], TileBins], measurer: GpuMeasure
    ) -> None:
        """A backend compositing from the renderer's bins (`bins()`: made on first use)."""
        self.ctx = ctx
        self._bins = bins
        self._measurer = measurer
        self.shader = compute_shader(ctx, "tiles_raster.comp")
        self._fovea_shader: moderngl.ComputeShader | None = None  # made on first use

    @property
    def tile_bins(self) -> TileBins:
        """The bins `draw` composites from."""
        return self._bins()

    def bin(self, job: RasterJob) -> None:
        """Bin the frame, by each tile's level when it draws the scene's nested subsets."""
        self._bins().bin(job.frame, job.view.camera, job.scene, job.view.subsets)

    def parts(self, job: RasterJob) -> int:
        """One part per row of tiles."""
        return tile_grid(job.view.camera.width, job.view.camera.height)[1]

    def draw(self, job: RasterJob, target: AccumTarget, parts: range | None = None) -> None:
        """Composite every tile of the binned frame, or the rows of tiles `parts`, into `target`.

        With the scene's nested subsets each splat weighs its stored levels' weight at each
        pixel's level. Every pixel of a tile is written: nothing is cleared.
        """
        bins, camera, scene = self._bins(), job.view.camera, job.scene
        shader = self.shader
        subsets = None
        if job.view.subsets is not None:
            assert scene.subsets is not None
            if self._fovea_shader is None:
                self._fovea_shader = compute_shader(self.ctx, "tiles_raster.comp", {"FOVEA": 1})
            shader = self._fovea_shader
            subsets = SubsetUniforms(job.view.subsets, scene.subsets.rows)
            scene.subsets.bind()
        job.frame.bind()
        bins.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        bins.ranges.bind_to_storage_buffer(BINDING_TILE_RANGES)
        target.texture.bind_to_image(0, read=False, write=True)
        columns, rows = tile_grid(camera.width, camera.height)
        parts = range(rows) if parts is None else parts
        set_uniforms(shader, TileUniforms.of(camera, subsets), TileRows(parts.start))
        if len(parts):
            shader.run(columns, len(parts))
        self.ctx.memory_barrier()

    def measure(
        self, job: RasterJob, gaussians: int, pixel: tuple[int, int] | None
    ) -> Contributions:
        """Measure the view on the GPU (`GpuMeasure`)."""
        return self._measurer.measure(job, gaussians, pixel)

    def release(self) -> None:
        """Free the shaders (the bins are the renderer's)."""
        self.shader.release()
        if self._fovea_shader is not None:
            self._fovea_shader.release()
