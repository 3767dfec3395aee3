"""The raster seam: what draws a frame's depth-sorted splats, and what a backend must offer.

After the LOD cut, preprocess and the depth sort, the frame's visible splats lie in the frame
buffers (`FrameBuffers`: the `SPLAT_DTYPE` records, their depth order in `sorted_splats`, the
counters). A `Raster` draws them into the accumulation image (premultiplied colour, A = 1 - T)
in the same calls for every kind:

    if raster.bins:  raster.bin(job)          (timed as "bin")
    raster.draw(job, target)                  (timed as "raster")

A frame drawn in parts (`SplatRenderer.start`: the window keeps its UI rate while a slow device
draws) asks `raster.parts(job)` and draws ranges of them in order, `raster.draw(job, target,
range(a, b))`, into the same target: the quads draw a range of the depth order (back to front,
so consecutive ranges blend as one draw), the tiles a band of tile rows.

A `RasterBackend` is a raster the colour, depth and heatmap modes can use and that measures
views too (`measure`: per pixel the top Gaussian, blended counts, median depth; per Gaussian
its alpha*T sum and tiles, for picking, pivots and pruning scores). The GPU ones are `quads`
(viewer/render/raster_quads.py) and `tiles` (viewer/render/raster_tiles.py); `cpu`
(viewer/render/raster_cpu.py) bins and composites on the host's cores, for software GL devices. The
points and outlines modes are `Raster`s of their own, whatever the backend, and so is the overdraw
mode except on the cpu backend, whose composite counts the splats it blends (`own_raster`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from viewer.render.accum_target import AccumTarget
from viewer.render.context import DeviceInfo
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.frame_view import FrameView
from viewer.render.gpu_scene import GpuScene
from viewer.render.host_splats import HostSplats
from viewer.settings import RenderSettings

if TYPE_CHECKING:  # the contributions pass imports this module
    from viewer.render.contributions import Contributions
    from viewer.render.tile_bins import TileBins

BACKENDS = ("quads", "tiles", "cpu")
MODE_RASTERS = ("points", "outlines", "overdraw")  # modes with a raster of their own


def own_raster(mode: str, backend: str) -> bool:
    """Whether frames of render mode `mode` are drawn by a raster of their own with `backend`.

    The overdraw mode's is the contributions pass (GL compute: 1.7 s a frame at 1280x720 on
    llvmpipe); the cpu backend counts the splats blended per pixel as it composites, by the
    same rules, so it draws that mode itself.
    """
    return mode in MODE_RASTERS and not (mode == "overdraw" and backend == "cpu")


def choose_backend(kind: str, device: DeviceInfo) -> str:
    """'auto' -> cpu on software GL, tiles on compute-first data-centre GPUs, quads elsewhere."""
    if kind == "auto":
        if device.is_software:
            return "cpu"
        return "tiles" if device.is_datacenter_gpu else "quads"
    if kind not in BACKENDS:
        raise ValueError(f"unknown raster backend {kind!r}; use auto, {' or '.join(BACKENDS)}")
    return kind


def backend_reason(kind: str, device: DeviceInfo) -> str:
    """Why `choose_backend(kind, device)` picks what it picks, for the panel and the overlay."""
    if kind != "auto":
        return "chosen"
    if device.is_software:
        return f"auto: software GL, {device.renderer.split(' (')[0]}"
    return "auto: compute-first GPU" if device.is_datacenter_gpu else "auto: a GPU"


@dataclass(frozen=True)
class RasterJob:
    """What a raster draws from: one image's sorted splats.

    Attributes:
        frame: the frame's buffers, as preprocess and the depth sort left them.
        scene: the scene drawn (its nested subsets, when `view.subsets` is set).
        view: the image and what the passes decided for it (camera, fovea, LOD cut, ...).
        settings: the render settings (mode, point size, ...).
        section: times a step of the raster under a name of its own (`FrameClock.section`, or
            one that times nothing), taken out of the enclosing "bin" or "raster".
        host: the splats when preprocess ran on the host (the cpu backend: viewer/render/
            preprocess_host.py), else None: the frame buffers hold them.
    """

    frame: FrameBuffers
    scene: GpuScene
    view: FrameView
    settings: RenderSettings
    section: Callable[[str], AbstractContextManager[None]]
    host: HostSplats | None = None


class Raster(Protocol):
    """Draws a frame's depth-sorted splats into an accumulation image.

    Attributes:
        bins: whether `draw` reads what `bin` made (the renderer then calls `bin` first, timed
            as "bin", and reports the frame's pair count).
        fovea_per_pixel: whether `draw` weighs the scene's nested subsets per pixel; preprocess
            then only drops splats of weight 0 instead of weighing each splat's opacity.
    """

    bins: bool
    fovea_per_pixel: bool

    def bin(self, job: RasterJob) -> None:
        """Prepare what `draw` reads (called only when `bins`)."""
        ...

    def parts(self, job: RasterJob) -> int:
        """How many parts `draw` can draw `job` in, one range at a time (1: only whole)."""
        ...

    def draw(self, job: RasterJob, target: AccumTarget, parts: range | None = None) -> None:
        """Draw `job`'s splats into `target` (sized to the view).

        Args:
            job: the sorted splats.
            target: overwritten by a whole draw, and by the range that starts at part 0.
            parts: None: the whole frame; else these of `parts(job)` parts, after the ones
                before them were drawn into `target`.
        """
        ...

    @property
    def tile_bins(self) -> TileBins | None:
        """The GPU tile bins `draw` read this frame (the validation switch checks them)."""
        ...

    def release(self) -> None:
        """Free what the raster holds (shared passes are released by their owner)."""
        ...


class RasterBackend(Raster, Protocol):
    """A raster of the colour modes that also measures views (see the module's docstring)."""

    name: str

    def measure(
        self, job: RasterJob, gaussians: int, pixel: tuple[int, int] | None
    ) -> Contributions:
        """Measure `job`'s view (waits for the GPU).

        Args:
            job: the view's sorted splats (drawn without nested subsets).
            gaussians: sum each of this many rows' alpha*T over the image and count its tiles;
                0: neither.
            pixel: (x, y): measure only the 16x16 tile holding this pixel (picking).
        """
        ...
