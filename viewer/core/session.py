"""One scene on the GPU with its features; `update` turns settings and a camera into a frame.

The order of a frame's work is written once, here, for the window and for `render`:
pruning scores (loaded, or measured a view per update) -> the pruning flags -> the heat-map
values -> the LOD tree (built on a worker thread, then attached) and this frame's cut ->
foveation's nested subsets -> the frame's `FrameInputs` (camera, cut, render scale, fovea, gaze).
Whatever changes goes to the GPU scene as it changes; a frame that changes nothing writes
nothing.

A live model whose rows change in place (densification) calls `rows_changed`: the GPU scene
already holds the new rows, so nothing is copied back to the host then. The host copy of the
scene (and the states made from it: pruning scores, the LOD tree, histograms, crop and
selection) is taken again only when something reads it: a pick, the crop box, pruning, a heat
map of per-Gaussian values, the inspection panel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.core.fovea_state import FoveaState, RegionQuality
from viewer.core.frame import frame_inputs
from viewer.core.inspection import (
    CropBox,
    GaussianDetails,
    Histogram,
    crop_flags,
    gaussian_details,
    scene_histograms,
    selection_flags,
    surface_depth,
)
from viewer.core.lod_state import LodFacts, LodState
from viewer.core.pruning_state import PruneFacts, PruningState
from viewer.features.flags import FlagLayers
from viewer.features.lod_cache import HierarchyJob
from viewer.features.pruning import ViewScoreJob, prune_flags
from viewer.render.budget import frame_capacity
from viewer.render.contributions import OVERDRAW_MAX
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import NO_GAUSSIAN
from viewer.render.preprocess import depth_range
from viewer.render.renderer import SplatRenderer
from viewer.scalars import HeatValues, heat_values
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import (
    PRUNING_SCORES,
    VIEW_SCORES,
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RenderSettings,
    StreamSettings,
)
from viewer.stats import FrameStats
from viewer.stream.scene_stream import SceneStream


@dataclasses.dataclass(frozen=True)
class Pick:
    """What is under a pixel: the Gaussian adding most to it, and the surface's depth.

    Attributes:
        index: that Gaussian's row, or None when no Gaussian reaches the pixel.
        weight: its alpha x transmittance there.
        depth: camera depth where the pixel becomes half opaque, or None when it never does.
        point: the world point at that depth, or None.
    """

    index: int | None
    weight: float
    depth: float | None
    point: np.ndarray | None


class ViewerSession:
    """A scene on one renderer with its flag layers, pruning, LOD and foveation.

    Attributes:
        scene: the scene on the host. gpu_scene: it on the GPU.
        flags: the CPU flag layers (crop, selection, pruning), composed for the GPU.
        pruning, lod, fovea: the features' states.
        crop: the crop box. selected: the picked Gaussian's details, or None.
        heat: the heat-map values on the GPU, or None. histograms: the scene's, for the panel.
    """

    def __init__(
        self, renderer: SplatRenderer, scene: GaussianScene, gpu_scene: GpuScene | None = None
    ) -> None:
        """Upload `scene` (or take `gpu_scene`, which holds it already: a live training's)."""
        self.renderer = renderer
        self.gpu_scene = gpu_scene or GpuScene.from_scene(renderer.ctx, scene, renderer.device)
        self.stream = (
            None
            if scene.streamed is None
            else SceneStream(self.gpu_scene, scene, frame_capacity(renderer.device))
        )
        self.fovea = FoveaState(renderer, self.gpu_scene)
        self.crop = CropBox.around(*scene.bounds)
        self._use_host(scene)
        self._refresh: Callable[[], GaussianScene] | None = None  # set while the host copy is stale

    def _use_host(self, scene: GaussianScene) -> None:
        """Make every row-indexed state anew from the host copy `scene`."""
        self._scene = scene
        self.flags = FlagLayers(scene.count)
        self.selected: GaussianDetails | None = None
        self.heat: HeatValues | None = None
        self._pruning: PruningState | None = None  # made when first needed (from the host copy)
        self._lod: LodState | None = None
        self._histograms: tuple[Histogram, ...] | None = None
        self._heat_of: tuple[Any, ...] = ()  # (value name, scores version) that `heat` holds
        # (settings, scores version) the pruning flags were made of
        self._pruned_by: tuple[Any, ...] = ()

    # -- the host copy and the states made from it -------------------------------------------

    @property
    def scene(self) -> GaussianScene:
        """The scene on the host (copied back from the GPU's source first if rows changed)."""
        if self._refresh is not None:
            refresh, self._refresh = self._refresh, None
            self._use_host(refresh())
            if self.crop.enabled:  # the other layers start empty, as the GPU's flags are
                self.set_flags("crop", crop_flags(self._scene.means, self.crop))
        return self._scene

    @property
    def host_stale(self) -> bool:
        """Whether rows changed since the host copy was taken (`rows_changed`)."""
        return self._refresh is not None

    def rows_changed(self, refresh: Callable[[], GaussianScene]) -> None:
        """The GPU scene's rows changed in place (a live model densified): count and order.

        Nothing is copied now: `refresh` makes the host copy when something first reads it.
        Until then the frame draws every row (flags cleared: a crop box, a selection or pruning
        are applied again once the host copy is back).
        """
        self._refresh = refresh
        self._pruning, self._lod, self._histograms = None, None, None
        self.selected, self.heat, self._heat_of, self._pruned_by = None, None, (), ()
        self.flags = FlagLayers(self.gpu_scene.count)
        self.gpu_scene.write_flags(np.zeros(self.gpu_scene.count, np.uint32))

    @property
    def pruning(self) -> PruningState:
        """The pruning scores' state (made on first use)."""
        if self._pruning is None:
            scene = self.scene
            self._pruning = PruningState(self.renderer, self.gpu_scene, scene)
        return self._pruning

    @property
    def lod(self) -> LodState:
        """The level of detail's state (made on first use)."""
        if self._lod is None:
            scene = self.scene
            self._lod = LodState(self.renderer, self.gpu_scene, scene)
        return self._lod

    @property
    def target_fps(self) -> float | None:
        """The LOD frame-rate target's rate while it chooses the frames' detail, else None."""
        controller = None if self._lod is None else self._lod.controller
        return None if controller is None else controller.target_fps

    @property
    def host(self) -> GaussianScene:
        """The host copy as it is, without copying again (it may be older than the GPU rows)."""
        return self._scene

    def pruning_facts(self, settings: PruneSettings) -> PruneFacts:
        """What the panel shows of pruning (nothing is made for it)."""
        return PruneFacts() if self._pruning is None else self._pruning.facts(settings)

    def lod_facts(self, latest: FrameStats | None) -> LodFacts:
        """What the panel shows of the LOD (nothing is made for it)."""
        return LodFacts() if self._lod is None else self._lod.facts(latest)

    @property
    def histograms(self) -> tuple[Histogram, ...]:
        """Opacity and scale histograms of the scene (made on first use)."""
        if self._histograms is None:  # dropped with the host copy (rows_changed)
            self._histograms = scene_histograms(self.scene)
        return self._histograms

    # -- the frame ------------------------------------------------------------------------------

    def update(
        self, settings: SettingsSet, camera: Camera, now: float, period: float | None
    ) -> FrameInputs:
        """Bring the GPU scene up to `settings` and return the frame's inputs for `camera`.

        Args:
            settings: every settings group (render, pruning, LOD, foveation are read).
            camera: the view (a change of it is motion, for the frame-rate target).
            now: the time in seconds.
            period: seconds between the last two splat frames shown (None: unknown, or no
                frame finished since the last call), for the frame-rate target.
        """
        self._update_stream(settings, camera)
        self._update_pruning(settings)
        self._update_heat(settings.of(RenderSettings))
        fov, lod = settings.of(FoveationSettings), self._lod_settings(settings)
        view = FrameInputs(camera).key()
        if (lod.enabled or self._lod is not None) and self.lod.update(lod, view, now, period):
            self._upload_flags()  # the nodes are in: they need the leaves' flags and heat too
            self._heat_of = ()
            self._update_heat(settings.of(RenderSettings))
        tree = None if self._lod is None else self._lod.tree
        lod_cut = lod.enabled and tree is not None
        if self.fovea.wanted_score(fov) is None:
            self.fovea.update(fov, {}, 0, tree, lod_cut)
        else:
            pruning = self.pruning
            self.fovea.update(fov, pruning.scores, pruning.version, tree, lod_cut)
        return self.frame_inputs(camera, settings)

    def frame_inputs(self, camera: Camera, settings: SettingsSet) -> FrameInputs:
        """The inputs of a frame of `camera` as the settings draw it: cut, scale, fovea."""
        fov = settings.of(FoveationSettings)
        cut = (None, 1.0) if self._lod is None else self._lod.cut(self._lod_settings(settings))
        return frame_inputs(camera, cut, fov, self.fovea.gaze(fov, camera))

    def _lod_settings(self, settings: SettingsSet) -> LodSettings:
        """The LOD settings in force: off for a streamed scene (its chunks are its LOD)."""
        lod = settings.of(LodSettings)
        return LodSettings(enabled=False) if self.stream is not None else lod

    def _update_stream(self, settings: SettingsSet, camera: Camera, wait: bool = False) -> None:
        """Make what `camera` needs of a streamed scene resident (`wait`: all of it, blocking)."""
        if self.stream is None:
            return
        near = self.gpu_scene.near_plane(settings.of(RenderSettings))
        stream = settings.of(StreamSettings)
        update = self.stream.settle if wait else self.stream.update
        if update(camera, near, stream):
            self.rows_changed(self.stream.host_copy)

    def _jobs(self) -> tuple[ViewScoreJob | None, HierarchyJob | None]:
        """(view scores being measured, LOD tree being built), each None when there is none."""
        scoring = None if self._pruning is None else self._pruning.job
        return scoring, None if self._lod is None else self._lod.job

    def busy(self, now: float) -> bool:
        """Whether frames must come without input: a job under way, or a full frame owed."""
        owed = self._lod is not None and self._lod.busy(now)  # the frame-rate target's
        streaming = self.stream is not None and self.stream.refining
        return any(job is not None for job in self._jobs()) or owed or streaming

    def settle(
        self,
        settings: SettingsSet,
        camera: Camera,
        scoring: Callable[[int, int], None] | None = None,
    ) -> FrameInputs:
        """`update` until every score and tree the settings need is in (blocking; for `render`).

        Args:
            settings: as for `update`.
            camera: the view.
            scoring: called with (views done, views in all) while view scores are measured.
        """
        self._update_stream(settings, camera, wait=True)  # what `camera` needs, resident
        inputs = self.update(settings, camera, 0.0, None)
        views = 0  # of the view scores measured here
        while any(job is not None for job in self._jobs()):
            measuring, building = self._jobs()
            if measuring is not None and scoring is not None:
                views = len(measuring.views)
                scoring(measuring.done, views)
            if building is not None:
                building.result()  # waits for the worker thread
            inputs = self.update(settings, camera, 0.0, None)
        if views and scoring is not None:
            scoring(views, views)
        return inputs

    def _update_pruning(self, settings: SettingsSet) -> None:
        """Load or measure the view scores once something needs them; keep the flags current.

        The view scores are needed for pruning by a view score, for its heat map, or to rank
        foveation's subsets; they are measured a view per update.
        """
        render, prune = settings.of(RenderSettings), settings.of(PruneSettings)
        shown = render.heatmap if render.mode == "heatmap" else None
        ranked_by = self.fovea.wanted_score(settings.of(FoveationSettings))
        wanted = any(
            name in VIEW_SCORES
            for name in (prune.score if prune.active else None, shown, ranked_by)
        )
        if self._pruning is None and not (wanted or prune.active):
            return  # nothing reads scores: the host copy is not needed for them
        if self.stream is not None:
            return  # the resident rows change as the camera moves: nothing to prune
        self.pruning.update(prune, render.near_plane, wanted)
        made_of = (prune, self.pruning.version)
        if made_of != self._pruned_by:
            self._pruned_by = made_of
            keep = self.pruning.keep(prune)
            self.set_flags("pruning", None if keep is None else prune_flags(keep))
            self.pruning.quality = None

    def _update_heat(self, render: RenderSettings) -> None:
        """Upload the heat-map values when the mode shows other values than the GPU holds."""
        if render.mode != "heatmap" or render.heatmap == "lod_level":
            return
        wanted = (render.heatmap, self.pruning.version)
        if wanted == self._heat_of:
            return
        if render.heatmap in PRUNING_SCORES and render.heatmap not in self.pruning.scores:
            return  # still being measured
        self.heat = heat_values(self.scene, render.heatmap, self.pruning.scores)
        self.gpu_scene.write_heat(self._node_rows(self.heat.values, heat=True))
        self._heat_of = wanted

    # -- flags: crop, selection, pruning ---------------------------------------------------------

    def set_flags(self, layer: str, flags: np.ndarray | None) -> None:
        """Replace one feature's flag layer and upload the composed flags."""
        self.flags.set(layer, flags)
        self._upload_flags()

    def _upload_flags(self) -> None:
        self.gpu_scene.write_flags(self._node_rows(self.flags.compose(), heat=False))

    def _node_rows(self, leaves: np.ndarray, heat: bool) -> np.ndarray:
        """Per-leaf values extended to the LOD tree's nodes when one is attached."""
        if self._lod is None:
            return leaves
        return self._lod.node_heat(leaves) if heat else self._lod.node_flags(leaves)

    def set_crop(self, crop: CropBox) -> None:
        """Hide the Gaussians outside `crop` (when it is enabled)."""
        if crop != self.crop:
            self.crop = crop
            self.set_flags("crop", crop_flags(self.scene.means, crop))

    def select(self, index: int | None, weight: float = 0.0) -> None:
        """Highlight Gaussian `index` and keep its details (None: clear the selection)."""
        if index is None:
            self.selected = None
            self.set_flags("selection", None)
            return
        self.selected = gaussian_details(self.scene, index, weight)
        self.set_flags("selection", selection_flags(self.scene.count, [index]))

    def pick(self, inputs: FrameInputs, pixel: tuple[int, int], render: RenderSettings) -> Pick:
        """What is under `pixel` of the frame `inputs` (one measuring render)."""
        measured = self.renderer.measure(self.gpu_scene, inputs, render, pixel=pixel)
        record = measured.pixels[pixel[1], pixel[0]]
        index = int(record["top_gaussian"])
        camera = inputs.camera
        depth = surface_depth(record, camera, self.scene.means)
        point = None if depth is None else camera.unproject(pixel[0] + 0.5, pixel[1] + 0.5, depth)
        return Pick(
            None if index == NO_GAUSSIAN else index, float(record["top_weight"]), depth, point
        )

    # -- comparisons and outputs -----------------------------------------------------------------

    def compare_pruning(self, camera: Camera, render: RenderSettings) -> tuple[float, float]:
        """(PSNR, SSIM) of the view pruned against unpruned."""
        return self.pruning.compare(FrameInputs(camera), render)

    def compare_lod(self, camera: Camera, settings: SettingsSet) -> tuple[float, float]:
        """(PSNR, SSIM) of the view through this frame's LOD cut against the full render."""
        inputs = frame_inputs(camera, self.lod.cut(settings.of(LodSettings)), FoveationSettings())
        return self.lod.compare(inputs, settings.of(RenderSettings))

    def compare_fovea(
        self, camera: Camera, settings: SettingsSet, finish: Callable[[], None]
    ) -> RegionQuality:
        """The frame as drawn against the full render, by region, with the time ratio."""
        inputs = self.frame_inputs(camera, settings)
        render, fov = settings.of(RenderSettings), settings.of(FoveationSettings)
        return self.fovea.compare(inputs, render, fov, finish)

    def save_pruned(self, settings: PruneSettings, path: str) -> int:
        """Write the Gaussians pruning keeps to `path`; returns how many.

        Raises:
            SceneError: when nothing is pruned yet or the file cannot be written.
        """
        return self.pruning.save(settings, path)

    def heat_range(self, camera: Camera, render: RenderSettings) -> tuple[str, str]:
        """What the ends of the colour scale mean in the render mode, or ("", "")."""
        if render.mode == "depth":
            bounds, near_plane = self.gpu_scene.bounds, self.gpu_scene.near_plane(render)
            near, far = depth_range(camera, bounds, near_plane)
            return f"camera z {near:.3g}", f"{far:.3g}"
        if render.mode == "heatmap" and render.heatmap == "lod_level":
            return "level 0: the scene's Gaussians", f"level {self.gpu_scene.lod_levels}"
        if render.mode == "heatmap" and self.heat is not None:
            return self.heat.low, self.heat.high
        if render.mode == "overdraw":
            return "1 splat per pixel", f"{OVERDRAW_MAX:.0f}+"
        return "", ""

    def release(self) -> None:
        """Free the GPU scene (and stop streaming)."""
        if self.stream is not None:
            self.stream.close()
        self.gpu_scene.release()
