"""The viewer's foveated rendering: the scene's nested subsets, the gaze, the region readout.

The subsets are ranked by a pruning score, which the pruning state loads from the cache or
measures (a view per frame); until it is known the frame is drawn in full. With the `mouse`
gaze the fovea follows the pointer while it is over the view (and stays where it left it).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.features.foveation import frame_gaze, region_fovea, scene_levels
from viewer.features.lod_hierarchy import LodHierarchy
from viewer.image_metrics import compare_regions
from viewer.render.fovea import fovea_mask, outlines
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.settings import FoveationSettings, RenderSettings
from viewer.stats import FrameStats

TIMED_PAIRS = 3  # frames as drawn and full renders timed, interleaved, for the readout


@dataclass(frozen=True)
class RegionQuality:
    """The view as drawn against the full render, by region (the panel's readout).

    The full render: no foveation, no LOD cut, nothing pruned, full resolution.

    Attributes:
        fovea, periphery, whole: (PSNR dB, SSIM) of the fovea (level 0 of the settings), the
            rest of the image, and the whole image.
        time_ratio: median frame time as drawn over the full render's.
        drawn_ms, full_ms: the two median frame times (milliseconds).
    """

    fovea: tuple[float, float]
    periphery: tuple[float, float]
    whole: tuple[float, float]
    time_ratio: float
    drawn_ms: float
    full_ms: float


@dataclass(frozen=True)
class FoveaFacts:
    """What the panel's foveation section shows.

    Attributes:
        waiting: why the subsets are not drawn yet ("" when they are, or not wanted).
        culled: Gaussians in view the newest frame left out by foveation.
        quality: the last region readout, or None.
    """

    waiting: str = ""
    culled: int = 0
    quality: RegionQuality | None = None


class FoveaState:
    """Foveation of one scene on one renderer; `update` once per frame, before it is drawn.

    Attributes:
        pointer: the mouse pointer's last position over the view (framebuffer pixels), or None.
        quality: the last region readout, or None.
    """

    def __init__(self, renderer: SplatRenderer, gpu_scene: GpuScene) -> None:
        self.renderer = renderer
        self.gpu_scene = gpu_scene
        self.pointer: tuple[float, float] | None = None
        self.quality: RegionQuality | None = None
        self._levels_of: tuple[Any, ...] | None = None  # what the levels on the GPU were made of
        self._waiting = ""
        # the last outlines, by their inputs
        self._outlines: tuple[tuple[Any, ...], list[np.ndarray]] | None = None

    @staticmethod
    def wanted_score(settings: FoveationSettings) -> str | None:
        """The pruning score the settings rank the subsets by, or None when none is drawn."""
        if settings.enabled and settings.source == "subsets":
            return settings.subset_score
        return None

    def update(
        self,
        settings: FoveationSettings,
        scores: dict[str, np.ndarray],
        scores_version: int,
        tree: LodHierarchy | None,
        lod_cut: bool = False,
    ) -> None:
        """Upload the nested subsets when the settings, the scores or the LOD tree changed.

        Args:
            settings: the foveation settings.
            scores: the pruning scores known so far, by name.
            scores_version: changes whenever `scores` does.
            tree: the LOD tree attached to the GPU scene, or None.
            lod_cut: whether frames are drawn through an LOD cut (the `lod` source needs one).
        """
        name = self.wanted_score(settings)
        if name is None:
            lod_wanted = settings.enabled and settings.source == "lod" and not lod_cut
            self._waiting = "the lod source coarsens the LOD cut: enable LOD" if lod_wanted else ""
            return
        if name not in scores:
            self._waiting = f"drawn in full until the {name} scores are known"
            return
        self._waiting = ""
        made_of = (name, settings.shares, scores_version, tree is not None)
        if made_of != self._levels_of:
            self.gpu_scene.write_levels(scene_levels(scores[name], settings, tree))
            self._levels_of = made_of
            self.quality = None

    def gaze(self, settings: FoveationSettings, camera: Camera) -> tuple[float, float] | None:
        """Where the viewer looks in `camera`'s pixels (None: the centre), by `settings`."""
        return frame_gaze(settings, camera, self.pointer)

    def outlines(self, camera: Camera, settings: FoveationSettings) -> list[np.ndarray]:
        """The level borders of `settings` over `camera`'s image (pixels): [] when not shown."""
        if not (settings.enabled and settings.outline):
            return []
        fovea, gaze = region_fovea(settings), self.gaze(settings, camera)
        c = camera
        key = (c.width, c.height, c.fx, c.fy, c.cx, c.cy, fovea, gaze)  # not the pose
        if self._outlines is None or self._outlines[0] != key:  # 7-15 ms at 1280x720
            self._outlines = (key, outlines(camera, fovea, gaze))
        return self._outlines[1]

    def compare(
        self,
        inputs: FrameInputs,
        render: RenderSettings,
        settings: FoveationSettings,
        finish: Callable[[], None],
    ) -> RegionQuality:
        """Measure the view as drawn (`inputs`) against the full render; kept in `quality`.

        Args:
            inputs: the frame's inputs as drawn (foveation, LOD cut, render scale, pruning).
            render: the render settings.
            settings: the foveation settings (their level 0 is the fovea region).
            finish: waits for the GPU (ctx.finish), to time frames.
        """
        full = dataclasses.replace(
            inputs, fovea=None, gaze=None, lod=None, render_scale=1.0,
            flag_mask=inputs.flag_mask & ~FLAG_PRUNED,
        )  # fmt: skip
        drawn_image = self.renderer.render_image(self.gpu_scene, inputs, render)
        full_image = self.renderer.render_image(self.gpu_scene, full, render)
        mask = fovea_mask(inputs.camera, region_fovea(settings), self.gaze(settings, inputs.camera))
        metrics = compare_regions(drawn_image, full_image, mask)
        times: dict[str, list[float]] = {"drawn": [], "full": []}
        for _ in range(TIMED_PAIRS):
            for name, frame in (("drawn", inputs), ("full", full)):
                finish()
                start = time.perf_counter()
                self.renderer.render(self.gpu_scene, frame, render, self.renderer.image.framebuffer)
                finish()
                times[name].append((time.perf_counter() - start) * 1e3)
        drawn_ms, full_ms = (statistics.median(times[name]) for name in ("drawn", "full"))
        self.quality = RegionQuality(
            fovea=(metrics["fovea_psnr"], metrics["fovea_ssim"]),
            periphery=(metrics["periphery_psnr"], metrics["periphery_ssim"]),
            whole=(metrics["psnr"], metrics["ssim"]),
            time_ratio=drawn_ms / full_ms,
            drawn_ms=drawn_ms,
            full_ms=full_ms,
        )
        return self.quality

    def facts(self, latest: FrameStats | None) -> FoveaFacts:
        """What the panel shows of it, with the newest frame's stats."""
        return FoveaFacts(
            waiting=self._waiting,
            culled=latest.fovea_culled if latest else 0,
            quality=self.quality,
        )
