"""The timing loop: every configuration renders frame i before any renders frame i + 1.

Each configuration has its own SplatRenderer on one shared GL context, so switching between them
allocates nothing inside the timed region. A frame's wall time is bracketed by ctx.finish() on both
sides; per-pass device times and counts come from the renderer's FrameStats, which with GL timer
queries arrive a few frames late and are matched to their frame by index.

Level of detail: configurations with LOD draw the scene's LOD tree (from the cache or built
before anything is timed) through their cut; under the `target_fps` cut a FrameRateController
sets each frame's budget and render scale from the frames timed before it (warm-up frames are
timed for it too), as the window does while its camera moves.

Foveation: each frame has a gaze, the configuration's own (`fov.gaze`: the centre or its fixed
point) or, on the gaze grid, the frame's (a fixed gaze stays where it is). Quality is measured
over the whole frame and over the fovea region of the configuration's `fov` settings at that
gaze and outside it (the periphery), also for configurations that do not foveate.
"""

from __future__ import annotations

import functools
import math
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import moderngl
import numpy as np

from viewer.bench.configs import BenchConfig
from viewer.bench.paths import PathFrame
from viewer.bench.scenes import ConfigScenes
from viewer.camera import Camera
from viewer.core.frame import frame_inputs
from viewer.core.session import ViewerSession
from viewer.features.foveation import frame_gaze, region_fovea
from viewer.features.lod_controller import Detail, FrameRateController, frame_cut
from viewer.image_metrics import compare_regions
from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo, create_headless_context
from viewer.render.fovea import Fovea, fovea_mask, gaze_pixel
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RenderSettings, StreamSettings
from viewer.stats import FrameStats
from viewer.stream.scene_stream import StreamFacts

REGION_METRICS = ("fovea_psnr", "fovea_ssim", "periphery_psnr", "periphery_ssim")
REGION_MASKS = 96  # fovea regions kept (one per config, image size and gaze; 0.9 MB at 720p)


class FrameTimer(Protocol):
    """What the loop reads of a renderer's timer."""

    frame: int  # index of the newest frame begun
    lag: int  # how many frames late its stats arrive


class Renderer(Protocol):
    """What the loop needs of a renderer (SplatRenderer, or a fake in tests)."""

    @property
    def backend(self) -> str:
        """The raster backend in use."""
        ...

    @property
    def timer(self) -> FrameTimer:
        """The renderer's pass timer."""
        ...

    def render(
        self, scene: Any, inputs: FrameInputs, settings: RenderSettings, output: Any
    ) -> FrameStats | None:
        """Render one frame of `scene` into `output`; stats of a (possibly earlier) frame."""
        ...


@dataclass
class FrameRecord:
    """One timed frame of one configuration.

    Attributes:
        config: configuration name.
        frame: index along the camera path.
        wall_ms: wall time of the render call between two ctx.finish() (milliseconds).
        pass_ms: device time per pass from the renderer's clock (milliseconds).
        visible: splats after culling; drawn: instances rasterized (visible splats for quads,
            (tile, splat) pairs for tiles and cpu); dropped: splats or pairs lost to full buffers.
        psnr, ssim: quality against the full-quality render of the same frame (NaN if not measured).
        fovea_psnr, fovea_ssim, periphery_psnr, periphery_ssim: the same inside the fovea region
            of the configuration's `fov` settings at `gaze` and outside it (NaN if not measured
            or the region is empty).
        gaze: the pixel looked at (foveation, and the fovea region of the quality numbers).
        fovea_culled: splats in view that foveation left out.
        render_scale: fraction of the image's width and height the splats were rendered at.
        lod_drawn: LOD nodes the cut drew (0: no LOD). lod_tau: the cut's tau (pixels).
        change: mean absolute change of the image since the previous frame minus that of the
            full-quality render (what LOD popping adds; NaN for the first frame or unmeasured).
        saturated: share of the pixels that saturated; saturation_depth: mean splats blended
            into such a pixel (NaN where none did); both NaN but with the cpu backend.
        waiting: leaves of a streamed scene still waiting for their chunks in this frame.
    """

    config: str
    frame: int
    wall_ms: float
    pass_ms: dict[str, float] = field(default_factory=dict)
    visible: int = -1
    drawn: int = -1
    dropped: int = 0
    psnr: float = math.nan
    ssim: float = math.nan
    render_scale: float = 1.0
    lod_drawn: int = 0
    lod_tau: float = math.nan
    change: float = math.nan
    fovea_psnr: float = math.nan
    fovea_ssim: float = math.nan
    periphery_psnr: float = math.nan
    periphery_ssim: float = math.nan
    gaze: tuple[float, float] = (math.nan, math.nan)
    fovea_culled: int = 0
    saturated: float = math.nan
    saturation_depth: float = math.nan
    waiting: int = 0

    def attach(self, stats: FrameStats, backend: str) -> None:
        """Take the renderer's numbers for this frame."""
        self.pass_ms = dict(stats.pass_ms)
        self.visible = stats.visible
        self.drawn = stats.pairs if backend in ("tiles", "cpu") else stats.visible
        self.dropped = stats.dropped
        self.render_scale = stats.render_scale
        self.lod_drawn = stats.lod_drawn
        self.lod_tau = stats.lod_tau if stats.lod_drawn else math.nan
        self.fovea_culled = stats.fovea_culled
        if backend == "cpu":
            self.saturated = stats.saturated
            self.saturation_depth = stats.saturation_depth if stats.saturated else math.nan


@dataclass
class Target:
    """A configuration, its renderer, the scene it draws and the frames it has recorded.

    Attributes:
        controller: the frame-rate target of a `target_fps` LOD configuration, else None; it
            sees every frame's time, warm-up frames included (timed with `finish`).
        finish: waits for the GPU (ctx.finish), to time warm-up frames for the controller.
        session: the viewer session of a streamed scene, which streams before each frame as the
            window does (inside the timed region), else None.
        first_drawn: perf_counter() when its first frame was finished, or None.
    """

    config: BenchConfig
    renderer: Renderer
    scene: Any  # a GpuScene (whatever the renderer draws, for fakes in tests)
    output: moderngl.Framebuffer | None = None
    records: list[FrameRecord] = field(default_factory=list)
    controller: FrameRateController | None = None
    finish: Callable[[], None] | None = None
    session: ViewerSession | None = None
    first_drawn: float | None = None
    _waiting: dict[int, FrameRecord] = field(default_factory=dict)
    _leaves_waiting: int = 0

    def render(self, view: PathFrame) -> None:
        """Render one untimed frame (stats that arrive still go to their timed frame)."""
        if self.controller is not None and self.finish is not None:
            self.finish()
            start = time.perf_counter()
            self._take(self._draw(view))
            self.finish()
            self.controller.observe(time.perf_counter() - start)
            return
        self._take(self._draw(view))

    def gaze(self, view: PathFrame) -> tuple[float, float]:
        """The pixel looked at: the gaze grid's point, else the configuration's own gaze.

        A configuration with a fixed gaze (`fov.gaze=fixed`) keeps it on the grid too.
        """
        camera, fov = view.camera, self.config.fov
        if view.gaze is not None and fov.gaze != "fixed":
            return view.gaze[0] * camera.width, view.gaze[1] * camera.height
        return gaze_pixel(camera, frame_gaze(fov, camera))

    def inputs(self, view: PathFrame) -> FrameInputs:
        """The frame's inputs: camera, gaze, and the configuration's fovea, cut and scale."""
        detail = self.controller.moving_detail() if self.controller else Detail()
        cut = frame_cut(self.config.lod, detail)
        return frame_inputs(view.camera, cut, self.config.fov, self.gaze(view))

    def _draw(self, view: PathFrame) -> FrameStats | None:
        if self.session is not None and self.session.stream is not None:
            self.session.update(self.config.settings, view.camera, 0.0, None)
            self._leaves_waiting = self.session.stream.waiting
        stats = self.renderer.render(self.scene, self.inputs(view), self.config.render, self.output)
        if self.first_drawn is None and self.finish is not None:
            self.finish()
            self.first_drawn = time.perf_counter()
        return stats

    def timed(self, view: PathFrame, frame: int, finish: Callable[[], None]) -> FrameRecord:
        """Render path frame `frame` between two finish() calls and record it."""
        finish()
        start = time.perf_counter()
        stats = self._draw(view)
        finish()
        record = FrameRecord(self.config.name, frame, (time.perf_counter() - start) * 1e3)
        record.gaze = self.gaze(view)
        record.waiting = self._leaves_waiting
        if self.controller is not None:
            self.controller.observe(record.wall_ms / 1e3)
        self._waiting[self.renderer.timer.frame] = record
        self._take(stats)
        self.records.append(record)
        return record

    def _take(self, stats: FrameStats | None) -> None:
        """Give a frame's stats to its record, if that frame was timed."""
        if stats is not None and stats.frame in self._waiting:
            self._waiting.pop(stats.frame).attach(stats, self.renderer.backend)

    def drain(self, view: PathFrame) -> None:
        """Render untimed frames until the stats of every timed frame are in."""
        for _ in range(self.renderer.timer.lag):
            self.render(view)


def run_interleaved(
    targets: Sequence[Target],
    frames: Sequence[PathFrame],
    warmup: int,
    finish: Callable[[], None],
    before_frame: Callable[[int, PathFrame], None] | None = None,
    after_frame: Callable[[int, FrameRecord], None] | None = None,
    warming: Callable[[int, int], None] | None = None,
) -> None:
    """Warm up, then time frame i of every target before frame i + 1 of any.

    Args:
        targets: the configurations in report order.
        frames: the path, one entry per timed frame.
        warmup: untimed frames per target first (along the start of the path, interleaved too).
        finish: waits for the GPU (ctx.finish).
        before_frame: called with (frame, path frame) before any target renders that frame.
        after_frame: called with (target index, record) after each timed frame, outside the
            timed region.
        warming: called with (warm-up frames done, warm-up frames in all) after each.
    """
    for k in range(warmup):
        for index, target in enumerate(targets):
            target.render(frames[k % len(frames)])
            if warming is not None:
                warming(k * len(targets) + index + 1, warmup * len(targets))
    for frame, view in enumerate(frames):
        if before_frame is not None:
            before_frame(frame, view)
        for index, target in enumerate(targets):
            record = target.timed(view, frame, finish)
            if after_frame is not None:
                after_frame(index, record)
    for target in targets:
        target.drain(frames[-1])


@dataclass
class WorstFrame:
    """The frame of lowest PSNR of a configuration, with both images ([H, W, 3] float32)."""

    frame: int
    psnr: float
    ssim: float
    image: np.ndarray
    reference: np.ndarray


class QualityProbe:
    """Compares each timed frame with the full-quality render of the same camera.

    Full quality: default RenderSettings (SH degree 3, ...) with the first configuration's raster
    settings, rendered without a fovea by a renderer of its own (so no configuration's state can
    leak into it). Besides the whole frame, the fovea region of each configuration's `fov`
    settings around the frame's gaze, and the rest of the frame, are measured apart.

    Args:
        reference: the reference's renderer.
        scene: the scene uploaded whole.
        output: what the configurations render into.
        regions: per configuration, the `Fovea` whose level-0 pixels are its fovea region.
        settle: makes `scene` hold what a camera needs (a streamed scene: the reference is the
            stream settled at each frame, what the configurations refine towards).
    """

    def __init__(
        self,
        reference: SplatRenderer,
        scene: GpuScene,
        output: AccumTarget,
        regions: Sequence[Fovea],
        settle: Callable[[Camera], None] | None = None,
    ) -> None:
        self.settle = settle
        self.reference = reference
        self.scene = scene
        self.output = output
        self.regions = list(regions)
        self.worst: list[WorstFrame | None] = [None] * len(regions)
        self._image = np.empty(0, np.float32)
        self._camera: Camera | None = None
        self._previous: list[np.ndarray | None] = [None] * len(regions)  # each config's last
        self._reference_change = math.nan  # the full render's change since the last frame

    def prepare(self, frame: int, view: PathFrame) -> None:
        """Render the full-quality image of a path frame, before any configuration renders it."""
        previous = self._image
        self._camera = view.camera
        if self.settle is not None:
            self.settle(view.camera)
        self._image = self.reference.render_image(
            self.scene, FrameInputs(view.camera), RenderSettings()
        )
        self._reference_change = _change(self._image, previous)

    def measure(self, index: int, record: FrameRecord) -> None:
        """Measure configuration `index`'s frame `record`, just rendered into the output."""
        assert self._camera is not None, "prepare() renders the reference first"
        image = self.output.read_rgb()
        mask = region_mask(self._camera, self.regions[index], record.gaze)
        quality = compare_regions(image, self._image, mask)
        record.psnr, record.ssim = quality["psnr"], quality["ssim"]
        for name in REGION_METRICS:
            setattr(record, name, quality[name])
        record.change = _change(image, self._previous[index]) - self._reference_change
        self._previous[index] = image
        worst = self.worst[index]
        if worst is None or record.psnr < worst.psnr:
            self.worst[index] = WorstFrame(
                record.frame, record.psnr, record.ssim, image, self._image
            )


def region_mask(camera: Camera, fovea: Fovea, gaze: tuple[float, float]) -> np.ndarray:
    """[H, W] bool: the fovea region of `fovea` around `gaze` (pixels) in `camera`'s image.

    Cached: it depends on the camera's intrinsics, not its pose (0.4 s at 1280x720).
    """
    c = camera
    return _region_mask((c.width, c.height, c.fx, c.fy, c.cx, c.cy), fovea, gaze)


@functools.lru_cache(maxsize=REGION_MASKS)
def _region_mask(
    intrinsics: tuple[int, int, float, float, float, float],
    fovea: Fovea,
    gaze: tuple[float, float],
) -> np.ndarray:
    mask = fovea_mask(Camera(*intrinsics), fovea, gaze)
    mask.setflags(write=False)  # shared by every frame that asks for it
    return mask


def _change(image: np.ndarray, previous: np.ndarray | None) -> float:
    """Mean absolute difference of two frames' displayed values; NaN without a previous one."""
    if previous is None or previous.shape != image.shape:
        return math.nan
    shown = np.clip(image, 0.0, 1.0) - np.clip(previous, 0.0, 1.0)
    return float(np.abs(shown).mean())


@dataclass
class ConfigRun:
    """What one configuration measured."""

    config: BenchConfig
    records: list[FrameRecord]
    backend: str
    sort: str
    clock: str
    gpu_bytes: int
    worst: WorstFrame | None
    stream: StreamFacts | None = None


@dataclass
class BenchResult:
    """All configurations of one run, plus the device and the process's peak memory."""

    runs: list[ConfigRun]
    device: DeviceInfo
    peak_rss_bytes: int
    first_frame_ms: float | None = None


def measure(
    scene: GaussianScene,
    configs: Sequence[BenchConfig],
    frames: Sequence[PathFrame],
    warmup: int,
    clock: str = "auto",
    quality: bool = True,
    progress: Callable[[int, int], None] | None = None,
    warming: Callable[[int, int], None] | None = None,
    loading_since: float | None = None,
) -> BenchResult:
    """Benchmark `configs` on `scene` along `cameras` in a headless GL context.

    Args:
        scene: the scene every configuration draws.
        configs: the configurations, interleaved frame by frame; the first's raster settings
            also render the quality reference.
        frames: the path, one entry per timed frame; the first camera sets the image size.
        warmup: untimed frames per configuration first.
        clock: per-pass clock: "auto", "gl-timer" or "finish+wall" (`choose_clock`).
        quality: compare each timed frame with a full-quality render (PSNR, SSIM; whole, fovea
            region and periphery).
        progress: called with (frames done, frames in all) after each timed frame.
        warming: called with (frames done, frames in all) after each warm-up frame.
        loading_since: perf_counter() when reading the scene began: the result's first-frame
            time is counted from it.
    """
    ctx = create_headless_context()
    width, height = frames[0].camera.width, frames[0].camera.height
    output = AccumTarget(ctx)
    output.ensure_size(width, height)
    everything: list[SplatRenderer] = []
    scenes: ConfigScenes | None = None
    try:
        renderers = [SplatRenderer(ctx, config.raster, clock) for config in configs]
        reference = SplatRenderer(ctx, configs[0].raster, clock) if quality else None
        everything = renderers + ([reference] if reference else [])
        scenes = ConfigScenes(renderers[0], scene, frames[0].camera)
        full = scenes.full
        sessions = [scenes.session_of(c) for c in configs]
        targets = [
            Target(c, r, s.gpu_scene, output.framebuffer,
                   controller=frame_rate_controller(c, scene.count, r.pixel_bound),
                   finish=ctx.finish,
                   session=s if s.stream is not None else None)
            for c, r, s in zip(configs, renderers, sessions, strict=True)
        ]  # fmt: skip
        regions = [region_fovea(c.fov) for c in configs]
        stream = configs[0].settings.of(StreamSettings)

        def settle(camera: Camera) -> None:
            assert scenes is not None
            scenes.settle_reference(camera, stream)

        probe = QualityProbe(reference, full, output, regions, settle) if reference else None
        total = len(frames) * len(targets)

        def after_frame(index: int, record: FrameRecord) -> None:
            if probe is not None:
                probe.measure(index, record)
            if progress is not None:
                progress(record.frame * len(targets) + index + 1, total)

        run_interleaved(
            targets, frames, warmup, ctx.finish, probe.prepare if probe else None, after_frame,
            warming,
        )  # fmt: skip
        runs = [
            ConfigRun(
                config=t.config,
                records=t.records,
                backend=r.backend,
                sort=r.sort_kind,
                clock=r.timer.clock,
                gpu_bytes=r.gpu_bytes,
                worst=probe.worst[i] if probe else None,
                stream=t.session.stream.facts() if t.session and t.session.stream else None,
            )
            for i, (t, r) in enumerate(zip(targets, renderers, strict=True))
        ]
        drawn = targets[0].first_drawn
        first_ms = None
        if loading_since is not None and drawn is not None:
            first_ms = (drawn - loading_since) * 1e3
        return BenchResult(runs, DeviceInfo.of(ctx), peak_rss_bytes(), first_ms)
    finally:
        if scenes is not None:
            scenes.release()
        for renderer in everything:
            renderer.release()
        output.release()
        ctx.release()


def frame_rate_controller(
    config: BenchConfig, gaussians: int, pixels_first: bool = False
) -> FrameRateController | None:
    """The controller of a `target_fps` LOD configuration, else None.

    `pixels_first`: see FrameRateController.
    """
    lod = config.lod
    if not (lod.enabled and lod.cut == "target_fps"):
        return None
    return FrameRateController(lod.target_fps, gaussians, lod.min_scale, pixels_first=pixels_first)


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
