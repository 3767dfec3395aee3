"""Tiles raster backend: 16x16 compute tiles, front to back with early termination.

Steps: count the tiles each depth-sorted splat touches (tiles_count.comp), prefix-sum the counts
(PrefixSum), emit (tile, splat) pairs in depth order (tiles_emit.comp), stable-sort the pairs by
tile (the depth order survives inside each tile), find each tile's range (tiles_ranges.comp) and
composite (tiles_raster.comp). Dispatch sizes come from the GPU counters.
"""

from __future__ import annotations

import moderngl

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.layout import (
    BINDING_COUNTERS,
    BINDING_PAIR_SPLATS,
    BINDING_PAIR_TILES,
    BINDING_TILE_COUNTS,
    BINDING_TILE_RANGES,
    COUNTER_PAIRS,
    DISPATCH_PER_PAIR,
    DISPATCH_PER_VISIBLE,
    TILE_SIZE,
)
from viewer.render.prefix_sum import PrefixSum
from viewer.render.programs import compute_shader, set_uniforms
from viewer.render.sort import KeyValueSort
from viewer.settings import RenderSettings

INITIAL_PAIRS_PER_SPLAT = 4


def tile_grid(width: int, height: int) -> tuple[int, int]:
    """Tiles along x and y covering a width x height image."""
    return -(-width // TILE_SIZE), -(-height // TILE_SIZE)


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
        self.raster_shader = compute_shader(ctx, "tiles_raster.comp")
        self.prefix_sum = PrefixSum(ctx)
        self.pair_capacity = 1
        self._splat_capacity = 1
        self.tile_counts = ctx.buffer(reserve=4)  # [capacity] uint32, then pair offsets
        self.pair_tiles = ctx.buffer(reserve=4)  # [pair_capacity] uint32 tile_of_pair
        self.pair_splats = ctx.buffer(reserve=4)  # [pair_capacity] uint32 splat_of_pair
        self.ranges = ctx.buffer(reserve=8)  # [tiles] uvec2 pair_range_of_tile
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
        buffers = (self.tile_counts, self.pair_tiles, self.pair_splats, self.ranges)
        return sum(b.size for b in buffers) + self.sort.nbytes

    def bin(self, frame: FrameBuffers, camera: Camera) -> None:
        """Count, scan and emit the (tile, splat) pairs; their count goes to the counters."""
        self._largest_view = max(self._largest_view, camera.width * camera.height)
        grid = tile_grid(camera.width, camera.height)
        uniforms = {"viewport": (float(camera.width), float(camera.height)), "tile_grid": grid}
        frame.bind()
        self.tile_counts.bind_to_storage_buffer(BINDING_TILE_COUNTS)
        set_uniforms(self.count_shader, **uniforms)
        self.count_shader.run_indirect(frame.counters, DISPATCH_PER_VISIBLE * 4)
        self.ctx.memory_barrier()
        self.prefix_sum.run(self.tile_counts, frame.counters)
        frame.bind()
        self.tile_counts.bind_to_storage_buffer(BINDING_TILE_COUNTS)
        self.pair_tiles.bind_to_storage_buffer(BINDING_PAIR_TILES)
        self.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        set_uniforms(self.emit_shader, **uniforms, pair_capacity=self.pair_capacity)
        self.emit_shader.run_indirect(frame.counters, DISPATCH_PER_VISIBLE * 4)
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
        self, frame: FrameBuffers, camera: Camera, target: AccumTarget, settings: RenderSettings
    ) -> None:
        """Composite every tile of the binned frame into `target`."""
        grid = tile_grid(camera.width, camera.height)
        frame.bind()
        self.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        self.ranges.bind_to_storage_buffer(BINDING_TILE_RANGES)
        target.texture.bind_to_image(0, read=False, write=True)
        set_uniforms(
            self.raster_shader, viewport=(float(camera.width), float(camera.height)), tile_grid=grid
        )
        self.raster_shader.run(*grid)
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free GL objects (and the pair sort)."""
        for buffer in (self.tile_counts, self.pair_tiles, self.pair_splats, self.ranges):
            buffer.release()
        for shader in (self.count_shader, self.emit_shader, self.ranges_shader, self.raster_shader):
            shader.release()
        self.prefix_sum.release()
        self.sort.release()
