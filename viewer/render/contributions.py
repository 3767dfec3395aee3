"""Contributions pass: how much each splat adds to each pixel, and the overdraw mode's colouring.

The pass is contributions.comp, the colouring overdraw.comp.

It walks the tile bins (viewer/render/tile_bins.py) exactly as tiles_raster.comp does, but
instead of a colour it keeps, per pixel, a `PIXEL_DTYPE` record (the splat of largest weight
alpha*T, the number of splats blended, the depth where T reaches 0.5) and, per Gaussian, the sum
of its weights over the image in fixed point. Picking, the orbit pivot, the overdraw mode and
pruning scores read these: `GpuMeasure` is how the GPU backends measure, `OverdrawRaster` the
overdraw mode's raster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.layout import (
    BINDING_CONTRIBUTIONS,
    BINDING_PAIR_SPLATS,
    BINDING_PIXELS,
    BINDING_TILE_RANGES,
    PIXEL_DTYPE,
    TILE_SIZE,
)
from viewer.render.programs import ViewportUniforms, compute_shader, set_uniforms
from viewer.render.raster import RasterJob
from viewer.render.tile_bins import TileBins, tile_grid

OVERDRAW_MAX = 256.0  # blended splats shown in the hottest colour


def weight_scale(width: int, height: int) -> float:
    """Fixed-point units per unit of weight such that no Gaussian's image sum overflows 32 bits.

    A pixel's weights sum to at most 1, so a Gaussian's sum is at most width * height; each
    pixel's rounding adds at most one unit more. At most 2^24, which float32 holds exactly.
    """
    return float(min(2**32 // (width * height) - 1, 2**24))


@dataclass(frozen=True)
class ContributionsUniforms:
    """contributions.comp's uniforms (the shader's comments say what each is)."""

    viewport: tuple[float, float]
    tile_grid: tuple[int, int]
    first_tile: tuple[int, int]
    accumulate: bool
    weight_scale: float


@dataclass(frozen=True)
class OverdrawUniforms:
    """overdraw.comp's uniforms: the image size and the count shown in the hottest colour."""

    image: ViewportUniforms
    max_blended: float


@dataclass(frozen=True)
class Contributions:
    """What the contributions pass measured for one view.

    Attributes:
        pixels: [H, W] PIXEL_DTYPE records, row 0 at the top (only the picked tile's pixels are
            filled when a single pixel was asked for; the others are zero).
        weights: [N] float64 per-Gaussian sum of alpha*T over the image, or None when not asked.
        tiles: [N] uint32 16x16 tiles each Gaussian's footprint touched (0 when culled), or None.
    """

    pixels: np.ndarray
    weights: np.ndarray | None = None
    tiles: np.ndarray | None = None


class ContributionsPass:
    """Runs contributions.comp over the binned tiles, into its own pixel and weight buffers."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.shader = compute_shader(ctx, "contributions.comp")
        self.overdraw_shader = compute_shader(ctx, "overdraw.comp")
        self.pixels = ctx.buffer(reserve=PIXEL_DTYPE.itemsize)  # [H * W] PIXEL_DTYPE
        self.weights = ctx.buffer(reserve=4)  # [N] uint32 fixed-point weight sums

    @property
    def nbytes(self) -> int:
        """GPU memory held."""
        return self.pixels.size + self.weights.size

    def fit_view(self, width: int, height: int) -> None:
        """Free a pixel buffer of a view four or more times the size of width x height.

        A pick in a huge window must not keep its memory once the window is small again; the
        buffer is made again at the next `run`.
        """
        if self.pixels.size >= 4 * max(width * height, 1) * PIXEL_DTYPE.itemsize:
            self.pixels.release()
            self.pixels = self.ctx.buffer(reserve=PIXEL_DTYPE.itemsize)

    def run(
        self,
        frame: FrameBuffers,
        bins: TileBins,
        camera: Camera,
        gaussians: int = 0,
        pixel: tuple[int, int] | None = None,
    ) -> None:
        """Measure the binned frame.

        Args:
            frame: the frame's buffers, as the preprocess pass filled them.
            bins: the frame's tile bins (their tile ranges and splat pairs).
            camera: the view binned; its size sets the pixel grid.
            gaussians: sum the weights of this many Gaussians (the scene's count); 0: do not.
            pixel: (x, y) to run only the tile holding that pixel; None: every tile.
        """
        width, height = camera.width, camera.height
        self.pixels = _sized(self.ctx, self.pixels, width * height * PIXEL_DTYPE.itemsize)
        self.pixels.clear()
        if gaussians:
            self.weights = _sized(self.ctx, self.weights, gaussians * 4)
            self.weights.clear()
        grid = tile_grid(width, height)
        first, groups = ((0, 0), grid) if pixel is None else (_tile_of(pixel), (1, 1))
        frame.bind()
        bins.pair_splats.bind_to_storage_buffer(BINDING_PAIR_SPLATS)
        bins.ranges.bind_to_storage_buffer(BINDING_TILE_RANGES)
        self.pixels.bind_to_storage_buffer(BINDING_PIXELS)
        self.weights.bind_to_storage_buffer(BINDING_CONTRIBUTIONS)
        uniforms = ContributionsUniforms(
            viewport=(float(width), float(height)),
            tile_grid=grid,
            first_tile=first,
            accumulate=bool(gaussians),
            weight_scale=weight_scale(width, height),
        )
        set_uniforms(self.shader, uniforms)
        self.shader.run(*groups)
        self.ctx.memory_barrier()

    def read(self, camera: Camera, gaussians: int = 0) -> Contributions:
        """The last run's results (waits for the GPU)."""
        count = camera.width * camera.height
        records = np.frombuffer(self.pixels.read(size=count * PIXEL_DTYPE.itemsize), PIXEL_DTYPE)
        weights = None
        if gaussians:
            sums = np.frombuffer(self.weights.read(size=gaussians * 4), np.uint32)
            weights = sums / weight_scale(camera.width, camera.height)
        return Contributions(records.reshape(camera.height, camera.width).copy(), weights)

    def colour_overdraw(self, camera: Camera, target: AccumTarget) -> None:
        """Write the last run's blended counts into `target` as heat colours."""
        self.pixels.bind_to_storage_buffer(BINDING_PIXELS)
        target.texture.bind_to_image(0, read=False, write=True)
        set_uniforms(
            self.overdraw_shader, OverdrawUniforms(ViewportUniforms.of(camera), OVERDRAW_MAX)
        )
        self.overdraw_shader.run(*tile_grid(camera.width, camera.height))
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free GL objects."""
        for obj in (self.shader, self.overdraw_shader, self.pixels, self.weights):
            obj.release()


class GpuMeasure:
    """How the GPU backends measure a view: bin it into tiles, run the contributions pass."""

    def __init__(self, contributions: ContributionsPass, bins: Callable[[], TileBins]) -> None:
        """Measure with the renderer's pass and bins (`bins()`: made on first use)."""
        self.contributions = contributions
        self._bins = bins

    def measure(
        self, job: RasterJob, gaussians: int, pixel: tuple[int, int] | None
    ) -> Contributions:
        """See `RasterBackend.measure`."""
        bins, camera = self._bins(), job.view.camera
        bins.bin(job.frame, camera, job.scene)
        self.contributions.run(job.frame, bins, camera, gaussians, pixel)
        result = self.contributions.read(camera, gaussians)
        if gaussians:
            result = dataclasses.replace(
                result, tiles=bins.tiles_of_gaussians(job.frame, gaussians)
            )
        return result


class OverdrawRaster:
    """The overdraw mode's raster: splats blended per pixel (the contributions pass), as heat."""

    bins = True
    fovea_per_pixel = False

    def __init__(self, contributions: ContributionsPass, bins: Callable[[], TileBins]) -> None:
        """Draw with the renderer's pass and bins (`bins()`: made on first use)."""
        self.contributions = contributions
        self._bins = bins

    @property
    def tile_bins(self) -> TileBins:
        """The bins the counts come from."""
        return self._bins()

    def bin(self, job: RasterJob) -> None:
        """Bin the frame into every tile its splats touch (subsets are weighed per splat)."""
        self._bins().bin(job.frame, job.view.camera, job.scene)

    def parts(self, job: RasterJob) -> int:
        """The whole frame only: one part."""
        return 1

    def draw(self, job: RasterJob, target: AccumTarget, parts: range | None = None) -> None:
        """Count the splats blended per pixel and write them into `target` as heat colours.

        Drawn whole: `parts` is None or range(1) (an empty range draws nothing).
        """
        if parts is not None and not len(parts):
            return
        camera = job.view.camera
        self.contributions.run(job.frame, self._bins(), camera)
        self.contributions.colour_overdraw(camera, target)

    def release(self) -> None:
        """Nothing of its own (the pass and the bins are the renderer's)."""


def _tile_of(pixel: tuple[int, int]) -> tuple[int, int]:
    return pixel[0] // TILE_SIZE, pixel[1] // TILE_SIZE


def _sized(ctx: moderngl.Context, buffer: moderngl.Buffer, size: int) -> moderngl.Buffer:
    """`buffer` if it holds `size` bytes and not four times more, else a new one.

    The old one is then freed: a view once huge does not keep its memory.
    """
    if size <= buffer.size < 4 * size:
        return buffer
    buffer.release()
    return ctx.buffer(reserve=size)
