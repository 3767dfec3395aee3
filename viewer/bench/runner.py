"""The timing loop: every configuration renders frame i before any renders frame i + 1.

Each configuration has its own SplatRenderer on one shared GL context, so switching between them
allocates nothing inside the timed region. A frame's wall time is bracketed by ctx.finish() on both
sides; per-pass device times and counts come from the renderer's FrameStats, which with GL timer
queries arrive a few frames late and are matched to their frame by index.

Level of detail: configurations with LOD draw the scene's LOD tree (from the cache or built
before anything is timed) through their cut; under the `target_fps` cut a FrameRateController
sets each frame's budget and render scale from the frames timed before it (warm-up frames are
timed for it too), as the window does while its camera moves.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import moderngl
import numpy as np

from viewer.bench.configs import BenchConfig
from viewer.camera import Camera
from viewer.features.lod_cache import TerminalProgress, cached_hierarchy
from viewer.features.lod_controller import FrameRateController, Quality, frame_cut
from viewer.features.lod_gpu import attach_hierarchy, node_flags
from viewer.features.lod_hierarchy import LodHierarchy
from viewer.image_metrics import compare
from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo, create_headless_context
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RenderSettings
from viewer.stats import FrameStats


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
            (tile, splat) pairs for tiles); dropped: splats or pairs lost to full buffers.
        psnr, ssim: quality against the full-quality render of the same frame (NaN if not measured).
        render_scale: fraction of the image's width and height the splats were rendered at.
        lod_drawn: LOD nodes the cut drew (0: no LOD). lod_tau: the cut's tau (pixels).
        change: mean absolute change of the image since the previous frame minus that of the
            full-quality render (what LOD popping adds; NaN for the first frame or unmeasured).
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

    def attach(self, stats: FrameStats, backend: str) -> None:
        """Take the renderer's numbers for this frame."""
        self.pass_ms = dict(stats.pass_ms)
        self.visible = stats.visible
        self.drawn = stats.pairs if backend == "tiles" else stats.visible
        self.dropped = stats.dropped
        self.render_scale = stats.render_scale
        self.lod_drawn = stats.lod_drawn
        self.lod_tau = stats.lod_tau if stats.lod_drawn else math.nan


@dataclass
class Target:
    """A configuration, its renderer, the scene it draws and the frames it has recorded.

    Attributes:
        controller: the frame-rate target of a `target_fps` LOD configuration, else None; it
            sees every frame's time, warm-up frames included (timed with `finish`).
        finish: waits for the GPU (ctx.finish), to time warm-up frames for the controller.
    """

    config: BenchConfig
    renderer: Renderer
    scene: Any  # a GpuScene (whatever the renderer draws, for fakes in tests)
    output: moderngl.Framebuffer | None = None
    records: list[FrameRecord] = field(default_factory=list)
    controller: FrameRateController | None = None
    finish: Callable[[], None] | None = None
    _waiting: dict[int, FrameRecord] = field(default_factory=dict)

    def render(self, camera: Camera) -> None:
        """Render one untimed frame (stats that arrive still go to their timed frame)."""
        if self.controller is not None and self.finish is not None:
            self.finish()
            start = time.perf_counter()
            self._take(self._draw(camera))
            self.finish()
            self.controller.observe(time.perf_counter() - start)
            return
        self._take(self._draw(camera))

    def inputs(self, camera: Camera) -> FrameInputs:
        """The frame's inputs: the camera, and the configuration's LOD cut and render scale."""
        quality = self.controller.moving_quality() if self.controller else Quality()
        cut, scale = frame_cut(self.config.lod, quality)
        return FrameInputs(camera, lod=cut, render_scale=scale)

    def _draw(self, camera: Camera) -> FrameStats | None:
        return self.renderer.render(
            self.scene, self.inputs(camera), self.config.render, self.output
        )

    def timed(self, camera: Camera, frame: int, finish: Callable[[], None]) -> FrameRecord:
        """Render path frame `frame` between two finish() calls and record it."""
        finish()
        start = time.perf_counter()
        stats = self._draw(camera)
        finish()
        record = FrameRecord(self.config.name, frame, (time.perf_counter() - start) * 1e3)
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

    def drain(self, camera: Camera) -> None:
        """Render untimed frames until the stats of every timed frame are in."""
        for _ in range(self.renderer.timer.lag):
            self.render(camera)


def run_interleaved(
    targets: Sequence[Target],
    cameras: Sequence[Camera],
    warmup: int,
    finish: Callable[[], None],
    before_frame: Callable[[int, Camera], None] | None = None,
    after_frame: Callable[[int, FrameRecord], None] | None = None,
) -> None:
    """Warm up, then time frame i of every target before frame i + 1 of any.

    Args:
        targets: the configurations in report order.
        cameras: the camera path, one camera per timed frame.
        warmup: untimed frames per target first (along the start of the path, interleaved too).
        finish: waits for the GPU (ctx.finish).
        before_frame: called with (frame, camera) before any target renders that frame.
        after_frame: called with (target index, record) after each timed frame, outside the
            timed region.
    """
    for k in range(warmup):
        for target in targets:
            target.render(cameras[k % len(cameras)])
    for frame, camera in enumerate(cameras):
        if before_frame is not None:
            before_frame(frame, camera)
        for index, target in enumerate(targets):
            record = target.timed(camera, frame, finish)
            if after_frame is not None:
                after_frame(index, record)
    for target in targets:
        target.drain(cameras[-1])


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
    settings, rendered by a renderer of its own (so no configuration's state can leak into it).
    """

    def __init__(
        self,
        reference: SplatRenderer,
        scene: GpuScene,
        output: AccumTarget,
        configs: int,
    ) -> None:
        self.reference = reference
        self.scene = scene
        self.output = output
        self.worst: list[WorstFrame | None] = [None] * configs
        self._image = np.empty(0, np.float32)
        self._previous: list[np.ndarray | None] = [None] * configs  # each config's last frame
        self._reference_change = math.nan  # the full render's change since the last frame

    def prepare(self, frame: int, camera: Camera) -> None:
        """Render the full-quality image of a path frame, before any configuration renders it."""
        previous = self._image
        self._image = self.reference.render_image(self.scene, FrameInputs(camera), RenderSettings())
        self._reference_change = _change(self._image, previous)

    def measure(self, index: int, record: FrameRecord) -> None:
        """Measure configuration `index`'s frame `record`, just rendered into the output."""
        image = self.output.read_rgb()
        record.psnr, record.ssim = compare(image, self._image)
        record.change = _change(image, self._previous[index]) - self._reference_change
        self._previous[index] = image
        worst = self.worst[index]
        if worst is None or record.psnr < worst.psnr:
            self.worst[index] = WorstFrame(
                record.frame, record.psnr, record.ssim, image, self._image
            )


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


@dataclass
class BenchResult:
    """All configurations of one run, plus the device and the process's peak memory."""

    runs: list[ConfigRun]
    device: DeviceInfo
    peak_rss_bytes: int


def measure(
    scene: GaussianScene,
    configs: Sequence[BenchConfig],
    cameras: Sequence[Camera],
    warmup: int,
    clock: str = "auto",
    quality: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> BenchResult:
    """Benchmark `configs` on `scene` along `cameras` in a headless GL context.

    Args:
        scene: the scene every configuration draws.
        configs: the configurations, interleaved frame by frame; the first's raster settings
            also render the quality reference.
        cameras: the path, one camera per timed frame; the first sets the image size.
        warmup: untimed frames per configuration first.
        clock: per-pass clock: "auto", "gl-timer" or "finish+wall" (`choose_clock`).
        quality: compare each timed frame with a full-quality render (PSNR, SSIM).
        progress: called with (frames done, frames in all) after each timed frame.
    """
    tree = lod_tree(scene, configs)  # before the GL context: a build takes a while
    ctx = create_headless_context()
    width, height = cameras[0].width, cameras[0].height
    output = AccumTarget(ctx)
    output.ensure_size(width, height)
    everything: list[SplatRenderer] = []
    full = GpuScene.from_scene(ctx, scene)
    if tree is not None:
        attach_hierarchy(full, tree)
    scenes = [full]
    try:
        renderers = [SplatRenderer(ctx, config.raster, clock) for config in configs]
        reference = SplatRenderer(ctx, configs[0].raster, clock) if quality else None
        everything = renderers + ([reference] if reference else [])
        pruned = pruned_scenes(ctx, scene, full, configs, renderers[0], tree)
        scenes += [s for s in pruned if s is not full]
        targets = [
            Target(c, r, s, output.framebuffer, controller=frame_rate_controller(c, scene.count),
                   finish=ctx.finish)
            for c, r, s in zip(configs, renderers, pruned, strict=True)
        ]  # fmt: skip
        probe = QualityProbe(reference, full, output, len(configs)) if reference else None
        total = len(cameras) * len(targets)

        def after_frame(index: int, record: FrameRecord) -> None:
            if probe is not None:
                probe.measure(index, record)
            if progress is not None:
                progress(record.frame * len(targets) + index + 1, total)

        run_interleaved(
            targets, cameras, warmup, ctx.finish, probe.prepare if probe else None, after_frame
        )
        runs = [
            ConfigRun(
                config=t.config,
                records=t.records,
                backend=r.backend,
                sort=r.sort_kind,
                clock=r.timer.clock,
                gpu_bytes=r.gpu_bytes,
                worst=probe.worst[i] if probe else None,
            )
            for i, (t, r) in enumerate(zip(targets, renderers, strict=True))
        ]
        return BenchResult(runs, DeviceInfo.of(ctx), peak_rss_bytes())
    finally:
        for renderer in everything:
            renderer.release()
        for gpu_scene in scenes:
            gpu_scene.release()
        output.release()
        ctx.release()


def lod_tree(scene: GaussianScene, configs: Sequence[BenchConfig]) -> LodHierarchy | None:
    """The scene's LOD tree when a configuration draws LOD (cached; a progress bar on stderr)."""
    if not any(config.lod.enabled for config in configs):
        return None
    tree, _ = cached_hierarchy(scene, TerminalProgress("building the LOD tree"))
    return tree


def frame_rate_controller(config: BenchConfig, gaussians: int) -> FrameRateController | None:
    """The controller of a `target_fps` LOD configuration, else None."""
    lod = config.lod
    if not (lod.enabled and lod.cut == "target_fps"):
        return None
    return FrameRateController(lod.target_fps, gaussians, lod.min_scale)


def pruned_scenes(
    ctx: moderngl.Context,
    scene: GaussianScene,
    full: GpuScene,
    configs: Sequence[BenchConfig],
    renderer: SplatRenderer,
    tree: LodHierarchy | None = None,
) -> list[GpuScene]:
    """The scene each config draws: `full`, or a pruned copy on the GPU for a config that prunes.

    A copy carries its pruning flags (and the LOD tree, whose merged nodes are hidden where all
    their children are); the scores are cached, all outside any timing.
    """
    from viewer.features.pruning import keep_mask, prune_flags
    from viewer.features.score_cache import cached_scores

    scores: dict[tuple[int, int, float], dict[str, np.ndarray]] = {}
    out = []
    for config in configs:
        prune, near = config.prune, config.render.near_plane
        if not prune.active:
            out.append(full)
            continue
        made_of = (prune.views, prune.view_width, near)  # what the scores depend on
        if made_of not in scores:
            scores[made_of] = cached_scores(renderer, full, scene, prune, near)
        copy = GpuScene.from_scene(ctx, scene, renderer.device)
        flags = prune_flags(keep_mask(scores[made_of][prune.score], prune))
        if tree is not None:
            attach_hierarchy(copy, tree)
            flags = node_flags(tree, flags)
        copy.write_flags(flags)
        out.append(copy)
    return out


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
