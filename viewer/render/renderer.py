"""The splatting renderer: a frame is a short, straight list of passes.

    preprocess -> sort -> [bin] -> raster -> resolve

The raster step is the chosen backend (quads or tiles) in the colour, depth and heatmap modes,
and the points, outlines or overdraw pass in those modes. `measure` runs the contributions pass
on a view instead (picking, pivots, pruning scores).

The scene (`GpuScene`) and the per-frame inputs (`FrameInputs`: camera, flag mask, gaze) are
passed to every call; the renderer holds only its passes and their scratch buffers, which grow to
what the scene and the frame need. Per-Gaussian data never leaves the GPU (except with the CPU
sort, which reads the depth keys). Features change the image only through per-Gaussian flags
(`GpuScene.write_flags`, GPU passes' `gpu_flags`) and the settings dataclasses.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import moderngl
import numpy as np

from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo
from viewer.render.contributions import Contributions, ContributionsPass
from viewer.render.dispatch_args import DispatchArgsPass
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GROWTH, GpuScene
from viewer.render.layout import (
    COUNTER_PAIRS,
    COUNTER_PAIRS_OVERFLOW,
    COUNTER_VISIBLE,
    COUNTER_VISIBLE_OVERFLOW,
    COUNTER_WORDS,
)
from viewer.render.preprocess import PreprocessPass
from viewer.render.raster_quads import QuadsRaster
from viewer.render.raster_tiles import INITIAL_PAIRS_PER_SPLAT, TilesRaster
from viewer.render.resolve import ResolvePass
from viewer.render.sort import KeyValueSort, choose_sort, make_sort
from viewer.render.timers import PassTimer, choose_clock
from viewer.render.validation import validate_frame
from viewer.settings import RasterSettings, RenderSettings
from viewer.stats import FrameStats

QUAD_MODES = ("points", "outlines")  # modes drawn by their own quad pass, whatever the backend
MAX_BIN_ATTEMPTS = 3  # binning again into grown pair buffers after an overflow


def _untimed(name: str) -> AbstractContextManager[None]:
    return nullcontext()


def choose_backend(kind: str, device: DeviceInfo) -> str:
    """'auto' -> tiles on compute-first data-centre GPUs, quads elsewhere."""
    if kind == "auto":
        return "tiles" if device.is_datacenter_gpu else "quads"
    if kind not in ("quads", "tiles"):
        raise ValueError(f"unknown raster backend {kind!r}; use auto, quads or tiles")
    return kind


class SplatRenderer:
    """Draws `GpuScene`s with the chosen sort and raster backends; one per GL context."""

    def __init__(
        self,
        ctx: moderngl.Context,
        raster: RasterSettings = RasterSettings(),
        clock: str = "auto",
    ) -> None:
        self.ctx = ctx
        self.device = DeviceInfo.of(ctx)
        self.raster_settings = raster
        self.timer = PassTimer(ctx, choose_clock(clock, self.device.is_software))
        self.preprocess = PreprocessPass(ctx)
        self.dispatch_args = DispatchArgsPass(ctx)
        self.quads = QuadsRaster(ctx)
        self.mode_rasters = {
            "points": QuadsRaster(ctx, "points", "points.vert", "points.frag"),
            "outlines": QuadsRaster(ctx, "outlines", "splat.vert", "outlines.frag"),
        }
        self.contributions = ContributionsPass(ctx)
        self.resolve = ResolvePass(ctx)
        self.accum = AccumTarget(ctx)
        self.image = AccumTarget(ctx)  # what `render_image` renders into and reads back
        self.frame = FrameBuffers(ctx, 1, self.device.max_ssbo_bytes)
        self._sort_kind = choose_sort(raster.sort, self.device)
        self.depth_sort: KeyValueSort = make_sort(ctx, self._sort_kind, 1)
        self._tiles: TilesRaster | None = None  # made on first use
        # counters copies awaiting their timer queries, with the scene's count at that frame
        self._readback: list[tuple[moderngl.Buffer, int]] = []
        self._readback_free: list[moderngl.Buffer] = []

    # -- configuration -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The raster backend in use: 'quads' or 'tiles'."""
        return choose_backend(self.raster_settings.backend, self.device)

    @property
    def sort_kind(self) -> str:
        """The sort in use: 'gpu' or 'cpu'."""
        return self._sort_kind

    def set_raster(self, raster: RasterSettings) -> None:
        """Switch raster backend / sort (GL objects are made on first use)."""
        self.raster_settings = raster
        kind = choose_sort(raster.sort, self.device)
        if kind != self._sort_kind:
            self._sort_kind = kind
            self.depth_sort.release()
            self.depth_sort = make_sort(self.ctx, kind, self.frame.capacity)
            if self._tiles is not None:
                self._tiles.release()
                self._tiles = None

    @property
    def tiles(self) -> TilesRaster:
        """The tiles backend's binning (made on first use: the contributions pass needs it too)."""
        if self._tiles is None:
            capacity = self.frame.capacity
            self._tiles = TilesRaster(self.ctx, make_sort(self.ctx, self._sort_kind, capacity))
            self._grow_tiles(capacity * INITIAL_PAIRS_PER_SPLAT)
        return self._tiles

    def _fit(self, scene: GpuScene) -> None:
        """Grow the per-frame buffers to hold every Gaussian of `scene` as a visible splat."""
        if scene.count <= self.frame.capacity:
            return
        capacity = max(scene.count, int(self.frame.capacity * GROWTH))
        self.frame.release()
        self.frame = FrameBuffers(self.ctx, capacity, self.device.max_ssbo_bytes)
        self.depth_sort.ensure_capacity(self.frame.capacity)
        if self._tiles is not None:
            self._grow_tiles(self.frame.capacity * INITIAL_PAIRS_PER_SPLAT)

    def _grow_tiles(self, pairs: int) -> None:
        limit = self.device.max_ssbo_bytes // 4
        self.tiles.ensure_capacity(self.frame.capacity, min(max(pairs, 1024), limit))

    @property
    def gpu_bytes(self) -> int:
        """GPU memory held by the frame and backend buffers (not the scene's)."""
        parts = [self.accum.nbytes, self.image.nbytes, self.contributions.nbytes, self.frame.nbytes]
        if self._tiles is not None:
            parts.append(self._tiles.nbytes)
        return sum(parts)

    # -- the frame -----------------------------------------------------------------------------

    def render(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        output: moderngl.Framebuffer,
    ) -> FrameStats | None:
        """Render one frame of `scene` into `output` (a framebuffer of the camera's size).

        Returns the stats of the newest frame whose GPU numbers are in (a few frames late with GL
        timer queries, this frame with finish+wall), or None while none is.
        """
        start = time.perf_counter()
        camera = inputs.camera
        self.accum.ensure_size(camera.width, camera.height)
        mode = settings.mode
        binned = mode == "overdraw" or (self.backend == "tiles" and mode not in QUAD_MODES)
        timer = self.timer
        timer.begin_frame()
        self._splats_in_view(scene, inputs, settings, binned, timer.section)
        with timer.section("raster"):
            if mode == "overdraw":
                self.contributions.run(self.frame, self.tiles, camera)
                self.contributions.colour_overdraw(camera, self.accum)
            elif mode in QUAD_MODES:
                self.mode_rasters[mode].run(self.frame, camera, self.accum, settings)
            elif self.backend == "tiles":
                self.tiles.run(self.frame, camera, self.accum, settings)
            else:
                self.quads.run(self.frame, camera, self.accum, settings)
        with timer.section("resolve"):
            self.resolve.run(self.accum, output, settings.background)
        if self.raster_settings.validate:
            validate_frame(self.frame, self.tiles if binned else None, scene.count)
        self._queue_counters(scene.count)
        return self._collect((time.perf_counter() - start) * 1e3, binned)

    def _splats_in_view(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        binned: bool,
        section: Callable[[str], AbstractContextManager[None]],
    ) -> None:
        """Preprocess and depth-sort the visible splats; with `binned`, also bin them in tiles.

        Binning checks the pair count (a read of the counters) and bins again into grown pair
        buffers when they overflowed: the one growth mechanism of every binned frame.
        """
        self._fit(scene)
        self.frame.reset()
        camera = inputs.camera
        with section("preprocess"):
            self.preprocess.run(scene, self.frame, camera, settings, inputs.flag_mask)
            self._dispatch_args()
        with section("sort"):
            self.depth_sort.sort(
                self.frame.depth_keys, self.frame.sorted_splats, self.frame.counters,
                COUNTER_VISIBLE * 4,
            )  # fmt: skip
        if not binned:
            return
        with section("bin"):
            for _attempt in range(MAX_BIN_ATTEMPTS):
                self.tiles.bin(self.frame, camera)
                self._dispatch_args()
                counters = self.frame.read_counters()
                if counters[COUNTER_PAIRS_OVERFLOW] == 0:
                    break
                needed = int(counters[COUNTER_PAIRS]) + int(counters[COUNTER_PAIRS_OVERFLOW])
                self._grow_tiles(needed + needed // 4)
            self.tiles.sort_pairs(self.frame, camera)
            self.tiles.find_ranges(self.frame, camera)

    def measure(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        *,
        weights: bool = False,
        pixel: tuple[int, int] | None = None,
    ) -> Contributions:
        """Run the contributions pass on one view instead of drawing it (waits for the GPU).

        Args:
            scene: the scene measured.
            inputs: the view and its per-frame inputs (camera, flag mask, ...).
            settings: the render settings the view is drawn with.
            weights: also sum each Gaussian's alpha*T over the image and count its tiles.
            pixel: (x, y) measure only the tile holding this pixel (for picking).
        """
        self._splats_in_view(scene, inputs, settings, True, _untimed)
        gaussians = scene.count if weights else 0
        camera = inputs.camera
        self.contributions.run(self.frame, self.tiles, camera, gaussians, pixel)
        result = self.contributions.read(camera, gaussians)
        if weights:
            result = dataclasses.replace(result, tiles=self._tiles_of_gaussians(scene.count))
        return result

    def _tiles_of_gaussians(self, count: int) -> np.ndarray:
        """[N] uint32 tiles each Gaussian's splat touched in the frame just binned (0: culled)."""
        counters = self.frame.read_counters()
        visible, pairs = int(counters[COUNTER_VISIBLE]), int(counters[COUNTER_PAIRS])
        offsets = self.frame.read_uint(self.tiles.tile_counts, visible)  # exclusive scan
        splat_from_sorted = self.frame.read_uint(self.frame.sorted_splats, visible)
        gaussian_from_splat = self.frame.read_uint(self.frame.gaussian_ids, visible)
        tiles = np.zeros(count, np.uint32)
        tiles[gaussian_from_splat[splat_from_sorted]] = np.diff(offsets, append=pairs)
        return tiles

    def render_image(
        self, scene: GpuScene, inputs: FrameInputs, settings: RenderSettings
    ) -> np.ndarray:
        """Render offscreen and read back: [H, W, 3] float32, row 0 at the top."""
        camera = inputs.camera
        self.image.ensure_size(camera.width, camera.height)
        self.render(scene, inputs, settings, self.image.framebuffer)
        return self.image.read_rgb()

    # -- internals -----------------------------------------------------------------------------

    def _dispatch_args(self) -> None:
        pairs = self._tiles.pair_capacity if self._tiles is not None else 0
        self.dispatch_args.run(self.frame.counters, self.frame.capacity, pairs)

    def _queue_counters(self, count: int) -> None:
        """Copy this frame's counters aside, to be read when its timer queries are."""
        if self._readback_free:
            buffer = self._readback_free.pop()
        else:
            buffer = self.ctx.buffer(reserve=COUNTER_WORDS * 4)
        self.ctx.copy_buffer(buffer, self.frame.counters)
        self._readback.append((buffer, count))

    def _collect(self, frame_ms: float, binned: bool) -> FrameStats | None:
        timed = self.timer.end_frame()
        if timed is None:
            return None
        index, pass_ms = timed
        buffer, count = self._readback.pop(0)
        counters = np.frombuffer(buffer.read(), dtype=np.uint32)
        self._readback_free.append(buffer)
        return FrameStats(
            frame=index,
            clock=self.timer.clock,
            pass_ms=pass_ms,
            cpu_ms=dict(self.timer.cpu_ms),
            frame_ms=frame_ms,
            total=count,
            visible=int(counters[COUNTER_VISIBLE]),
            pairs=int(counters[COUNTER_PAIRS]) if binned else 0,
            dropped=int(counters[COUNTER_VISIBLE_OVERFLOW] + counters[COUNTER_PAIRS_OVERFLOW]),
        )

    def release(self) -> None:
        """Free every GL object."""
        self.depth_sort.release()
        if self._tiles is not None:
            self._tiles.release()
        self.frame.release()
        self.quads.release()
        for raster in self.mode_rasters.values():
            raster.release()
        self.contributions.release()
        self.resolve.release()
        self.accum.release()
        self.image.release()
        for buffer in self._readback_free + [b for b, _ in self._readback]:
            buffer.release()
