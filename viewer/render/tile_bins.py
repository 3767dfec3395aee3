"""Tile binning on the GPU: the (tile, splat) pairs of a frame's depth-sorted splats.

Steps: count the 16x16 tiles each depth-sorted splat touches (tiles_count.comp), prefix-sum the
counts (PrefixSum), emit (tile, splat) pairs in depth order (tiles_emit.comp), stable-sort the
pairs by tile (the depth order survives inside each tile), find each tile's range of pairs
(tiles_ranges.comp). Dispatch sizes come from the GPU counters. The tiles backend composites
from the bins; the contributions pass (measure, the overdraw mode) walks them too.

Foveated frames drawing nested subsets (`subsets` given to `bin`) first find each tile's lowest
level (fov_tiles.comp) and bin a splat only into the tiles whose level its subset reaches (the
FOVEA variants, compiled on first use).
"""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.dispatch_args import DispatchArgsPass
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
    COUNTER_PAIRS_OVERFLOW,
    COUNTER_VISIBLE,
    DISPATCH_PER_PAIR,
    DISPATCH_PER_VISIBLE,
    TILE_SIZE,
    WORKGROUP_SIZE,
)
from viewer.render.prefix_sum import PrefixSum
from viewer.render.programs import compute_shader, set_uniforms
from viewer.render.sort import KeyValueSort

INITIAL_PAIRS_PER_SPLAT = 4
MIN_PAIRS = 1024
MAX_BIN_ATTEMPTS = 3  # binning again into grown pair buffers after an overflow


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

    @classmethod
    def of(cls, camera: Camera, subsets: SubsetUniforms | None = None) -> TileUniforms:
        """The uniforms of `camera`'s image."""
        viewport = (float(camera.width), float(camera.height))
        return cls(viewport, tile_grid(camera.width, camera.height), subsets)


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


class TileBins:
    """The pair, range and level buffers of one frame's binning, and the passes that fill them."""

    def __init__(
        self,
        ctx: moderngl.Context,
        sort: KeyValueSort,
        dispatch_args: DispatchArgsPass,
        max_pairs: int,
    ) -> None:
        """Bins whose pair sort is `sort` (owned: released with the bins).

        Args:
            ctx: the GL context.
            sort: the stable key-value sort of the pairs by tile.
            dispatch_args: the renderer's pass that turns the counters into dispatch sizes.
            max_pairs: the most pairs one buffer holds (the device's largest SSBO block / 4).
        """
        self.ctx = ctx
        self.sort = sort
        self.dispatch_args = dispatch_args
        self.max_pairs = max_pairs
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
        self.prefix_sum.ensure_capacity(1)
        self._largest_view = 0  # pixels of the largest view binned since the pairs last shrank

    def fit(self, splat_capacity: int) -> None:
        """Room for `splat_capacity` visible splats and INITIAL_PAIRS_PER_SPLAT pairs each."""
        self._grow(splat_capacity, splat_capacity * INITIAL_PAIRS_PER_SPLAT)

    def _grow(self, splat_capacity: int, pairs: int) -> None:
        """Room for `splat_capacity` splats and `pairs` pairs (at least MIN_PAIRS, at most max)."""
        self.ensure_capacity(splat_capacity, min(max(pairs, MIN_PAIRS), self.max_pairs))

    def ensure_capacity(self, splat_capacity: int, pair_capacity: int) -> None:
        """Room for `splat_capacity` visible splats and `pair_capacity` pairs."""
        if splat_capacity > self._splat_capacity:
            self.tile_counts.release()
            self.tile_counts = self.ctx.buffer(reserve=splat_capacity * 4)
            self.prefix_sum.ensure_capacity(splat_capacity)
            self._splat_capacity = splat_capacity
        if pair_capacity > self.pair_capacity:
            self._pairs(pair_capacity)
            self.sort.ensure_capacity(pair_capacity)

    def _pairs(self, capacity: int) -> None:
        """New pair buffers of `capacity` pairs (the old ones freed)."""
        self.pair_tiles.release()
        self.pair_splats.release()
        self.pair_tiles = self.ctx.buffer(reserve=capacity * 4)
        self.pair_splats = self.ctx.buffer(reserve=capacity * 4)
        self.pair_capacity = capacity

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
            self._pairs(pairs)
            self.sort.trim(pairs)
        if self.ranges.size > 8:
            self.ranges.release()
            self.ranges = self.ctx.buffer(reserve=8)
        self._largest_view = area

    @property
    def nbytes(self) -> int:
        """GPU memory held by the bins' own buffers (and their pair sort's)."""
        buffers = (
            self.tile_counts,
            self.pair_tiles,
            self.pair_splats,
            self.ranges,
            self.tile_levels,
        )
        return sum(b.size for b in buffers) + self.sort.nbytes

    def fovea_shader(self, name: str) -> moderngl.ComputeShader:
        """The FOVEA variant of shaders/<name> (fov_tiles.comp is one already)."""
        if name not in self._fovea_shaders:
            self._fovea_shaders[name] = compute_shader(self.ctx, name, {"FOVEA": 1})
        return self._fovea_shaders[name]

    def bin(
        self,
        frame: FrameBuffers,
        camera: Camera,
        scene: GpuScene,
        subsets: FoveaUniforms | None = None,
    ) -> None:
        """Bin the frame's sorted splats: pairs by tile in depth order, and each tile's range.

        The pair count is read back once (a sync point); when the pairs overflowed their
        buffers, they grow to 1.25x what was needed and the frame is binned again (at most
        MAX_BIN_ATTEMPTS times): the one growth path of every binned frame.

        Args:
            frame: the frame's buffers after the depth sort.
            camera: the image binned.
            scene: the scene drawn.
            subsets: bin a splat only into the tiles whose lowest level the scene's stored
                levels for it reach (`FrameView.subsets`), else into every tile it touches.
        """
        for _attempt in range(MAX_BIN_ATTEMPTS):
            self._emit(frame, camera, scene, subsets)
            self.dispatch_args.run(frame.counters, frame.capacity, self.pair_capacity)
            counters = frame.read_counters()
            if counters[COUNTER_PAIRS_OVERFLOW] == 0:
                break
            needed = int(counters[COUNTER_PAIRS]) + int(counters[COUNTER_PAIRS_OVERFLOW])
            self._grow(frame.capacity, needed + needed // 4)
        self._sort_pairs(frame, camera)
        self._find_ranges(frame, camera)

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
        shader = self.fovea_shader("fov_tiles.comp")
        set_uniforms(shader, FovTilesUniforms(subsets, (tiles_x, tiles_y), TILE_REACH))
        self.tile_levels.bind_to_storage_buffer(BINDING_FOV_TILES)
        shader.run(group_x=-(-tiles_x * tiles_y // WORKGROUP_SIZE))
        self.ctx.memory_barrier()
        scene.subsets.bind()
        return subsets

    def _emit(
        self, frame: FrameBuffers, camera: Camera, scene: GpuScene, fovea: FoveaUniforms | None
    ) -> None:
        """Count, scan and emit the (tile, splat) pairs; their count goes to the counters."""
        self._largest_view = max(self._largest_view, camera.width * camera.height)
        count_shader, emit_shader = self.count_shader, self.emit_shader
        subsets = None
        if fovea is not None:
            subsets = self._fovea_levels(scene, camera, fovea)
            count_shader = self.fovea_shader("tiles_count.comp")
            emit_shader = self.fovea_shader("tiles_emit.comp")
            self.tile_levels.bind_to_storage_buffer(BINDING_FOV_TILES)
        uniforms = TileUniforms.of(camera, subsets)
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

    def _sort_pairs(self, frame: FrameBuffers, camera: Camera) -> None:
        """Stable sort of the pairs by tile id (then `_find_ranges`)."""
        tiles_x, tiles_y = tile_grid(camera.width, camera.height)
        key_bits = max(1, (tiles_x * tiles_y - 1).bit_length())
        self.sort.sort(
            self.pair_tiles, self.pair_splats, frame.counters, COUNTER_PAIRS * 4, key_bits=key_bits
        )

    def _find_ranges(self, frame: FrameBuffers, camera: Camera) -> None:
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

    def tiles_of_gaussians(self, frame: FrameBuffers, count: int) -> np.ndarray:
        """[count] uint32 tiles each Gaussian's splat touched in the frame binned (0: culled)."""
        counters = frame.read_counters()
        visible, pairs = int(counters[COUNTER_VISIBLE]), int(counters[COUNTER_PAIRS])
        offsets = frame.read_uint(self.tile_counts, visible)  # exclusive scan
        splat_from_sorted = frame.read_uint(frame.sorted_splats, visible)
        gaussian_from_splat = frame.read_uint(frame.gaussian_ids, visible)
        tiles = np.zeros(count, np.uint32)
        tiles[gaussian_from_splat[splat_from_sorted]] = np.diff(offsets, append=pairs)
        return tiles

    def release(self) -> None:
        """Free GL objects (and the pair sort)."""
        buffers = (self.tile_counts, self.pair_tiles, self.pair_splats, self.ranges)
        for buffer in (*buffers, self.tile_levels):
            buffer.release()
        shaders = (self.count_shader, self.emit_shader, self.ranges_shader)
        for shader in (*shaders, *self._fovea_shaders.values()):
            shader.release()
        self.prefix_sum.release()
        self.sort.release()
