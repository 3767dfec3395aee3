"""The GPU pipeline stage by stage against the torch reference (viewer/reference.py).

A final-image PSNR can hide a stage that is off in a way the image forgives (a conic a little
wrong, a tile list a pair short at an edge). Here each stage's buffers are read back after a
frame and compared with the reference's own intermediate values:

    preprocess   which Gaussians are visible; per splat its projected centre, conic, extent,
                 opacity, colour and depth (`project_gaussians`, float64)
    sort         the depth order of the visible splats
    binning      every tile's list of splats, in depth order (`_tile_pairs` at 16 px)

and a raster backend written in numpy, plugged into the renderer through the `RasterBackend`
protocol, draws the GPU's own splats into the same image as the GPU backends: the seam a
software-device backend uses carries everything such a backend needs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.reference import MAX_ALPHA, MIN_ALPHA, MIN_TRANSMITTANCE, _tile_pairs, project_gaussians
from viewer.render.accum_target import AccumTarget
from viewer.render.contributions import Contributions
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import COUNTER_PAIRS, COUNTER_VISIBLE, TILE_SIZE
from viewer.render.raster import RasterBackend, RasterJob
from viewer.render.renderer import SplatRenderer
from viewer.render.tile_bins import tile_grid
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

CASES = {
    "sh3": (3, RenderSettings()),
    "antialias": (1, RenderSettings(antialias=True, splat_scale=1.3, sh_degree=1)),
    "inside": (2, RenderSettings(near_plane=0.05)),
}


def case(name: str) -> tuple[GaussianScene, Camera, RenderSettings]:
    degree, settings = CASES[name]
    rng = np.random.default_rng(list(CASES).index(name) + 11)
    if name == "inside":  # the camera among large splats: many reach past the image's edges
        scene = random_scene(rng, 300, sh_degree=degree, spread=2.0)
        camera = Camera.look_at((0.05, 0.0, 0.0), (1.0, 0.3, 0.1), (0, 0, 1), 56, 40, 90.0)
    else:
        scene = random_scene(rng, 400, sh_degree=degree)
        camera = Camera.look_at((0.3, -2.2, 0.5), (0, 0, 0), (0, 0, 1), 72, 48, 50.0)
    return scene, camera, settings


@dataclasses.dataclass
class Readback:
    """One frame's intermediate buffers, by stage."""

    splats: np.ndarray  # [V] SPLAT_DTYPE in append order
    ids: np.ndarray  # [V] Gaussian of each splat
    order: np.ndarray  # [V] splat slots front to back
    pair_tiles: np.ndarray  # [P] tile of each pair, ascending
    pair_splats: np.ndarray  # [P] splat slot of each pair
    ranges: np.ndarray  # [tiles, 2] each tile's [start, end) in the pairs


def read_back(renderer: SplatRenderer, camera: Camera) -> Readback:
    frame, bins = renderer.frame, renderer.tile_bins()
    counters = frame.read_counters()
    visible, pairs = int(counters[COUNTER_VISIBLE]), int(counters[COUNTER_PAIRS])
    tiles = int(np.prod(tile_grid(camera.width, camera.height)))
    ranges = np.frombuffer(bins.ranges.read(size=tiles * 8), np.uint32).reshape(tiles, 2)
    return Readback(
        splats=frame.read_splats(visible).copy(),
        ids=frame.read_uint(frame.gaussian_ids, visible).astype(np.int64),
        order=frame.read_uint(frame.sorted_splats, visible).astype(np.int64),
        pair_tiles=frame.read_uint(bins.pair_tiles, pairs).astype(np.int64),
        pair_splats=frame.read_uint(bins.pair_splats, pairs).astype(np.int64),
        ranges=ranges.astype(np.int64),
    )


@pytest.fixture(scope="module", params=["cpu", "gpu"])
def tiles_renderer(request, gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend="tiles", sort=request.param, validate=True))
    yield r
    r.release()


def reference(scene: GaussianScene, camera: Camera, settings: RenderSettings):
    with torch.no_grad():
        return project_gaussians(scene.to_torch(), camera, settings, torch.float64)


def off_image(centres: np.ndarray, extents: np.ndarray, camera: Camera) -> np.ndarray:
    """[n] whether each footprint box lies off the image (the GPU drops those in preprocess)."""
    size = np.array([camera.width, camera.height])
    return ((centres + extents <= 0) | (centres - extents >= size)).any(axis=1)


@pytest.mark.parametrize("name", list(CASES))
def test_every_stage_matches_the_reference(tiles_renderer, upload, name):
    scene, camera, settings = case(name)
    tiles_renderer.render_image(upload(scene), FrameInputs(camera), settings)
    got = read_back(tiles_renderer, camera)
    ref = reference(scene, camera, settings)
    ref_ids = ref.ids.numpy()
    # preprocess: the visible set is the reference's less the footprints off the image
    centres, extents = ref.means2d.numpy(), ref.extents.numpy()
    kept = ~off_image(centres, extents, camera)
    assert len(got.ids) == len(np.unique(got.ids)) > 50
    assert set(got.ids.tolist()) == set(ref_ids[kept].tolist())
    slot_of = {int(g): i for i, g in enumerate(ref_ids)}
    at = np.array([slot_of[int(g)] for g in got.ids])  # each splat's row in the reference
    s = got.splats
    np.testing.assert_allclose(s["center"], centres[at], rtol=2e-6, atol=1e-4)  # pixels
    np.testing.assert_allclose(s["depth"], ref.depths.numpy()[at], rtol=1e-6)
    conics = ref.conics.numpy()[at]
    np.testing.assert_allclose(s["conic"], conics, rtol=1e-4, atol=1e-6 * np.abs(conics).max())
    np.testing.assert_allclose(s["extent"], extents[at], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s["opacity"], ref.opacities.numpy()[at], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(s["color"], ref.colors.numpy()[at], rtol=0, atol=2e-5)
    # sort: front to back, the reference's order (no two depths of these scenes are that close)
    assert sorted(got.order.tolist()) == list(range(len(got.ids)))
    np.testing.assert_array_equal(got.ids[got.order], ref_ids[kept])
    # binning: each tile's splats, in depth order, are the reference's tile list at 16 px
    # but for pairs within the reference's 0.01 px footprint margin of a tile's pixel centres
    ref_tile, ref_slot, _ = (t.numpy() for t in _tile_pairs(ref, camera, TILE_SIZE))
    ref_pairs = set(zip(ref_tile.tolist(), ref_ids[ref_slot].tolist(), strict=True))
    got_pairs = list(zip(got.pair_tiles.tolist(), got.ids[got.pair_splats].tolist(), strict=True))
    assert len(set(got_pairs)) == len(got_pairs) > 0
    assert set(got_pairs) <= ref_pairs
    missing = ref_pairs - set(got_pairs)
    tight = dataclasses.replace(ref, extents=ref.extents - 0.02)  # the margin, and float32's
    tight_tile, tight_slot, _ = (t.numpy() for t in _tile_pairs(tight, camera, TILE_SIZE))
    assert not missing & set(zip(tight_tile.tolist(), ref_ids[tight_slot].tolist(), strict=True))
    assert (np.diff(got.pair_tiles) >= 0).all()
    rank = {int(g): i for i, g in enumerate(ref_ids)}
    for tile in np.unique(got.pair_tiles):
        start, end = got.ranges[tile]
        assert (got.pair_tiles[start:end] == tile).all() and end - start == (
            got.pair_tiles == tile
        ).sum()
        ranks = [rank[int(g)] for g in got.ids[got.pair_splats[start:end]]]
        assert ranks == sorted(ranks)  # depth order inside the tile
    empty = np.setdiff1d(np.arange(len(got.ranges)), got.pair_tiles)
    assert (got.ranges[empty, 0] == got.ranges[empty, 1]).all()


# -- the seam: a numpy raster backend drawing the GPU's splats ------------------------------------


class NumpyRaster:
    """A `RasterBackend` in numpy: reads the sorted splats back and composites every pixel.

    What a software-device backend does, in the plainest form: front to back, alpha = opacity x
    exp(power) capped at 0.99, below 1/255 skipped, stopping before T falls below 1e-4.
    """

    name = "numpy"
    bins = False
    fovea_per_pixel = False
    tile_bins = None

    def __init__(self, measure) -> None:
        self._measure = measure
        self.drawn = 0

    def bin(self, job: RasterJob) -> None:
        raise AssertionError("a raster that does not bin is never asked to")

    def draw(self, job: RasterJob, target: AccumTarget) -> None:
        camera, frame = job.view.camera, job.frame
        visible = int(frame.read_counters()[COUNTER_VISIBLE])
        splats = frame.read_splats(visible)[frame.read_uint(frame.sorted_splats, visible)]
        ys, xs = np.mgrid[0 : camera.height, 0 : camera.width] + 0.5
        rgb = np.zeros((camera.height, camera.width, 3))
        t = np.ones((camera.height, camera.width))
        done = np.zeros_like(t, bool)
        for s in splats:
            dx, dy = xs - s["center"][0], ys - s["center"][1]
            a, b, c = s["conic"].astype(np.float64)
            power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
            alpha = np.minimum(MAX_ALPHA, s["opacity"] * np.exp(np.minimum(power, 0.0)))
            blend = (power <= 0) & (alpha >= MIN_ALPHA) & ~done
            stop = blend & (t * (1.0 - alpha) < MIN_TRANSMITTANCE)
            done |= stop
            blend &= ~stop
            rgb += np.where(blend, alpha * t, 0.0)[..., None] * s["color"]
            t = np.where(blend, t * (1.0 - alpha), t)
        image = np.concatenate([rgb, (1.0 - t)[..., None]], axis=-1)[::-1]  # GL rows: bottom up
        target.texture.write(np.ascontiguousarray(image, np.float32).tobytes())
        self.drawn += 1

    def measure(self, job: RasterJob, gaussians: int, pixel) -> Contributions:
        return self._measure.measure(job, gaussians, pixel)

    def release(self) -> None:
        pass


@pytest.mark.parametrize("name", list(CASES))
def test_a_backend_plugged_into_the_seam_draws_what_the_gpu_backends_draw(
    gl_ctx, upload, monkeypatch, name
):
    scene, camera, settings = case(name)
    gpu_scene = upload(scene)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="tiles", sort="cpu", validate=True))
    try:
        tiles = renderer.render_image(gpu_scene, FrameInputs(camera), settings)
        numpy_raster = NumpyRaster(renderer._measurer)
        backend: RasterBackend = numpy_raster
        monkeypatch.setattr(renderer, "_backend", lambda: backend)
        drawn = renderer.render_image(gpu_scene, FrameInputs(camera), settings)
        measured = renderer.measure(gpu_scene, FrameInputs(camera), settings, weights=True)
    finally:
        renderer.release()
    assert numpy_raster.drawn == 1 and measured.weights is not None
    assert drawn.max() > 0.1
    np.testing.assert_allclose(drawn, tiles, rtol=0, atol=2e-5)
