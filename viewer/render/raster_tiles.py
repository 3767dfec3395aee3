"""Tiles raster backend: 16x16 compute tiles, front to back with early termination.

Steps: count the tiles each depth-sorted splat touches (tiles_count.comp), prefix-sum the counts
(PrefixSum), emit (tile, splat) pairs in depth order (tiles_emit.comp), stable-sort the pairs by
tile (the depth order survives inside each tile), find each tile's range (tiles_ranges.comp) and
composite (tiles_raster.comp). Dispatch sizes come from the GPU counters.

Foveated frames drawing nested subsets (`fovea` given to `bin` and `run`) first find each tile's
lowest level (fov_tiles.comp), bin a splat only into the tiles whose level its subset reaches,
and weigh each splat per pixel by its level there (the FOVEA variants, compiled on first use).
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.fovea import TILE_REACH, FoveaUniforms, SubsetUniforms
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import (
    BINDING_COUNTERS,
    BINDING_FOV_TILES,
    BINDING_PAIR_SPLATS,
    BINDING_PAIR_TILES,
    BINDING_TILE_COUNTS,
    BINDING_TILE_RANGES,
    COUNTER_PAIRS,
    DISPATCH_PER_PAIR,
    DISPATCH_PER_VISIBLE,
    TILE_SIZE,
    WORKGROUP_SIZE,
)
from viewer.render.prefix_sum import PrefixSum
from viewer.render.programs import compute_shader, set_uniforms
from viewer.render.sort import KeyValueSort

INITIAL_PAIRS_PER_SPLAT = 4


def tile_grid(width: int, height: int) -> tuple[int, int]:
    """Tiles along x and y covering a width x height image."""
    return -(-width // TILE_SIZE), -(-height // TILE_SIZE)


@dataclass(frozen=True)
class TileUniforms:
    """What the tile passes (tiles_count, tiles_emit, tiles_raster) read of the image.

    Attributes:
        viewport: width, height, pixels.
        tile_grid: tiles along x and y.
        subsets: their FOVEA variants only: the fovea and the rows of the scene's levels.
    """

    viewport: tuple[float, float]
    tile_grid: tuple[int, int]
    subsets: SubsetUniforms | None = None


@dataclass(frozen=True)
class EmitUniforms:
    """tiles_emit.comp: the tile uniforms and the pair slots (pairs beyond are counted)."""

    tiles: TileUniforms
    pair_capacity: int


@dataclass(frozen=True)
class FovTilesUniforms:
    """fov_tiles.comp: the fovea, the tile grid and a tile's reach from its centre (pixels)."""

    subsets: SubsetUniforms
    tile_grid: tuple[int, int]
    tile_reach: float


class TilesRaster:
    """Composites each tile's depth-sorted splats in one workgroup."""

    name = "tiles"

    def __init__(self, ctx: moderngl.Context, sort: KeyValueSort) -> None:
        """A backend whose pair sort is `sort` (owned: released with the backend)."""
        self.ctx = ctx
        self.sort = sort
        self.count_shader = compute_shader(ctx, "tiles_count.comp")
        self.emit_shader = compute_shader(ctx, "tiles_emit.comp")
        self.ranges_shader = compute_shader(ctx, "tiles_ranges.comp")
        self.prefix_sum = PrefixSum(ctx)
        self.pair_capacity = 1
        self._splat_capacity = 1
        self.tile_counts = ctx.buffer(reserve=4)  # [capacity] uint32, then pair offsets
        self.pair_tiles = ctx.buffer(reserve=4)  # [pair_capacity] uint32 tile_of_pair
        self.pair_splats = ctx.buffer(reserve=4)  # [pair_capacity] uint32 splat_of_pair
        self.ranges = ctx.buffer(reserve=8)  # [tiles] uvec2 pair_range_of_tile
        self.tile_levels = ctx.buffer(reserve=4)  # [tiles] float: foveation's lowest level
        self._fovea_shaders: dict[str, moderngl.ComputeShader] = {}  # made on first use
        self._plain_shaders: dict[str, moderngl.ComputeShader] = {}  # made on first use
        self.prefix_sum.ensure_capacity(1)
        self._largest_view = 0  # pixels of the largest view binned since the pairs last shrank

    def ensure_capacity(self, splat_capacity: int, pair_capacity: int) -> None:
        """Room for `splat_capacity` visible splats and `pair_capacity` pairs."""
        if splat_capacity > self._splat_capacity:
            self.tile_counts.release()
            self.tile_counts = self.ctx.buffer(reserve=splat_capacity * 4)
            self.prefix_sum.ensure_capacity(splat_capacity)
            self._splat_capacity = splat_capacity
        if pair_capacity > self.pair_capacity:
            self.pair_tiles.release()
            self.pair_splats.release()
            self.pair_tiles = self.ctx.buffer(reserve=pair_capacity * 4)
            self.pair_splats = self.ctx.buffer(reserve=pair_capacity * 4)
            self.sort.ensure_capacity(pair_capacity)
            self.pair_capacity = pair_capacity

    def fit_view(self, width: int, height: int, least_pairs: int) -> None:
        """Shrink what grew for views at least four times the area of width x height.

        The pair buffers (and the pair sort's scratch) shrink with the area, to no fewer than
        `least_pairs` pairs; they grow again when a frame's pairs overflow them. The tile
        ranges are made again at the next binning.
        """
        area = max(width * height, 1)
        if self._largest_view < 4 * area:
            return
        pairs = max(least_pairs, -(-self.pair_capacity * area // self._largest_view), 1)
        if pairs < self.pair_capacity:
            self.pair_tiles.release()
            self.pair_splats.release()
            self.pair_tiles = self.ctx.buffer(reserve=pairs * 4)
            self.pair_splats = self.ctx.buffer(reserve=pairs * 4)
            self.sort.trim(pairs)
            self.pair_capacity = pairs
        if self.ranges.size > 8:
            self.ranges.release()
            self.ranges = self.ctx.buffer(reserve=8)
        self._largest_view = area

    @property
    def nbytes(self) -> int:
        """GPU memory held by the backend's own buffers (and its pair sort's)."""
        buffers = (
            self.tile_counts,
            self.pair_tiles,
            self.pair_splats,
            self.ranges,
            self.tile_levels,
        )
        return sum(b.size for b in buffers) + self.sort.nbytes

    def _fovea_shader(self, name: str) -> moderngl.ComputeShader:
        """The FOVEA variant of shaders/<name> (fov_tiles.comp is one already)."""
        if name not in self._fovea_shaders:
            self._fovea_shaders[name] = compute_shader(self.ctx, name, {"FOVEA": 1})
        return self._fovea_shaders[name]

    def _raster_shader(self) -> moderngl.ComputeShader:
        """tiles_raster.comp (compiled on first use: binning alone serves measure and overdraw)."""
        if "tiles_raster.comp" not in self._plain_shaders:
            self._plain_shaders["tiles_raster.comp"] = compute_shader(self.ctx, "tiles_raster.comp")
        return self._plain_shaders["tiles_raster.comp"]

    def _fovea_levels(
        self, scene: GpuScene, camera: Camera, fovea: FoveaUniforms
    ) -> SubsetUniforms:
        """Find every tile's lowest level; bind the scene's levels. Returns the subsets drawn."""
        tiles_x, tiles_y = tile_grid(camera.width, camera.height)
        size = tiles_x * tiles_y * 4
        if not size <= self.tile_levels.size < 4 * size:
            self.tile_levels.release()
            self.tile_levels = self.ctx.buffer(reserve=size)
        assert scene.subsets is not None, "foveated subsets need the scene's levels"
        subsets = SubsetUniforms(fovea, scene.subsets.rows)
        shader = self._fovea_shader("fov_tiles.comp")
        set_uniforms(shader, FovTilesUniforms(subsets, (tiles_x, tiles_y), TILE_REACH))
        self.tile_levels.bind_to_storage_buffer(BINDING_FOV_TILES)
        shader.run(group_x=-(-tiles_x * tiles_y // WORKGROUP_SIZE))
        self.ctx.memory_barrier()
        scene.subsets.bind()
        return subsets

    def bin(
        self,
        frame: FrameBuffers,
        camera: Camera,
        scene: GpuScene | None = None,
        fovea: FoveaUniforms | None = None,
    ) -> None:
        """Count, scan and emit the (tile, splat) pairs; their count goes to the counters.

        With `fovea` a splat is binned only into the tiles whose lowest level its stored levels
        (in `scene`) reach.
        """
        self._largest_view = max(self._largest_view, camera.width * camera.height)
        count_shader, emit_shader = self.count_shader, self.emit_shader
        subsets = None
        if fovea is not None:
            assert scene is not None
            subsets = self._fovea_levels(scene, camera, fovea)
            count_shader = self._fovea_shader("tiles_count.comp")
            emit_shader = self._fovea_shader("tiles_emit.comp")
            self.tile_levels.bind_to_storage_buffer(BINDING_FOV_TILES)
        viewport = (float(camera.width), float(camera.height))
        uniforms = TileUniforms(viewport, tile_grid(camera.width, camera.height), subsets)
        frame.bind()
        self.tile_counts.bind_to_storage_buffer(BINDING_TILE_COUNTS)
        set_uniforms(count_shader, uniforms)
        count_shader.run_indirect(frame.counters, DISPATCH_PER_VISIBLE * 4)
        self.ctx.memory_barrier()
        self.prefix_sum.run(self.tile_counts, frame.counters)
        frame.bind()
        self.tile_counts.bind_to_storage_buffer(BINDING_TILE_COUNTS)
        self.pair_tiles.bind_to_storage_buffer(BINDING_PAIR_TILES)
        self.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        set_uniforms(emit_shader, EmitUniforms(uniforms, self.pair_capacity))
        emit_shader.run_indirect(frame.counters, DISPATCH_PER_VISIBLE * 4)
        self.ctx.memory_barrier()

    def sort_pairs(self, frame: FrameBuffers, camera: Camera) -> None:
        """Stable sort of the pairs by tile id (then `find_ranges`)."""
        tiles_x, tiles_y = tile_grid(camera.width, camera.height)
        key_bits = max(1, (tiles_x * tiles_y - 1).bit_length())
        self.sort.sort(
            self.pair_tiles, self.pair_splats, frame.counters, COUNTER_PAIRS * 4, key_bits=key_bits
        )

    def find_ranges(self, frame: FrameBuffers, camera: Camera) -> None:
        """Find each tile's [start, end) in the tile-sorted pairs."""
        tiles_x, tiles_y = tile_grid(camera.width, camera.height)
        size = tiles_x * tiles_y * 8
        if not size <= self.ranges.size < 4 * size:  # a view once huge does not keep its memory
            self.ranges.release()
            self.ranges = self.ctx.buffer(reserve=size)
        self.ranges.clear()
        frame.counters.bind_to_storage_buffer(BINDING_COUNTERS)
        self.pair_tiles.bind_to_storage_buffer(BINDING_PAIR_TILES)
        self.ranges.bind_to_storage_buffer(BINDING_TILE_RANGES)
        self.ranges_shader.run_indirect(frame.counters, DISPATCH_PER_PAIR * 4)
        self.ctx.memory_barrier()

    def run(
        self,
        frame: FrameBuffers,
        camera: Camera,
        target: AccumTarget,
        scene: GpuScene | None = None,
        fovea: FoveaUniforms | None = None,
    ) -> None:
        """Composite every tile of the binned frame into `target`.

        With `fovea` (the one `bin` had) each splat weighs its stored levels' weight at each
        pixel's level.
        """
        grid = tile_grid(camera.width, camera.height)
        shader = self._raster_shader()
        subsets = None
        if fovea is not None:
            assert scene is not None and scene.subsets is not None
            shader = self._fovea_shader("tiles_raster.comp")
            subsets = SubsetUniforms(fovea, scene.subsets.rows)
            scene.subsets.bind()
        frame.bind()
        self.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        self.ranges.bind_to_storage_buffer(BINDING_TILE_RANGES)
        target.texture.bind_to_image(0, read=False, write=True)
        viewport = (float(camera.width), float(camera.height))
        set_uniforms(shader, TileUniforms(viewport, grid, subsets))
        shader.run(*grid)
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free GL objects (and the pair sort)."""
        buffers = (self.tile_counts, self.pair_tiles, self.pair_splats, self.ranges)
        for buffer in (*buffers, self.tile_levels):
            buffer.release()
        shaders = (self.count_shader, self.emit_shader, self.ranges_shader)
        for shader in (*shaders, *self._fovea_shaders.values(), *self._plain_shaders.values()):
            shader.release()
        self.prefix_sum.release()
        self.sort.release()
