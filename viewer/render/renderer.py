"""The splatting renderer: a frame is a short, straight list of passes.

    preprocess -> sort -> [bin] -> raster -> resolve

The raster step is the chosen backend (quads or tiles) in the colour, depth and heatmap modes,
and the points, outlines or overdraw pass in those modes. `measure` runs the contributions pass
on a view instead (picking, pivots, pruning scores).

Per-Gaussian data never leaves the GPU (except with the CPU sort, which reads the depth keys).
Features change the image only through per-Gaussian flags (`scene_buffers.write_flags`) and the
settings dataclasses.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo
from viewer.render.contributions import Contributions, ContributionsPass
from viewer.render.dispatch_args import DispatchArgsPass
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.layout import (
    ALL_FLAGS,
    COUNTER_PAIRS,
    COUNTER_PAIRS_OVERFLOW,
    COUNTER_VISIBLE,
    COUNTER_VISIBLE_OVERFLOW,
    COUNTER_WORDS,
    WORKGROUP_SIZE,
)
from viewer.render.preprocess import PreprocessPass
from viewer.render.raster_quads import QuadsRaster
from viewer.render.raster_tiles import INITIAL_PAIRS_PER_SPLAT, TilesRaster
from viewer.render.resolve import ResolvePass
from viewer.render.scene_buffers import SceneBuffers
from viewer.render.sort import make_sort
from viewer.render.timers import PassTimer, choose_clock
from viewer.render.validation import validate_frame
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings
from viewer.stats import FrameStats

QUAD_MODES = ("points", "outlines")  # modes drawn by their own quad pass, whatever the backend


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
    """Renders a GaussianScene held in GPU buffers with the chosen sort and raster backends."""

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
        self.scene: SceneBuffers | None = None
        self.frame: FrameBuffers | None = None
        self.scene_sh_degree = 0
        self.flag_mask = ALL_FLAGS
        self._sort_kind = ""
        self.depth_sort = None
        self.tiles: TilesRaster | None = None
        self._readback: list[moderngl.Buffer] = []  # counters copies awaiting their timer queries
        self._readback_free: list[moderngl.Buffer] = []
        self.set_raster(raster)

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
        from viewer.render.sort import choose_sort

        self.raster_settings = raster
        kind = choose_sort(raster.sort, self.device)
        if kind != self._sort_kind:
            self._release_sorts()
            self._sort_kind = kind
        capacity = self.frame.capacity if self.frame else 1
        if self.depth_sort is None:
            self.depth_sort = make_sort(self.ctx, kind, capacity)
        if self.backend == "tiles":
            self._ensure_tiles()

    def _ensure_tiles(self) -> TilesRaster:
        """The tiles backend's binning (made on first use: the contributions pass needs it too)."""
        if self.tiles is None:
            capacity = self.frame.capacity if self.frame else 1
            self.tiles = TilesRaster(self.ctx, make_sort(self.ctx, self._sort_kind, capacity))
            if self.frame is not None:
                self._grow_tiles(self.frame.capacity * INITIAL_PAIRS_PER_SPLAT)
        return self.tiles

    def set_scene(self, scene: GaussianScene) -> None:
        """Upload a scene (replacing any previous one) and size the frame buffers for it."""
        self.release_scene()
        self.scene = SceneBuffers.from_scene(
            self.ctx,
            scene,
            self.device.max_ssbo_bytes,
            self.device.max_workgroups_x * WORKGROUP_SIZE,
        )
        self.scene_sh_degree = scene.sh_degree
        self.frame = FrameBuffers(self.ctx, scene.count, self.device.max_ssbo_bytes)
        self.depth_sort.ensure_capacity(self.frame.capacity)
        if self.tiles is not None:
            self._grow_tiles(self.frame.capacity * INITIAL_PAIRS_PER_SPLAT)

    def _grow_tiles(self, pairs: int) -> None:
        limit = self.device.max_ssbo_bytes // 4
        self.tiles.ensure_capacity(self.frame.capacity, min(max(pairs, 1024), limit))

    @property
    def gpu_bytes(self) -> int:
        """GPU memory held by scene, frame and backend buffers."""
        parts = [self.accum.nbytes, self.image.nbytes, self.contributions.nbytes]
        if self.scene is not None:
            parts += [self.scene.nbytes, self.frame.nbytes]
        if self.tiles is not None:
            parts.append(self.tiles.nbytes)
        return sum(parts)

    # -- the frame -----------------------------------------------------------------------------

    def render(
        self, camera: Camera, settings: RenderSettings, output: moderngl.Framebuffer
    ) -> FrameStats | None:
        """Render one frame into `output` (a framebuffer of the camera's size).

        Returns the stats of the newest frame whose GPU numbers are in (a few frames late with GL
        timer queries, this frame with finish+wall), or None while none is.
        """
        if self.scene is None:
            raise RuntimeError("no scene: call set_scene first")
        start = time.perf_counter()
        self.accum.ensure_size(camera.width, camera.height)
        mode = settings.mode
        binned = mode == "overdraw" or (self.backend == "tiles" and mode not in QUAD_MODES)
        timer = self.timer
        timer.begin_frame()
        self._splats_in_view(camera, settings, binned, timer.section)
        with timer.section("raster"):
            if mode == "overdraw":
                self.contributions.run(self.frame, self.tiles, camera)
                self.contributions.colour_overdraw(camera, self.accum)
            elif mode in QUAD_MODES:
                self.mode_rasters[mode].run(self.frame, camera, self.accum, settings)
            else:
                backend = self.tiles if self.backend == "tiles" else self.quads
                backend.run(self.frame, camera, self.accum, settings)
        with timer.section("resolve"):
            self.resolve.run(self.accum, output, settings.background)
        if self.raster_settings.validate:
            validate_frame(self, camera, binned)
        self._queue_counters()
        return self._collect((time.perf_counter() - start) * 1e3, binned)

    def _splats_in_view(
        self,
        camera: Camera,
        settings: RenderSettings,
        binned: bool,
        section: Callable[[str], AbstractContextManager[None]],
    ) -> None:
        """Preprocess and depth-sort the visible splats; with `binned`, also bin them in tiles."""
        self.frame.reset()
        with section("preprocess"):
            self.preprocess.run(
                self.scene, self.frame, camera, settings, self.flag_mask, self.scene_sh_degree
            )
            self._dispatch_args()
        with section("sort"):
            self.depth_sort.sort(
                self.frame.depth_keys, self.frame.sorted_splats, self.frame.counters,
                COUNTER_VISIBLE * 4,
            )  # fmt: skip
        if binned:
            tiles = self._ensure_tiles()
            with section("bin"):
                tiles.bin(self.frame, camera)
                self._dispatch_args()
                tiles.sort_pairs(self.frame, camera)
                tiles.find_ranges(self.frame, camera)

    def measure(
        self,
        camera: Camera,
        settings: RenderSettings,
        *,
        weights: bool = False,
        pixel: tuple[int, int] | None = None,
    ) -> Contributions:
        """Run the contributions pass on one view instead of drawing it (waits for the GPU).

        Args:
            weights: also sum each Gaussian's alpha*T over the image and count its tiles.
            pixel: (x, y) measure only the tile holding this pixel (for picking).
        """
        if self.scene is None:
            raise RuntimeError("no scene: call set_scene first")
        for _attempt in range(3):  # the pair buffers grow on overflow
            self._splats_in_view(camera, settings, True, _untimed)
            counters = self.frame.read_counters()
            if counters[COUNTER_PAIRS_OVERFLOW] == 0:
                break
            self._grow_tiles_for(counters)
        gaussians = self.scene.count if weights else 0
        self.contributions.run(self.frame, self.tiles, camera, gaussians, pixel)
        result = self.contributions.read(camera, gaussians)
        if weights:
            result = dataclasses.replace(result, tiles=self._tiles_of_gaussians(counters))
        return result

    def _tiles_of_gaussians(self, counters: np.ndarray) -> np.ndarray:
        """[N] uint32 tiles each Gaussian's splat touched in the frame just binned (0: culled)."""
        visible, pairs = int(counters[COUNTER_VISIBLE]), int(counters[COUNTER_PAIRS])
        offsets = self.frame.read_uint(self.tiles.tile_counts, visible)  # exclusive scan
        splat_from_sorted = self.frame.read_uint(self.frame.sorted_splats, visible)
        gaussian_from_splat = self.frame.read_uint(self.frame.gaussian_ids, visible)
        tiles = np.zeros(self.scene.count, np.uint32)
        tiles[gaussian_from_splat[splat_from_sorted]] = np.diff(offsets, append=pairs)
        return tiles

    def render_image(self, camera: Camera, settings: RenderSettings) -> np.ndarray:
        """Render offscreen and read back: [H, W, 3] float32 linear RGB, row 0 at the top."""
        self.image.ensure_size(camera.width, camera.height)
        for _attempt in range(3):  # the tiles backend grows its pair buffers on overflow
            self.render(camera, settings, self.image.framebuffer)
            counters = self.frame.read_counters()
            if counters[COUNTER_PAIRS_OVERFLOW] == 0:
                break
            self._grow_tiles_for(counters)
        image = np.frombuffer(self.image.texture.read(), dtype=np.float32)
        image = image.reshape(camera.height, camera.width, 4)[::-1, :, :3]
        return np.ascontiguousarray(image)

    # -- internals -----------------------------------------------------------------------------

    def _grow_tiles_for(self, counters: np.ndarray) -> None:
        """Grow the pair buffers past what a frame with these counters needed."""
        if self.tiles is not None:
            needed = int(counters[COUNTER_PAIRS]) + int(counters[COUNTER_PAIRS_OVERFLOW])
            self._grow_tiles(needed + needed // 4)

    def _dispatch_args(self) -> None:
        pairs = self.tiles.pair_capacity if self.tiles is not None else 0
        self.dispatch_args.run(self.frame.counters, self.frame.capacity, pairs)

    def _queue_counters(self) -> None:
        """Copy this frame's counters aside, to be read when its timer queries are."""
        if self._readback_free:
            buffer = self._readback_free.pop()
        else:
            buffer = self.ctx.buffer(reserve=COUNTER_WORDS * 4)
        self.ctx.copy_buffer(buffer, self.frame.counters)
        self._readback.append(buffer)

    def _collect(self, frame_ms: float, binned: bool) -> FrameStats | None:
        timed = self.timer.end_frame()
        if timed is None:
            return None
        index, pass_ms = timed
        buffer = self._readback.pop(0)
        counters = np.frombuffer(buffer.read(), dtype=np.uint32)
        self._readback_free.append(buffer)
        if counters[COUNTER_PAIRS_OVERFLOW]:
            self._grow_tiles_for(counters)
        return FrameStats(
            frame=index,
            clock=self.timer.clock,
            pass_ms=pass_ms,
            cpu_ms=dict(self.timer.cpu_ms),
            frame_ms=frame_ms,
            total=self.scene.count,
            visible=int(counters[COUNTER_VISIBLE]),
            pairs=int(counters[COUNTER_PAIRS]) if binned else 0,
            dropped=int(counters[COUNTER_VISIBLE_OVERFLOW] + counters[COUNTER_PAIRS_OVERFLOW]),
        )

    def _release_sorts(self) -> None:
        for sort in (self.depth_sort, self.tiles.sort if self.tiles else None):
            if sort is not None:
                sort.release()
        if self.tiles is not None:
            self.tiles.release()
        self.depth_sort = None
        self.tiles = None

    def release_scene(self) -> None:
        """Free the scene's GPU memory."""
        for obj in (self.scene, self.frame):
            if obj is not None:
                obj.release()
        self.scene = self.frame = None

    def release(self) -> None:
        """Free every GL object."""
        self.release_scene()
        self._release_sorts()
        self.quads.release()
        for raster in self.mode_rasters.values():
            raster.release()
        self.contributions.release()
        self.resolve.release()
        self.accum.release()
        self.image.release()
        for buffer in self._readback + self._readback_free:
            buffer.release()
