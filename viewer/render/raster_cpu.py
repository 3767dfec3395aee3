"""The cpu raster backend: the tiles backend's compositing run on the host's cores (numba).

Made for software GL devices (llvmpipe), where GPU passes run on the same cores anyway but pay
per quad and per fragment, back to front, without early termination. `bin` reads the visible
splats and their depth order back from the frame buffers and bins them into 16x16 tiles
(viewer/render/cpu_kernels.py); `draw` composites rows of tiles front to back, each pixel
stopping once it is opaque, into the target's host image, which the renderer resolves on the
host (viewer/render/host_resolve.py) or uploads for the GL resolve.
Views are measured on the host too (viewer/render/cpu_measure.py). Foveated frames that
draw the scene's nested subsets weigh each splat at each pixel's level, as the tiles backend.
The periphery's tiles that a foveated-resolution inset wholly covers (`FrameView.hidden`) get
no pairs: nothing of them is shown. In the overdraw mode the composite counts the splats blended
per pixel, and `draw` colours the counts as overdraw.comp does.
"""

from __future__ import annotations

import os
import sys

import moderngl
import numpy as np

from viewer.render.accum_target import AccumTarget
from viewer.render.colormap import heat_colour
from viewer.render.contributions import OVERDRAW_MAX, Contributions
from viewer.render.fovea import LEVEL_NONE, FoveaUniforms, uniform_levels
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.jit_setup import compiled
from viewer.render.layout import (
    COUNTER_PAIRS,
    COUNTER_SATURATED,
    COUNTER_SATURATION_DEPTH,
    NO_GAUSSIAN,
    PIXEL_DTYPE,
    SPLAT_DTYPE,
    TILE_SIZE,
)
from viewer.render.raster import RasterJob
from viewer.render.tile_bins import tile_grid

LevelMap = tuple[np.ndarray, np.ndarray, np.ndarray]  # per pixel; per tile lowest, highest
LEVELS_CACHED = 4  # views whose per-pixel levels are kept (periphery and inset, two gazes)


class CpuRaster:
    """The cpu backend (a `RasterBackend`): bins and composites on the CPU, into a host image."""

    name = "cpu"
    bins = True
    fovea_per_pixel = True
    tile_bins = None  # its bins live on the host (the validation switch checks the frame only)

    def __init__(self, ctx: moderngl.Context) -> None:
        """A backend drawing and measuring with numba's threads.

        The kernels compile on the first frame and are cached in the user cache directory.
        """
        from viewer.render import cpu_kernels  # numba loads only when this backend is used

        cached = compiled("cpu_kernels") and compiled("preprocess_host")
        if sys.stderr.isatty() and not cached:  # a person waits: say why
            print(
                "splatscope: compiling the cpu raster backend's kernels (once: 10-30 s, then "
                "cached)",
                file=sys.stderr,
                flush=True,
            )
        self.ctx = ctx
        self._kernels = cpu_kernels
        self._splats = np.zeros((0, cpu_kernels.SPLAT_FLOATS), np.float32)
        self._starts = np.zeros(1, np.int64)
        self._pairs = np.zeros(0, np.int32)
        self._saturation = np.zeros((0, 2), np.int64)  # per tile: pixels saturated, their depth
        self._stored: np.ndarray | None = None  # foveated frames: per visible splat, b
        self._levels: np.ndarray | None = None  # foveated frames: per pixel, l
        self._floors: np.ndarray | None = None  # foveated frames: per tile, its lowest l
        self._ceilings: np.ndarray | None = None  # foveated frames: per tile, its highest l
        # per-pixel levels and tile bounds of the last few views (a foveated-resolution frame
        # alternates two: the periphery and the inset), by (uniforms, width, height)
        self._levels_cache: dict[tuple[FoveaUniforms, int, int], LevelMap] = {}

    def bin(self, job: RasterJob) -> None:
        """Read the visible splats and their depth order back (timed as "readback"), bin them.

        Splats made on the host (`job.host`) are binned as they are.

        The pair count goes into the frame's counters, where the renderer reports it; `draw`
        puts the saturated pixels and the splats blended into them there too.
        """
        frame, camera = job.frame, job.view.camera
        if job.host is not None:  # preprocess ran on the host: nothing to read back
            self._splats, order = job.host.records, job.host.order
            ids = job.host.ids if job.view.subsets else None
        else:
            with job.section("readback"):
                count = frame.visible_count()
                records = frame.read_splats(count)
                order = frame.read_uint(frame.sorted_splats, count)
                ids = frame.read_uint(frame.gaussian_ids, count) if job.view.subsets else None
            self._splats = records.view(np.float32).reshape(count, SPLAT_DTYPE.itemsize // 4)
        self._fovea(job, ids)
        hidden = hidden_tiles(camera.width, camera.height, job.view.hidden)
        self._starts, self._pairs = self._kernels.bin_tiles(
            self._splats, order, camera.width, camera.height, 4 * (os.cpu_count() or 1), hidden,
            self._stored, self._floors,
        )  # fmt: skip
        self._saturation = np.zeros((self._starts.size - 1, 2), np.int64)
        _write_counter(frame, COUNTER_PAIRS, self._pairs.size)

    def _fovea(self, job: RasterJob, ids: np.ndarray | None) -> None:
        """Each splat's stored levels, each pixel's level and each tile's lowest, if foveated.

        A splat whose stored levels end at or below a tile's lowest level weighs 0 at all its
        pixels, and is not binned there (the tiles backend skips it too).
        """
        fovea, camera, subsets = job.view.subsets, job.view.camera, job.scene.subsets
        if fovea is None or ids is None or subsets is None:
            self._stored, self._levels, self._floors, self._ceilings = None, None, None, None
            return
        # four uint8 to a word (`pack_levels`); rows past the stored ones keep every level
        stored = np.frombuffer(subsets.buffer.read(), np.uint8)[: subsets.rows]
        stored = np.append(stored, np.uint8(LEVEL_NONE))
        self._stored = stored[np.minimum(ids, subsets.rows)].astype(np.float32)
        key = (fovea, camera.width, camera.height)
        if key not in self._levels_cache:  # the gaze moved, or the image
            if len(self._levels_cache) >= LEVELS_CACHED:
                del self._levels_cache[next(iter(self._levels_cache))]  # the oldest
            self._levels_cache[key] = level_map(fovea, camera.width, camera.height)
        self._levels, self._floors, self._ceilings = self._levels_cache[key]

    def parts(self, job: RasterJob) -> int:
        """One part per row of tiles."""
        return tile_grid(job.view.camera.width, job.view.camera.height)[1]

    def draw(self, job: RasterJob, target: AccumTarget, parts: range | None = None) -> None:
        """Composite the binned frame, or its rows of tiles `parts`, into `target`'s host image.

        The image stays on the host (`target.on_host`): the renderer resolves it there or
        uploads it (viewer/render/host_resolve.py).
        """
        width, height = job.view.camera.width, job.view.camera.height
        parts = range(self.parts(job)) if parts is None else parts
        image = target.host_image()
        target.on_host = True
        counts = job.settings.mode == "overdraw"
        if len(parts):
            self._kernels.composite_rows(
                self._splats, self._pairs, self._starts, width, height, parts.start, parts.stop,
                image, self._stored, self._levels, self._ceilings, self._saturation, counts,
            )  # fmt: skip
            if counts:
                top, bottom = parts.start * TILE_SIZE, min(parts.stop * TILE_SIZE, height)
                colour_counts(image[height - bottom : height - top])  # rows bottom up
        saturated, depth = self._saturation.sum(axis=0)
        _write_counter(job.frame, COUNTER_SATURATED, saturated)
        _write_counter(job.frame, COUNTER_SATURATION_DEPTH, depth)

    def measure(
        self, job: RasterJob, gaussians: int, pixel: tuple[int, int] | None
    ) -> Contributions:
        """Measure the view on the host: bin it as a frame, then viewer/render/cpu_measure.py.

        The records, weights and tile counts are the contributions pass's (a Gaussian's tiles
        are those of its splat's box, as tiles_count.comp counts them); the weights are summed
        in float64 rather than in fixed point.
        """
        from viewer.render import cpu_measure  # numba loads only when this backend is used

        self.bin(job)
        camera, frame, splats = job.view.camera, job.frame, self._splats
        ids = (
            job.host.ids
            if job.host is not None
            else frame.read_uint(frame.gaussian_ids, len(splats))
        )
        columns, rows = tile_grid(camera.width, camera.height)
        if pixel is None:
            tiles = np.arange(columns * rows, dtype=np.int64)
        else:
            tiles = np.array([pixel[1] // TILE_SIZE * columns + pixel[0] // TILE_SIZE], np.int64)
        top, top_weight, blended, median, pair_weight = cpu_measure.measure_tiles(
            splats, self._pairs, self._starts, tiles, camera.width, camera.height
        )
        pixels = np.zeros(top.shape, PIXEL_DTYPE)
        found = top >= 0
        pixels["top_gaussian"] = NO_GAUSSIAN
        pixels["top_gaussian"][found] = ids[top[found]]
        pixels["top_weight"] = top_weight
        pixels["blended"] = blended
        pixels["median_depth"] = median
        if not gaussians:
            return Contributions(pixels)
        per_splat = np.bincount(self._pairs, weights=pair_weight, minlength=len(splats))
        weights = np.bincount(ids, weights=per_splat, minlength=gaussians)
        tiles_of = np.zeros(gaussians, np.uint32)
        tiles_of[ids] = cpu_measure.box_tiles(splats, camera.width, camera.height)
        return Contributions(pixels, weights, tiles_of)

    def release(self) -> None:
        """Nothing on the GPU to free; drop the host bins and levels."""
        self._splats = np.zeros((0, self._kernels.SPLAT_FLOATS), np.float32)
        self._pairs = np.zeros(0, np.int32)
        self._saturation = np.zeros((0, 2), np.int64)
        self._stored, self._levels, self._floors, self._ceilings = None, None, None, None
        self._levels_cache.clear()


def colour_counts(image: np.ndarray) -> None:
    """`image` ([..., 4], red: splats blended per pixel) as overdraw.comp colours it, in place.

    Heat on a log scale, 1 splat coldest and OVERDRAW_MAX or more hottest, alpha 1; a pixel of
    no splat is left 0 (the background).
    """
    counts = image[..., 0]
    hit = counts > 0
    image[hit, :3] = heat_colour(np.log2(counts[hit]) / np.float32(np.log2(OVERDRAW_MAX)))
    image[hit, 3] = 1.0


def _write_counter(frame: FrameBuffers, word: int, value: int) -> None:
    """Set one of the frame's uint32 counters from the host (clamped)."""
    counter = np.array([min(int(value), 2**32 - 1)], np.uint32)
    frame.counters.write(counter.tobytes(), offset=word * 4)


def hidden_tiles(width: int, height: int, box: tuple[int, int, int, int] | None) -> np.ndarray:
    """[tiles] uint8, row-major: 1 where the tile lies wholly in `box` (`FrameView.hidden`)."""
    columns, rows = tile_grid(width, height)
    hidden = np.zeros((rows, columns), np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        left = np.arange(columns) * TILE_SIZE
        top = np.arange(rows) * TILE_SIZE
        inside_x = (left >= x0) & (np.minimum(left + TILE_SIZE, width) <= x1)
        inside_y = (top >= y0) & (np.minimum(top + TILE_SIZE, height) <= y1)
        hidden[np.ix_(inside_y, inside_x)] = 1
    return hidden.ravel()


def level_map(fovea: FoveaUniforms, width: int, height: int) -> LevelMap:
    """Each pixel's level ([height, width]), each tile's lowest and highest: on the host's cores.

    llvmpipe's float32 levels (fovea_host.level_map) for the bands mapping; numpy's for the
    pooling one (`supports`).
    """
    from viewer.render import fovea_host  # numba loads only when this backend is used

    if fovea_host.supports(fovea):
        return fovea_host.level_map(fovea, width, height)
    levels = uniform_levels(fovea, width, height)
    return levels, *tile_bounds(levels)


def tile_bounds(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[tiles] float32 each, row-major: the lowest and the highest of each tile's pixel levels."""
    height, width = levels.shape
    columns, rows = tile_grid(width, height)
    tiles = []
    for pad, reduce in ((np.inf, np.min), (-np.inf, np.max)):
        padded = np.full((rows * TILE_SIZE, columns * TILE_SIZE), pad, np.float32)
        padded[:height, :width] = levels
        tiles.append(reduce(padded.reshape(rows, TILE_SIZE, columns, TILE_SIZE), axis=(1, 3)))
    return tiles[0].ravel(), tiles[1].ravel()
