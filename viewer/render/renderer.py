"""The splatting renderer: a frame is a short, straight list of passes.

    [lod cut] -> preprocess -> sort -> [bin] -> raster -> resolve

`FrameView.of` first decides, from the frame's inputs and the scene, everything the passes read
(camera at render scale, fovea, nested subsets, LOD cut, rows and flags); the passes then run in
that order. The raster step is a `Raster` (viewer/render/raster.py): the chosen backend (quads or
tiles) in the colour, depth and heatmap modes, the points, outlines or overdraw raster in those
modes; a raster that bins gets its "bin" step before it draws. With foveated resolution
(`Fovea.periphery_scale` below 1) the list runs twice: the whole frame at a lower render scale,
then an inset around the fovea at the frame's own, blended over it (viewer/render/inset.py).
`measure` runs the list up to the sort and hands the view to the backend's `measure`
(picking, pivots, pruning scores).

The scene (`GpuScene`) and the per-frame inputs (`FrameInputs`: camera, flag mask, gaze, fovea,
LOD cut, render scale) are passed to every call; the renderer holds only its passes and their
scratch buffers, which grow to what the scene and the frame need. Per-Gaussian data stays on the
GPU (the CPU sort reads the depth keys; `measure` reads what it returns), except for the cpu
backend on software GL: its LOD cut and preprocess run on the host where they cover the frame
(viewer/render/lod_cut_host.py, preprocess_host.py), over copies of the scene's rows. Features
change the image through per-Gaussian flags (`GpuScene.write_flags`, the LOD cut's `gpu_flags`),
what they attach to the scene (`GpuScene.lod`, `GpuScene.subsets`), `FrameInputs` and the
settings.
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
from viewer.render.contributions import Contributions, ContributionsPass, GpuMeasure, OverdrawRaster
from viewer.render.dispatch_args import DispatchArgsPass
from viewer.render.fovea_host import supports
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.frame_view import FrameView, plan_of
from viewer.render.gpu_scene import GROWTH, GpuScene
from viewer.render.host_resolve import resolve_on_host
from viewer.render.inset import Inset
from viewer.render.layout import (
    COUNTER_FOVEA_CULLED,
    COUNTER_PAIRS,
    COUNTER_PAIRS_OVERFLOW,
    COUNTER_SATURATED,
    COUNTER_SATURATION_DEPTH,
    COUNTER_VISIBLE,
    COUNTER_VISIBLE_OVERFLOW,
    COUNTER_WORDS,
    LOD_STATE_WORDS,
)
from viewer.render.lod_cut import LodCutPass, LodCutStats
from viewer.render.lod_cut_host import HostLodCut
from viewer.render.preprocess import PreprocessPass
from viewer.render.preprocess_host import HostPreprocess
from viewer.render.raster import (
    Raster,
    RasterBackend,
    RasterJob,
    backend_reason,
    choose_backend,
    own_raster,
)
from viewer.render.raster_cpu import CpuRaster
from viewer.render.raster_quads import InstancedQuads, QuadsRaster
from viewer.render.raster_tiles import TilesRaster
from viewer.render.resolve import ResolvePass
from viewer.render.sort import KeyValueSort, choose_sort, make_sort
from viewer.render.tile_bins import INITIAL_PAIRS_PER_SPLAT, TileBins
from viewer.render.timers import FrameClock, PassTimer, choose_clock
from viewer.render.validation import validate_frame
from viewer.settings import RasterSettings, RenderSettings
from viewer.stats import FrameStats

Section = Callable[[str], AbstractContextManager[None]]


def _untimed(_name: str) -> AbstractContextManager[None]:
    return nullcontext()


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
        self.contributions = ContributionsPass(ctx)
        self.resolve = ResolvePass(ctx)
        self.accum = AccumTarget(ctx)
        self.inset_accum = AccumTarget(ctx)  # foveated resolution's inset
        self.image = AccumTarget(ctx)  # what `render_image` renders into and reads back
        self.frame = FrameBuffers(ctx, 1, self.device.max_ssbo_bytes)
        self._sort_kind = choose_sort(raster.sort, self.device)
        self.depth_sort: KeyValueSort = make_sort(ctx, self._sort_kind, 1)
        self._bins: TileBins | None = None  # made on first use
        self._lod_cut: LodCutPass | None = None  # made on first use
        # the cpu backend cuts on the host (lod_cut_host.py: on llvmpipe the GL pass and
        # preprocess over every row cost more than the cut saves), foveated frames too unless
        # the fovea uses the pooling mapping; False: GL pass
        self.host_cut = True
        self.host_lod_cut = HostLodCut()
        # the cpu backend's frames preprocess on the host where it covers them
        # (preprocess_host.py: the GL pass costs 0.5-0.7 us a row on llvmpipe); False: GL pass
        self.host_preprocessing = True
        self.host_preprocess = HostPreprocess()
        self._measurer = GpuMeasure(self.contributions, self.tile_bins)
        self._backends: dict[str, RasterBackend] = {}  # made on first use
        self._mode_rasters: dict[str, Raster] = {}  # made on first use
        # counters (and LOD state) copies awaiting their timer queries, with the rows drawn,
        # whether an LOD cut ran, the render scale and the pixels of that frame
        self._readback: list[tuple[moderngl.Buffer, int, bool, float, int]] = []
        self._readback_free: list[moderngl.Buffer] = []
        self.generation = 0  # how often the frame buffers were written (see SplatFrame)

    # -- configuration -------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """The raster backend in use: 'quads', 'tiles' or 'cpu'."""
        return choose_backend(self.raster_settings.backend, self.device)

    @property
    def pixel_bound(self) -> bool:
        """Whether a frame costs its pixels more than its splats: the cpu backend's.

        The frame-rate target then lowers the render scale before the LOD budget. (The quads
        backend on llvmpipe also pays per instance: there the even split held the rate
        better, design log.)
        """
        return self.backend == "cpu"

    @property
    def backend_reason(self) -> str:
        """Why that backend (`backend_reason`)."""
        return backend_reason(self.raster_settings.backend, self.device)

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
            if self._bins is not None:  # its pair sort is of the old kind
                self._bins.release()
                self._bins = None

    def tile_bins(self) -> TileBins:
        """The tile binning (made on first use: the tiles backend, overdraw and measure bin)."""
        if self._bins is None:
            sort = make_sort(self.ctx, self._sort_kind, self.frame.capacity)
            self._bins = TileBins(
                self.ctx, sort, self.dispatch_args, self.device.max_ssbo_bytes // 4
            )
            self._bins.fit(self.frame.capacity)
        return self._bins

    @property
    def lod_cut(self) -> LodCutPass:
        """The level-of-detail cut pass (made on first use)."""
        if self._lod_cut is None:
            self._lod_cut = LodCutPass(self.ctx, shared_counts=not self.device.is_software)
        return self._lod_cut

    def _backend(self) -> RasterBackend:
        """The backend in use (made on first use)."""
        name = self.backend
        if name not in self._backends:
            if name == "cpu":
                self._backends[name] = CpuRaster(self.ctx)
            elif name == "tiles":
                self._backends[name] = TilesRaster(self.ctx, self.tile_bins, self._measurer)
            else:
                self._backends[name] = QuadsRaster(self.ctx, self._measurer)
        return self._backends[name]

    def _raster(self, mode: str) -> Raster:
        """What draws a frame in render mode `mode`: its own raster, else the backend."""
        if not own_raster(mode, self.backend):
            return self._backend()
        if mode not in self._mode_rasters:
            raster: Raster
            if mode == "overdraw":
                raster = OverdrawRaster(self.contributions, self.tile_bins)
            elif mode == "points":
                raster = InstancedQuads(self.ctx, "points.vert", "points.frag", point_size=True)
            else:
                raster = InstancedQuads(self.ctx, "splat.vert", "outlines.frag")
            self._mode_rasters[mode] = raster
        return self._mode_rasters[mode]

    def _fit(self, scene: GpuScene) -> None:
        """Grow the per-frame buffers to hold every Gaussian of `scene` as a visible splat."""
        if scene.count <= self.frame.capacity:
            return
        capacity = max(scene.count, int(self.frame.capacity * GROWTH))
        self.frame.release()
        self.frame = FrameBuffers(self.ctx, capacity, self.device.max_ssbo_bytes)
        self.depth_sort.ensure_capacity(self.frame.capacity)
        if self._bins is not None:
            self._bins.fit(self.frame.capacity)

    @property
    def gpu_bytes(self) -> int:
        """GPU memory held by the frame and backend buffers (not the scene's)."""
        parts = [self.accum.nbytes, self.inset_accum.nbytes, self.image.nbytes, self.frame.nbytes]
        parts.append(self.contributions.nbytes)
        parts.append(self.depth_sort.nbytes)
        if self._bins is not None:
            parts.append(self._bins.nbytes)
        return sum(parts)

    @property
    def host_bytes(self) -> int:
        """Host memory held besides the scene: the cpu backend's copy of the rows."""
        return self.host_preprocess.nbytes

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
        if self._bins is not None:
            self._bins.fit_view(width, height, self.frame.capacity * INITIAL_PAIRS_PER_SPLAT)

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
        frame = self.start(scene, inputs, settings, output)
        frame.step()
        return frame.stats

    def start(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        output: moderngl.Framebuffer,
        accum: AccumTarget | None = None,
    ) -> SplatFrame:
        """A frame of `scene` for `output`, drawn by its `step`s (see `SplatFrame`).

        `accum`: the frame's accumulation image (default: the renderer's; a frame drawn over
        several steps while other views are rendered needs one of its own).
        """
        return SplatFrame(self, scene, inputs, settings, output, accum or self.accum)

    def _prepare(
        self,
        scene: GpuScene,
        view: FrameView,
        settings: RenderSettings,
        raster: Raster,
        section: Section,
    ) -> RasterJob:
        """The LOD cut, preprocess, depth sort and binning of `view`: what `raster` draws."""
        host = isinstance(raster, CpuRaster)  # bins the host's splats as they are
        job = self._sorted_splats(scene, view, settings, raster.fovea_per_pixel, section, host)
        if raster.bins:
            with section("bin"):
                raster.bin(job)
        return job

    def _draw_inset(
        self, scene: GpuScene, inputs: FrameInputs, inset: Inset, settings: RenderSettings,
        raster: Raster, output: moderngl.Framebuffer,
    ) -> None:  # fmt: skip
        """Draw the foveated-resolution inset of the frame `inputs` over `output`."""
        view = FrameView.of(scene, inputs, inset)
        self.inset_accum.ensure_size(view.camera.width, view.camera.height)
        self.inset_accum.on_host = False
        raster.draw(self._prepare(scene, view, settings, raster, _untimed), self.inset_accum)
        self._validate(raster, scene)
        self._resolve(self.inset_accum, output, settings.background, inset)

    def _resolve(
        self,
        accum: AccumTarget,
        output: moderngl.Framebuffer,
        background: tuple[float, float, float],
        inset: Inset | None = None,
    ) -> None:
        """Resolve `accum` into `output`, on the host where its image is (host_resolve.py).

        Else the GL pass resolves it (a host image uploaded first).
        """
        if accum.on_host:
            if inset is None and resolve_on_host(accum, output, background):
                accum.on_host = False
                return
            accum.upload()
        self.resolve.run(accum, output, background, inset)

    def _validate(self, raster: Raster, scene: GpuScene) -> None:
        """Check the frame's buffers when the validation switch is on."""
        if self.raster_settings.validate:
            validate_frame(self.frame, raster.tile_bins, scene.count)

    def _sorted_splats(
        self,
        scene: GpuScene,
        view: FrameView,
        settings: RenderSettings,
        fovea_per_pixel: bool,
        section: Section,
        host: bool = False,
    ) -> RasterJob:
        """The LOD cut, preprocess and depth sort of the splats in `view`: what a raster draws.

        `fovea_per_pixel`: the raster weighs the scene's nested subsets per pixel, so preprocess
        only drops splats of weight 0 (else it weighs each splat's opacity). `host`: the raster
        takes splats made on the host (`RasterJob.host`), where `HostPreprocess` covers the
        frame; the frame buffers then hold only the visible count (everything with the
        validation switch). The frame buffers are rewritten: `generation` counts how often.
        """
        self._fit(scene)
        self.frame.reset()
        self.generation += 1
        rows = None  # preprocess: every row of the view
        if view.lod is not None:
            with section("lod"):
                if self.host_cut and self.backend == "cpu" and supports(view.fovea):
                    words = self.host_lod_cut.run(
                        scene, view.camera, view.lod, view.fovea, view.lod_tau_scale
                    )
                    self.lod_cut.state.write(words.tobytes())
                    rows = self.host_lod_cut.rows  # only the rows drawn
                else:
                    self.lod_cut.run(scene, view.camera, view.lod, view.fovea, view.lod_tau_scale)
                    self.host_lod_cut.forget()
        splats = None
        with section("preprocess"):
            host = host and self.host_preprocessing
            fits_gl = (scene.count if rows is None else rows.size) <= self.frame.capacity
            if host and self.host_preprocess.covers(scene, view, rows is not None, fits_gl):
                blend = self.host_lod_cut.blend if rows is not None else None
                splats = self.host_preprocess.run(
                    scene, view, settings, rows, blend, not fovea_per_pixel
                )
            else:
                self.preprocess.run(scene, self.frame, view, settings, not fovea_per_pixel, rows)
                self._dispatch_args()
        with section("sort"):
            if splats is not None:
                splats.sort()
                splats.write(self.frame, self.raster_settings.validate)
            else:
                self.depth_sort.sort(
                    self.frame.depth_keys, self.frame.sorted_splats, self.frame.counters,
                    COUNTER_VISIBLE * 4,
                )  # fmt: skip
        return RasterJob(self.frame, scene, view, settings, section, splats)

    def measure(
        self,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        *,
        weights: bool = False,
        pixel: tuple[int, int] | None = None,
    ) -> Contributions:
        """Measure one view with the backend instead of drawing it (waits for the GPU).

        Args:
            scene: the scene measured.
            inputs: the view and its per-frame inputs (camera, flag mask, LOD cut, ...); it is
                measured at full resolution whatever the render scale, without nested subsets.
            settings: the render settings the view is drawn with.
            weights: also sum each Gaussian's alpha*T over the image and count its tiles (one
                value per row drawn: the leaves, or every row with an LOD cut).
            pixel: (x, y) measure only the tile holding this pixel (for picking).
        """
        inputs = dataclasses.replace(inputs, render_scale=1.0)  # whole: no foveation either
        view = dataclasses.replace(FrameView.of(scene, inputs), subsets=None)
        backend = self._backend()
        host = isinstance(backend, CpuRaster)  # measures the host's splats as they are
        job = self._sorted_splats(scene, view, settings, backend.fovea_per_pixel, _untimed, host)
        return backend.measure(job, view.rows if weights else 0, pixel)

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
        pairs = self._bins.pair_capacity if self._bins is not None else 0
        self.dispatch_args.run(self.frame.counters, self.frame.capacity, pairs)

    def _queue_counters(self, count: int, lod: LodCut | None, scale: float, pixels: int) -> None:
        """Copy this frame's counters (and LOD state) aside, to be read with its timer queries."""
        if self._readback_free:
            buffer = self._readback_free.pop()
        else:
            buffer = self.ctx.buffer(reserve=(COUNTER_WORDS + LOD_STATE_WORDS) * 4)
        self.ctx.copy_buffer(buffer, self.frame.counters, COUNTER_WORDS * 4)
        if lod is not None:
            state = self.lod_cut.state
            self.ctx.copy_buffer(buffer, state, LOD_STATE_WORDS * 4, write_offset=COUNTER_WORDS * 4)
        self._readback.append((buffer, count, lod is not None, scale, pixels))

    def _collect(self, clock: FrameClock, frame_ms: float, binned: bool) -> FrameStats | None:
        timed = self.timer.end_frame(clock)
        if timed is None:
            return None
        done, pass_ms = timed
        buffer, count, lod, scale, pixels = self._readback.pop(0)
        words = np.frombuffer(buffer.read(), dtype=np.uint32)
        counters = words[:COUNTER_WORDS]
        saturated = counters[COUNTER_SATURATED]
        state = LodCutStats.from_words(words[COUNTER_WORDS:]) if lod else None
        self._readback_free.append(buffer)
        return FrameStats(
            frame=done.index,
            clock=self.timer.clock,
            pass_ms=pass_ms,
            cpu_ms=dict(done.cpu_ms),
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
            saturated=int(saturated) / max(pixels, 1),
            saturation_depth=int(counters[COUNTER_SATURATION_DEPTH]) / max(int(saturated), 1),
        )

    def release(self) -> None:
        """Free every GL object."""
        self.depth_sort.release()
        if self._bins is not None:
            self._bins.release()
        if self._lod_cut is not None:
            self._lod_cut.release()
        self.preprocess.release()
        self.frame.release()
        for raster in (*self._backends.values(), *self._mode_rasters.values()):
            raster.release()
        self.contributions.release()
        self.resolve.release()
        self.accum.release()
        self.inset_accum.release()
        self.image.release()
        for buffer in self._readback_free + [b for b, *_ in self._readback]:
            buffer.release()


class SplatFrame:
    """A frame drawn in steps: its raster in ranges of parts, then resolved into its output.

    `step(count)` draws the next `count` parts of the raster (`Raster.parts`), `step()` all that
    remain; the step that draws the last resolves the frame into its output (which shows the
    earlier frame until then), draws the foveated inset if any and sets `stats`. Between steps
    the renderer may render or measure other views: a step that finds the frame buffers
    rewritten (`SplatRenderer.generation`) or the scene changed runs the frame's LOD cut,
    preprocess, sort and binning again and draws on from where it was (with a changed scene,
    the parts drawn before show its older rows). The accumulation image is the frame's own.

    Attributes:
        scene, inputs, settings: what is drawn. output: the framebuffer it is resolved into.
        drawn: the parts drawn so far. work_ms: host milliseconds the steps took so far.
        last_step: (parts, milliseconds) of the last step's raster when it drew a range of
            parts (it waits for the device to time it), None after a whole draw.
        prepare_ms: host milliseconds the last step spent preparing the frame (LOD cut,
            preprocess, sort, binning); 0 when it did not.
        stats: the renderer's stats once the frame is done (None before, and while GL timer
            queries lag).
        done: whether the frame was resolved into `output`.
    """

    def __init__(
        self,
        renderer: SplatRenderer,
        scene: GpuScene,
        inputs: FrameInputs,
        settings: RenderSettings,
        output: moderngl.Framebuffer,
        accum: AccumTarget,
    ) -> None:
        self._renderer = renderer
        self.scene, self.inputs, self.settings = scene, inputs, settings
        self.output, self._accum = output, accum
        periphery, self._inset = plan_of(inputs)
        self._whole = dataclasses.replace(inputs, render_scale=inputs.render_scale * periphery)
        self._raster = renderer._raster(settings.mode)
        self._clock = renderer.timer.begin_frame()
        self._job: RasterJob | None = None
        self._prepared: tuple[int, int] = (-1, -1)  # (generation, scene version) of `_job`
        self._parts: int | None = None  # of `_job`, read when first needed
        self.drawn = 0
        self.last_step: tuple[int, float] | None = None  # (parts, raster ms) of a step in parts
        self.prepare_ms = 0.0  # what the last step spent preparing the frame (0: nothing)
        self.work_ms = 0.0
        self.stats: FrameStats | None = None
        self.done = False

    @property
    def unprepared(self) -> bool:
        """Whether the next step prepares the frame (its first, or after a rewrite) first."""
        renderer = self._renderer
        return self._job is None or self._prepared != (renderer.generation, self.scene.version)

    def _prepare(self) -> RasterJob:
        """The frame's sorted splats, prepared again when something rewrote them."""
        renderer = self._renderer
        self.prepare_ms = 0.0
        if self.unprepared:
            start = time.perf_counter()
            view = FrameView.of(self.scene, self._whole)
            if self._inset is not None:  # what the inset covers need not be drawn
                width, height = view.camera.width, view.camera.height
                view = dataclasses.replace(view, hidden=self._inset.hidden(width, height))
            self._accum.ensure_size(view.camera.width, view.camera.height)
            self._job = renderer._prepare(
                self.scene, view, self.settings, self._raster, self._clock.section
            )
            self._prepared = (renderer.generation, self.scene.version)
            self._parts = None
            self.prepare_ms = (time.perf_counter() - start) * 1e3
        assert self._job is not None
        return self._job

    def step(self, count: int | None = None) -> bool:
        """Draw the next `count` parts (None: every one left); True once the frame is done."""
        assert not self.done, "the frame is done"
        start = time.perf_counter()
        job = self._prepare()
        if self.drawn == 0:  # the accumulation image is drawn anew (on the host or not)
            self._accum.on_host = False
        with self._clock.section("raster"):
            if count is None and self.drawn == 0:
                self._raster.draw(job, self._accum)
                finished = True
            else:
                if self._parts is None:
                    self._parts = self._raster.parts(job)
                stop = self._parts if count is None else min(self._parts, self.drawn + count)
                parts = range(min(self.drawn, stop), stop)
                drawing = time.perf_counter()
                self._raster.draw(job, self._accum, parts)
                self._renderer.ctx.finish()  # a paced step's time is its raster's
                self.last_step = (len(parts), (time.perf_counter() - drawing) * 1e3)
                self.drawn, finished = stop, stop >= self._parts
        if finished:
            self._finish(job)
        self.work_ms += (time.perf_counter() - start) * 1e3
        if finished:
            self.stats = self._renderer._collect(self._clock, self.work_ms, self._raster.bins)
        return finished

    def _finish(self, job: RasterJob) -> None:
        """Resolve into the output, queue the counters, draw the inset."""
        renderer, raster, settings = self._renderer, self._raster, self.settings
        renderer._validate(raster, self.scene)
        with self._clock.section("resolve"):
            renderer._resolve(self._accum, self.output, settings.background)
        camera = job.view.camera
        renderer._queue_counters(
            job.view.rows, job.view.lod, self.inputs.render_scale, camera.width * camera.height
        )
        if self._inset is not None:  # the counters above are the whole frame's
            with self._clock.section("inset"):
                renderer._draw_inset(
                    self.scene, self.inputs, self._inset, settings, raster, self.output
                )
        self.done = True
