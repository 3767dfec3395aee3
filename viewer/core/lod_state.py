"""The viewer's level of detail: the scene's LOD tree, its cut each frame, the frame-rate target.

The tree is loaded from the cache or built on a worker thread once LOD is first enabled (a
progress bar in the panel and on stderr), then attached to the GPU scene: its merged nodes
follow the scene's Gaussians there and stay attached (frames without LOD draw the leaves only).
Under the `target_fps` cut a `FrameRateController` picks each moving frame's budget and render
scale from the measured period between the frames shown (drawn whole or in parts over several
UI frames); once the camera stops, the next frame is drawn at full quality (the tau cut at full
resolution).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.features.lod_cache import HierarchyJob
from viewer.features.lod_controller import Detail, FrameRateController, frame_cut
from viewer.features.lod_gpu import attach_hierarchy, node_flags, node_values
from viewer.features.lod_hierarchy import LodHierarchy
from viewer.image_metrics import compare
from viewer.progress import Progress
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import LodSettings, RenderSettings
from viewer.stats import FrameStats


@dataclass(frozen=True)
class LodFacts:
    """What the panel's LOD section shows.

    Attributes:
        building: fraction of the tree built while it is being built (or loaded), else None.
        nodes: merged nodes of the tree (0 before it is ready). levels: its deepest level.
        origin: how the tree came ("built in 1.2 s", "from the cache"), "" before.
        drawn: nodes drawn in the newest frame (0: no LOD cut). tau: its threshold (pixels).
        drawn_per_level: nodes drawn per level in that frame (0: the scene's Gaussians).
        render_scale: the newest frame's render scale.
        target: (budget, render scale) the frame-rate target uses while moving, or None.
        quality: (PSNR dB, SSIM) of the view against the full render, once compared.
        error: why the tree could not be made, or "".
        showing_levels: whether the view shows the level heat map (the button turns it off).
    """

    building: float | None = None
    nodes: int = 0
    levels: int = 0
    origin: str = ""
    drawn: int = 0
    tau: float = 0.0
    drawn_per_level: tuple[int, ...] = ()
    render_scale: float = 1.0
    target: tuple[int, float] | None = None
    quality: tuple[float, float] | None = None
    error: str = ""
    showing_levels: bool = False


class LodState:
    """The LOD of one scene on one renderer; `update` once per frame, before it is drawn.

    Attributes:
        tree: the scene's LOD tree once ready (attached to the GPU scene), else None.
        job: the build under way, or None.
        controller: the frame-rate target's controller (cut `target_fps`), else None.
        quality: (PSNR, SSIM) of the last comparison, or None.
    """

    def __init__(self, renderer: SplatRenderer, gpu_scene: GpuScene, scene: GaussianScene) -> None:
        self.renderer = renderer
        self.gpu_scene = gpu_scene
        self.scene = scene
        self.tree: LodHierarchy | None = None
        self.job: HierarchyJob | None = None
        self.controller: FrameRateController | None = None
        self.quality: tuple[float, float] | None = None
        self.error = ""
        self.origin = ""
        self._frame = Detail()  # the detail of the frame being drawn
        self._moving_frame = False  # whether it is drawn at the moving detail
        self._camera: tuple[Any, ...] | None = None  # the last frame's view, to tell motion

    # -- per frame ------------------------------------------------------------------------------

    def update(
        self, settings: LodSettings, view: tuple[Any, ...], now: float, period: float | None
    ) -> bool:
        """Start or finish the build, and choose this frame's quality.

        Args:
            settings: the LOD settings.
            view: a hashable value of the camera (pose and intrinsics): a change is motion.
            now: the time in seconds.
            period: seconds between the last two frames shown (None: unknown, or none shown
                since the last call), the measured cost of the frame-rate target's frames.

        Returns:
            True when the tree was just attached (the GPU scene changed).
        """
        attached = self._advance_build(settings)
        moving = self._camera is not None and view != self._camera
        self._camera = view
        if settings.enabled and settings.cut == "target_fps" and self.tree is not None:
            controller = self._controller(settings)
            if period is not None and self._moving_frame:
                controller.observe(period)  # what the last frame, drawn moving, cost
            self._frame = controller.detail(moving, now)
            self._moving_frame = controller.settling(now)  # this frame is drawn moving
        else:
            self.controller, self._frame, self._moving_frame = None, Detail(), False
        return attached

    def _advance_build(self, settings: LodSettings) -> bool:
        if settings.enabled and self.tree is None and self.job is None and not self.error:
            self.job = HierarchyJob(self.scene, Progress("building the LOD tree").fraction)
        if self.job is None or not self.job.done:
            return False
        job, self.job = self.job, None
        try:
            tree = job.result()
            attach_hierarchy(self.gpu_scene, tree)
        except Exception as exc:  # out of memory, a scene the tree cannot hold: say so, go on
            self.error = f"level of detail unavailable: {exc}"
            return False
        self.tree = tree
        self.origin = "from the cache" if job.cached else f"built in {job.seconds:.1f} s"
        print(f"splatscope: LOD tree of {tree.node_count - tree.leaf_count:,} merged nodes "
              f"{self.origin}", file=sys.stderr, flush=True)  # fmt: skip
        return True

    def _controller(self, settings: LodSettings) -> FrameRateController:
        pixels_first = self.renderer.pixel_bound
        wanted = (settings.target_fps, settings.min_scale, pixels_first)
        current = self.controller
        if (
            current is None
            or (current.target_fps, current.min_scale, current.pixels_first) != wanted
        ):
            self.controller = FrameRateController(
                settings.target_fps, self.scene.count, settings.min_scale,
                pixels_first=pixels_first,
            )  # fmt: skip
        assert self.controller is not None
        return self.controller

    def busy(self, now: float) -> bool:
        """Whether frames must keep coming: a build under way, or a full frame still owed."""
        return self.job is not None or (
            self.controller is not None and self.controller.settling(now)
        )

    def cut(self, settings: LodSettings) -> tuple[LodCut | None, float]:
        """This frame's (LOD cut, render scale); (None, 1) until the tree is attached."""
        if self.tree is None:
            return None, 1.0
        return frame_cut(settings, self._frame)

    # -- what else uses the nodes --------------------------------------------------------------

    def node_flags(self, leaf_flags: np.ndarray) -> np.ndarray:
        """The flags to upload for the scene's Gaussians' `leaf_flags`: all rows when attached."""
        if self.tree is None:
            return leaf_flags
        return node_flags(self.tree, leaf_flags)

    def node_heat(self, leaf_values: np.ndarray) -> np.ndarray:
        """The heat values to upload for the scene's Gaussians' `leaf_values`.

        All rows once the tree is attached (a merged node shows the mean of its children).
        """
        if self.tree is None:
            return leaf_values
        return node_values(self.tree, leaf_values)

    @property
    def means(self) -> np.ndarray:
        """[rows, 3] centres of every row of the GPU scene (merged nodes too once attached)."""
        return self.scene.means if self.tree is None else self.tree.means

    def level_of(self, index: int) -> int:
        """The level of row `index` (0: one of the scene's Gaussians)."""
        return 0 if self.tree is None else int(self.tree.level[index])

    def compare(self, inputs: FrameInputs, render: RenderSettings) -> tuple[float, float]:
        """(PSNR, SSIM) of the view as drawn against the full render; kept in `quality`.

        As drawn: `inputs` with its LOD cut and render scale; the full render: no LOD, full
        resolution.
        """
        drawn = self.renderer.render_image(self.gpu_scene, inputs, render)
        full = dataclasses.replace(inputs, lod=None, render_scale=1.0)
        self.quality = compare(drawn, self.renderer.render_image(self.gpu_scene, full, render))
        return self.quality

    def facts(self, latest: FrameStats | None) -> LodFacts:
        """What the panel shows of it, with the newest frame's stats."""
        tree, controller = self.tree, self.controller
        target = None
        if controller is not None:
            moving = controller.moving_detail()
            target = (moving.budget or self.scene.count, moving.scale)
        return LodFacts(
            building=None if self.job is None else self.job.fraction,
            nodes=0 if tree is None else tree.node_count - tree.leaf_count,
            levels=0 if tree is None else int(tree.level.max()),
            origin=self.origin,
            drawn=latest.lod_drawn if latest else 0,
            tau=latest.lod_tau if latest else 0.0,
            drawn_per_level=latest.lod_levels if latest else (),
            render_scale=latest.render_scale if latest else 1.0,
            target=target,
            quality=self.quality,
            error=self.error,
        )
