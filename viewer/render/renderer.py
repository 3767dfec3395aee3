"""The splatting renderer: a frame is a short, straight list of passes.

    [lod cut] -> preprocess -> sort -> [bin] -> raster -> resolve

The LOD cut runs when the frame has one (`FrameInputs.lod`) and the scene LOD nodes. The raster
step is the chosen backend (quads or tiles) in the colour, depth and heatmap modes,
and the points, outlines or overdraw pass in those modes. With foveated resolution
(`Fovea.periphery_scale` below 1) the list runs twice: the whole frame at a lower render scale,
then an inset around the fovea at the frame's own, blended over it (viewer/render/inset.py).
`measure` runs the contributions pass on a view instead (picking, pivots, pruning scores).

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
from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo
from viewer.render.contributions import Contributions, ContributionsPass
from viewer.render.dispatch_args import DispatchArgsPass
from viewer.render.fovea import FoveaUniforms, render_gaze
from viewer.render.fovea import uniforms as fovea_uniforms
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GROWTH, GpuScene
from viewer.render.inset import Inset, plan
from viewer.render.layout import (
    COUNTER_FOVEA_CULLED,
    COUNTER_PAIRS,
    COUNTER_PAIRS_OVERFLOW,
    COUNTER_VISIBLE,
    COUNTER_VISIBLE_OVERFLOW,
    COUNTER_WORDS,
    FLAG_LOD_CULLED,
    LOD_STATE_WORDS,
)
from viewer.render.lod_cut import LodCutPass, LodCutStats
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
QUAD_SHADERS = {  # vertex and fragment shader of each quad raster
    "quads": ("splat.vert", "splat.frag"),
    "points": ("points.vert", "points.frag"),
    "outlines": ("splat.vert", "outlines.frag"),
}
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
        self._quad_rasters: dict[str, QuadsRaster] = {}  # made on first use
        self.contributions = ContributionsPass(ctx)
        self.resolve = ResolvePass(ctx)
        self.accum = AccumTarget(ctx)
        self.inset_accum = AccumTarget(ctx)  # foveated resolution's inset
        self.image = AccumTarget(ctx)  # what `render_image` renders into and reads back
        self.frame = FrameBuffers(ctx, 1, self.device.max_ssbo_bytes)
        self._sort_kind = choose_sort(raster.sort, self.device)
        self.depth_sort: KeyValueSort = make_sort(ctx, self._sort_kind, 1)
        self._tiles: TilesRaster | None = None  # made on first use
        self._lod_cut: LodCutPass | None = None  # made on first use
        # counters (and LOD state) copies awaiting their timer queries, with the rows drawn,
        # whether an LOD cut ran and the render scale of that frame
        self._readback: list[tuple[moderngl.Buffer, int, bool, float]] = []
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

    @property
    def lod_cut(self) -> LodCutPass:
        """The level-of-detail cut pass (made on first use)."""
        if self._lod_cut is None:
            self._lod_cut = LodCutPass(self.ctx, shared_counts=not self.device.is_software)
        return self._lod_cut

    def _quads(self, name: str) -> QuadsRaster:
        """The quad raster of the quads backend or the points or outlines mode."""
        if name not in self._quad_rasters:
            shaders = QUAD_SHADERS[name]
            self._quad_rasters[name] = QuadsRaster(self.ctx, name, *shaders, name == "points")
        return self._quad_rasters[name]

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
        parts = [self.accum.nbytes, self.inset_accum.nbytes, self.image.nbytes, self.frame.nbytes]
        parts.append(self.contributions.nbytes)
        parts.append(self.depth_sort.nbytes)
        if self._tiles is not None:
            parts.append(self._tiles.nbytes)
        return sum(parts)

    def fit_view(self, width: int, height: int) -> None:
        """Free what was sized for views four or more times the area of width x height.

        The images, the contributions pass's pixels and the tile binning's pairs and ranges
        follow the view's size; after a huge window or screenshot they would otherwise keep
        their memory. What is freed is made again when a view needs it. The viewer calls this
        whenever its window changes size.
        """
        area = max(width * height, 1)
        for target in (self.accum, self.inset_accum, self.image):
            if target.size[0] * target.size[1] >= 4 * area:
                target.ensure_size(1, 1)
        self.contributions.fit_view(width, height)
        if self._tiles is not None:
            self._tiles.fit_view(width, height, self.frame.capacity * INITIAL_PAIRS_PER_SPLAT)

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
        periphery, inset = _plan_of(inputs)
        whole = dataclasses.replace(inputs, render_scale=inputs.render_scale * periphery)
        timer = self.timer
        timer.begin_frame()
        binned = self._draw(scene, whole, _view_of(whole), settings, self.accum, timer.section)
        with timer.section("resolve"):
            self.resolve.run(self.accum, output, settings.background)
        lod = _lod_of(scene, inputs)
        self._queue_counters(_rows_of(scene, lod), lod, inputs.render_scale)
        if inset is not None:  # the counters above are the whole frame's
            with timer.section("inset"):
                view = _view_of(inputs, inset)
                self._draw(scene, inputs, view, settings, self.inset_accum, _untimed)
                self.resolve.run(self.inset_accum, output, settings.background, inset)
        return self._collect((time.perf_counter() - start) * 1e3, binned)

    def _draw(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        view: _View,
        settings: RenderSettings,
        accum: AccumTarget,
        section: Callable[[str], AbstractContextManager[None]],
    ) -> bool:
        """Draw `view` of the frame into `accum` (sized to it); returns whether it was binned."""
        camera = view.camera
        accum.ensure_size(camera.width, camera.height)
        mode = settings.mode
        binned = mode == "overdraw" or (self.backend == "tiles" and mode not in QUAD_MODES)
        per_pixel = binned and mode != "overdraw"  # the tiles raster weighs foveation per pixel
        subsets = _draws_subsets(scene, inputs)
        self._splats_in_view(scene, inputs, view, settings, binned, section, subsets, per_pixel)
        with section("raster"):
            if mode == "overdraw":
                self.contributions.run(self.frame, self.tiles, camera)
                self.contributions.colour_overdraw(camera, accum)
            elif mode in QUAD_MODES:
                self._quads(mode).run(self.frame, camera, accum, settings)
            elif self.backend == "tiles":
                pixel_fovea = view.fovea if subsets and per_pixel else None
                self.tiles.run(self.frame, camera, accum, scene, pixel_fovea)
            else:
                self._quads("quads").run(self.frame, camera, accum, settings)
        if self.raster_settings.validate:
            validate_frame(self.frame, self.tiles if binned else None, scene.count)
        return binned

    def _splats_in_view(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        view: _View,
        settings: RenderSettings,
        binned: bool,
        section: Callable[[str], AbstractContextManager[None]],
        subsets: bool = False,
        per_pixel: bool = False,
    ) -> None:
        """Preprocess and depth-sort the splats visible in `view`; with `binned`, also bin them.

        Binning checks the pair count (a read of the counters) and bins again into grown pair
        buffers when they overflowed: the one growth mechanism of every binned frame.

        With `subsets` the scene's nested subsets are drawn (by the view's fovea uniforms):
        weighed per splat in preprocess, or, `per_pixel`, only dropped where they weigh 0 there
        and binned by tile level for the tiles raster to weigh per pixel.
        """
        self._fit(scene)
        self.frame.reset()
        camera = view.camera
        fovea = view.fovea if subsets else None
        lod = _lod_of(scene, inputs)
        mask = inputs.flag_mask
        if lod:
            with section("lod"):
                fov = inputs.fovea
                tau_scale = 1.0 if fov is None else fov.lod_tau_scale
                self.lod_cut.run(scene, camera, lod, view.fovea, tau_scale)
        elif scene.lod_nodes:  # a cut of an earlier frame must not hide the leaves
            mask &= ~FLAG_LOD_CULLED
        with section("preprocess"):
            rows = _rows_of(scene, lod)
            self.preprocess.run(
                scene, self.frame, camera, settings, mask, rows, lod is not None, fovea,
                view.whole, fov_per_splat=not per_pixel,
            )  # fmt: skip
            self._dispatch_args()
        with section("sort"):
            self.depth_sort.sort(
                self.frame.depth_keys, self.frame.sorted_splats, self.frame.counters,
                COUNTER_VISIBLE * 4,
            )  # fmt: skip
        if not binned:
            return
        with section("bin"):
            bin_fovea = fovea if per_pixel else None
            for _attempt in range(MAX_BIN_ATTEMPTS):
                self.tiles.bin(self.frame, camera, scene, bin_fovea)
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
            inputs: the view and its per-frame inputs (camera, flag mask, LOD cut, ...); it is
                measured at full resolution whatever the render scale.
            settings: the render settings the view is drawn with.
            weights: also sum each Gaussian's alpha*T over the image and count its tiles (one
                value per row drawn: the leaves, or every row with an LOD cut).
            pixel: (x, y) measure only the tile holding this pixel (for picking).
        """
        inputs = dataclasses.replace(inputs, render_scale=1.0)  # whole: no foveation either
        self._splats_in_view(scene, inputs, _view_of(inputs), settings, True, _untimed)
        gaussians = _rows_of(scene, _lod_of(scene, inputs)) if weights else 0
        camera = inputs.camera
        self.contributions.run(self.frame, self.tiles, camera, gaussians, pixel)
        result = self.contributions.read(camera, gaussians)
        if weights:
            result = dataclasses.replace(result, tiles=self._tiles_of_gaussians(gaussians))
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

    def _queue_counters(self, count: int, lod: LodCut | None, scale: float) -> None:
        """Copy this frame's counters (and LOD state) aside, to be read with its timer queries."""
        if self._readback_free:
            buffer = self._readback_free.pop()
        else:
            buffer = self.ctx.buffer(reserve=(COUNTER_WORDS + LOD_STATE_WORDS) * 4)
        self.ctx.copy_buffer(buffer, self.frame.counters, COUNTER_WORDS * 4)
        if lod is not None:
            state = self.lod_cut.state
            self.ctx.copy_buffer(buffer, state, LOD_STATE_WORDS * 4, write_offset=COUNTER_WORDS * 4)
        self._readback.append((buffer, count, lod is not None, scale))

    def _collect(self, frame_ms: float, binned: bool) -> FrameStats | None:
        timed = self.timer.end_frame()
        if timed is None:
            return None
        index, pass_ms = timed
        buffer, count, lod, scale = self._readback.pop(0)
        words = np.frombuffer(buffer.read(), dtype=np.uint32)
        counters = words[:COUNTER_WORDS]
        state = LodCutStats.from_words(words[COUNTER_WORDS:]) if lod else None
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
            render_scale=scale,
            lod_drawn=state.drawn if state else 0,
            lod_tau=state.tau if state else 0.0,
            lod_levels=state.levels if state else (),
            fovea_culled=int(counters[COUNTER_FOVEA_CULLED]),
        )

    def release(self) -> None:
        """Free every GL object."""
        self.depth_sort.release()
        if self._tiles is not None:
            self._tiles.release()
        if self._lod_cut is not None:
            self._lod_cut.release()
        self.preprocess.release()
        self.frame.release()
        for raster in self._quad_rasters.values():
            raster.release()
        self.contributions.release()
        self.resolve.release()
        self.accum.release()
        self.inset_accum.release()
        self.image.release()
        for buffer in self._readback_free + [b for b, *_ in self._readback]:
            buffer.release()


@dataclass(frozen=True)
class _View:
    """One image a frame's passes render.

    Attributes:
        camera: the image's camera (render scale in; an inset's crop of `whole`).
        fovea: the frame's fovea for it (fovea.glsl's uniforms) when foveated, else None.
        whole: the camera of the whole image at this render scale.
    """

    camera: Camera
    fovea: FoveaUniforms | None
    whole: Camera


def _view_of(inputs: FrameInputs, inset: Inset | None = None) -> _View:
    """The image the passes render for `inputs`: the whole one, or `inset`'s crop of it."""
    camera = inputs.render_camera
    if inputs.fovea is None:
        fovea = None
    else:
        gaze = render_gaze(inputs.camera, camera, inputs.gaze)
        origin = (0, 0) if inset is None else (inset.box[0], inset.box[1])
        fovea = fovea_uniforms(camera, inputs.fovea, gaze, origin)
    return _View(camera if inset is None else inset.camera(camera), fovea, camera)


def _plan_of(inputs: FrameInputs) -> tuple[float, Inset | None]:
    """Foveated resolution's (scale of the whole frame, inset) for `inputs` (`inset.plan`)."""
    camera = inputs.render_camera
    return plan(camera, inputs.fovea, render_gaze(inputs.camera, camera, inputs.gaze))


def _draws_subsets(scene: GpuScene, inputs: FrameInputs) -> bool:
    """Whether the frame draws the scene's nested subsets.

    That is when it is foveated with subsets and the scene holds levels (none yet: the whole
    scene is drawn, as it is while the viewer measures the scores that make them).
    """
    fovea = inputs.fovea
    return fovea is not None and fovea.subsets and scene.subsets is not None


def _lod_of(scene: GpuScene, inputs: FrameInputs) -> LodCut | None:
    """The frame's LOD cut, if it has one and the scene LOD nodes to cut."""
    return inputs.lod if scene.lod_nodes else None


def _rows_of(scene: GpuScene, lod: LodCut | None) -> int:
    """Rows a frame draws from: every row with an LOD cut, else the scene's own Gaussians."""
    return scene.count if lod is not None else scene.leaves
