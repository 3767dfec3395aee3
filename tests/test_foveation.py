"""Foveated rendering (viewer/render/fovea.py, shaders/fovea.glsl, viewer/features/foveation.py):
the fovea equals the full render, tile lists against a numpy reference, the blend across a
border, the fovea following the gaze, nested subsets, the LOD source, both backends."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.gpu_readback import read_levels, read_tile_levels
from viewer.camera import Camera
from viewer.features.foveation import (
    frame_fovea,
    frame_gaze,
    region_fovea,
    subset_counts,
    subset_levels,
)
from viewer.features.lod_gpu import attach_hierarchy, node_levels
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.image_metrics import psnr
from viewer.render.fovea import (
    LEVEL_NONE,
    Fovea,
    fovea_mask,
    level_at,
    near_level,
    outlines,
    pack_levels,
    pixel_levels,
    tile_levels,
    weight,
)
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import COUNTER_FOVEA_CULLED, COUNTER_PAIRS, COUNTER_VISIBLE, TILE_SIZE
from viewer.render.renderer import SplatRenderer
from viewer.render.tile_bins import tile_grid
from viewer.scene import GaussianScene
from viewer.settings import FoveationSettings, RasterSettings, RenderSettings

BACKENDS = ("quads", "tiles")
SHARES = (1.0, 0.4, 0.22, 0.17)
TIE = 1e-3  # levels within this of a tile's threshold may be decided apart by float32


def front_camera(width: int = 160, height: int = 96, fov_x: float = 80.0) -> Camera:
    """At the origin looking down +z (OpenCV axes)."""
    fx = width / 2.0 / math.tan(math.radians(fov_x) / 2.0)
    return Camera(width, height, fx, fx, width / 2.0, height / 2.0)


def front_scene(rng: np.random.Generator, count: int) -> GaussianScene:
    """Random Gaussians in front of `front_camera`, spread across its view."""
    scene = random_scene(rng, count, sh_degree=1, spread=2.0)
    scene.means[:, 2] += 3.0
    scene.means[:, :2] *= 2.5
    return scene


@pytest.fixture(scope="module")
def foveated(gl_ctx):
    """(scene, gpu scene holding levels from random scores, stored levels, renderers)."""
    rng = np.random.default_rng(5)
    scene = front_scene(rng, 2500)
    levels = subset_levels(rng.uniform(size=scene.count), SHARES)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    gpu.write_levels(levels)
    renderers = {
        b: SplatRenderer(gl_ctx, RasterSettings(backend=b, sort="cpu", validate=True))
        for b in BACKENDS
    }
    yield scene, gpu, levels, renderers
    for renderer in renderers.values():
        renderer.release()
    gpu.release()


def bands(fovea: float = 12.0, width: float = 6.0, blend: float = 3.0, **kw) -> Fovea:
    return Fovea(borders=(fovea, fovea + width, fovea + 2 * width), blend=blend, **kw)


# -- nested subsets -----------------------------------------------------------------------------


def test_nested_subsets_are_nested_and_follow_the_ranking() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=1000)
    levels = subset_levels(scores, SHARES)
    assert levels.dtype == np.uint8 and levels.min() >= 1 and levels.max() == len(SHARES)
    kept = [levels > k for k in range(len(SHARES))]  # the Gaussians level k keeps
    for finer, coarser in itertools.pairwise(kept):
        assert not (coarser & ~finer).any()  # nested: a coarser level keeps a subset
    assert [int(k.sum()) for k in kept] == [1000, 400, 220, 170]
    # a better score never keeps fewer levels
    order = np.argsort(scores)
    assert (np.diff(levels[order].astype(int)) >= 0).all()
    # shares that grow again count as the previous level's; a fovea share below 1 drops some
    assert list(subset_counts((0.9, 0.5, 0.7, 0.1), 100)) == [90, 50, 50, 10]
    assert (subset_levels(scores, (0.9, 0.5, 0.5, 0.1)) == 0).sum() == 100


def test_levels_pack_four_to_a_word_and_round_trip(gl_ctx) -> None:
    stored = np.array([0, 1, 2, 3, 4, 255, 7], np.uint8)
    words = pack_levels(stored).view("<u4")
    assert words.tolist() == [0x03020100, 0xFF07FF04]
    scene = random_scene(np.random.default_rng(1), 7, sh_degree=0)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    try:
        version = gpu.version
        gpu.write_levels(stored)
        assert gpu.version != version and gpu.subsets is not None and gpu.subsets.rows == 7
        np.testing.assert_array_equal(read_levels(gpu), stored)
        gpu.write_levels(None)
        assert read_levels(gpu) is None and gpu.subsets is None
    finally:
        gpu.release()


# -- the geometry ---------------------------------------------------------------------------


def test_weight_is_one_inside_a_level_zero_outside_and_smooth_between() -> None:
    level = np.linspace(0.0, 3.0, 301)
    for stored in range(5):
        w = weight(stored, level)
        assert (w[level <= stored - 1] == 1.0).all() and (w[level >= stored] == 0.0).all()
        assert np.abs(np.diff(w)).max() <= 1.5 * 0.01 + 1e-12  # smoothstep's slope <= 1.5
    assert (weight(LEVEL_NONE, level) == 1.0).all()


def test_levels_grow_with_eccentricity_and_bands_start_at_their_borders() -> None:
    fovea = bands(10.0, 8.0, 2.0)
    ecc = np.radians(np.array([0.0, 9.99, 10.0, 11.0, 12.0, 17.9, 18.0, 19.0, 60.0]))
    level = level_at(ecc, ecc, fovea, 500.0)
    np.testing.assert_allclose(level, [0, 0, 0, 0.5, 1, 1, 1, 1.5, 3], atol=1e-9)
    hard = level_at(ecc, ecc, bands(10.0, 8.0, 0.0), 500.0)
    np.testing.assert_array_equal(hard, [0, 0, 1, 1, 1, 1, 2, 2, 3])
    # RTGS's pooling mapping: level 0 (pooling size <= 1 px) near the gaze, monotone, capped
    pooling = Fovea(mapping="pooling", alpha=0.05)
    ecc = np.radians(np.linspace(0.0, 80.0, 161))
    level = level_at(ecc, np.zeros_like(ecc), pooling, 640.0)
    assert level[0] == 0.0 and (np.diff(level) >= 0).all() and level[-1] == 3.0
    # with RTGS's screen (90 degrees across 1280 px: 640 px per tangent unit) at its centre,
    # the pooling size passes 1 px at 10.8 degrees, level 1 begins to blend in at 15.2 (size
    # 2 px), and level 3 is reached at 37.3 (12 px)
    first = math.degrees(ecc[np.flatnonzero(level > 0)[0]])
    last = math.degrees(ecc[np.flatnonzero(level >= 3.0)[0]])
    assert 14.5 <= first <= 16.0 and 36.5 <= last <= 38.0


def test_tile_levels_bound_every_pixel_of_their_tile() -> None:
    camera = front_camera(200, 120)
    for fovea in (bands(), Fovea(mapping="pooling", display_fov=90.0)):
        for gaze in (None, (30.0, 100.0)):
            pixels = pixel_levels(camera, fovea, gaze)
            tiles = tile_levels(camera, fovea, gaze)
            tiles_x, tiles_y = tile_grid(camera.width, camera.height)
            padded = np.full((tiles_y * TILE_SIZE, tiles_x * TILE_SIZE), np.inf)
            padded[: camera.height, : camera.width] = pixels
            lowest = padded.reshape(tiles_y, TILE_SIZE, tiles_x, TILE_SIZE).min(axis=(1, 3))
            assert (tiles <= lowest + 1e-12).all()
            assert tiles.max() > 0.5  # not trivially 0


def test_settings_give_the_frame_fovea_and_gaze() -> None:
    settings = FoveationSettings(enabled=True, fovea=5.0, bands=(4.0, 6.0))
    fovea = frame_fovea(settings)
    assert fovea is not None and fovea.borders == (5.0, 9.0, 15.0) and fovea.subsets
    assert frame_fovea(FoveationSettings()) is None
    lod = FoveationSettings(enabled=True, source="lod", lod_tau_scale=3.0)
    assert frame_fovea(lod) is None  # nothing to coarsen without an LOD cut
    assert frame_fovea(lod, lod=True) == Fovea(subsets=False, lod_tau_scale=3.0)
    assert region_fovea(FoveationSettings()).borders == (10.0, 18.0, 26.0)
    camera = front_camera(200, 100)
    assert frame_gaze(FoveationSettings(), camera, (5.0, 6.0)) is None
    assert frame_gaze(FoveationSettings(gaze="mouse"), camera, (5.0, 6.0)) == (5.0, 6.0)
    assert frame_gaze(FoveationSettings(gaze="mouse"), camera) is None
    fixed = FoveationSettings(gaze="fixed", gaze_x=0.25, gaze_y=0.75)
    assert frame_gaze(fixed, camera, (5.0, 6.0)) == (50.0, 75.0)


def test_outlines_lie_at_their_eccentricity() -> None:
    camera = front_camera(300, 200)
    fovea = bands(10.0, 8.0, 2.0)
    for gaze in (None, (80.0, 60.0)):
        lines = outlines(camera, fovea, gaze, points=64)
        assert len(lines) == 3
        for line, border in zip(lines, fovea.borders, strict=True):
            level = near_level(camera, fovea, gaze, line[:, 0], line[:, 1], 0.0)
            k = fovea.borders.index(border)
            np.testing.assert_allclose(level, k, atol=1e-6)  # where level k + 1 begins


# -- on the GPU -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fovea_covering_the_screen_is_the_full_render(foveated, backend) -> None:
    _scene, gpu, _, renderers = foveated
    renderer = renderers[backend]
    camera = front_camera()
    full = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())
    for fovea in (bands(179.0), Fovea(mapping="pooling", alpha=1e-6)):
        image = renderer.render_image(gpu, FrameInputs(camera, fovea=fovea), RenderSettings())
        np.testing.assert_allclose(image, full, atol=1e-6)
    # foveation does change the rest of the image, and only outside the fovea
    fovea = bands(8.0)
    image = renderer.render_image(gpu, FrameInputs(camera, fovea=fovea), RenderSettings())
    mask = fovea_mask(camera, fovea, None)
    assert 0.02 < mask.mean() < 0.5
    np.testing.assert_allclose(image[mask], full[mask], atol=1e-6)
    assert np.abs(image - full)[~mask].max() > 0.1


def test_both_backends_give_the_same_fovea(foveated) -> None:
    _, gpu, _, renderers = foveated
    camera = front_camera()
    fovea = bands(10.0)
    gaze = (60.0, 40.0)
    inputs = FrameInputs(camera, gaze=gaze, fovea=fovea)
    quads, tiles = (renderers[b].render_image(gpu, inputs, RenderSettings()) for b in BACKENDS)
    mask = fovea_mask(camera, fovea, gaze)
    # the same image in the fovea (stated tolerance: 1e-4, float32 compositing order); outside
    # it they differ by design (quads weigh whole splats, tiles each pixel)
    assert mask.mean() > 0.05
    np.testing.assert_allclose(quads[mask], tiles[mask], atol=1e-4)


def test_tile_lists_hold_only_the_levels_of_each_tile(foveated) -> None:
    """Every (tile, splat) pair binned against a numpy reference of the rule l(tile) < b."""
    _scene, gpu, levels, renderers = foveated
    renderer = renderers["tiles"]
    camera = front_camera(200, 120)
    for fovea, gaze in ((bands(8.0, 5.0, 2.0), (70.0, 50.0)),
                        (Fovea(mapping="pooling", alpha=0.4), None)):  # fmt: skip
        inputs = FrameInputs(camera, gaze=gaze, fovea=fovea)
        renderer.render_image(gpu, inputs, RenderSettings())
        frame, tiles = renderer.frame, renderer.tile_bins()
        gpu_levels = read_tile_levels(tiles.tile_levels, camera)
        reference = tile_levels(camera, fovea, gaze)
        np.testing.assert_allclose(gpu_levels, reference, atol=2e-3)
        counters = frame.read_counters()
        visible, pairs = int(counters[COUNTER_VISIBLE]), int(counters[COUNTER_PAIRS])
        splats = frame.read_splats(visible)
        stored = levels[frame.read_uint(frame.gaussian_ids, visible)]
        got = set(zip(frame.read_uint(tiles.pair_tiles, pairs).tolist(),
                      frame.read_uint(tiles.pair_splats, pairs).tolist(), strict=True))  # fmt: skip
        tiles_x, tiles_y = tile_grid(camera.width, camera.height)
        flat = reference.reshape(-1)
        expected, ties = set(), set()
        lo = np.maximum(np.ceil(splats["center"] - splats["extent"] - 0.5), 0)
        hi = np.minimum(np.floor(splats["center"] + splats["extent"] - 0.5),
                        [camera.width - 1, camera.height - 1])  # fmt: skip
        for slot in range(visible):
            if (lo[slot] > hi[slot]).any():
                continue
            (x0, y0), (x1, y1) = (
                (lo[slot] // TILE_SIZE).astype(int),
                (hi[slot] // TILE_SIZE).astype(int),
            )
            for ty in range(y0, y1 + 1):
                for tx in range(x0, x1 + 1):
                    tile = ty * tiles_x + tx
                    if abs(flat[tile] - stored[slot]) <= TIE:
                        ties.add((tile, slot))
                    elif flat[tile] < stored[slot]:
                        expected.add((tile, slot))
        assert len(got) == pairs  # no pair twice
        assert got - ties == expected
        # never a Gaussian in a tile whose level it does not reach (by the GPU's own levels)
        gpu_flat = gpu_levels.reshape(-1)
        pair_tiles = np.array([t for t, _ in got])
        pair_slots = np.array([s for _, s in got])
        assert (gpu_flat[pair_tiles] < stored[pair_slots]).all()
        assert pairs > 0 and len(expected) < sum(
            (lo[s] <= hi[s]).all() * np.prod(hi[s] // TILE_SIZE - lo[s] // TILE_SIZE + 1)
            for s in range(visible)
        )  # foveation dropped some pairs
        assert counters[COUNTER_FOVEA_CULLED] > 0 and tiles_y * tiles_x == reference.size


def wall(fovea_only: bool) -> tuple[GaussianScene, np.ndarray]:
    """A dense grid of round white Gaussians at z = 2 filling `front_camera`'s view.

    Levels alternate: half the Gaussians only in the fovea (b = 1), half everywhere (b = 4).
    """
    step = 0.01  # 0.7 px apart in `front_camera(240, 64)`, a footprint of about 2 px
    xs = np.arange(-1.8, 1.8, step)
    ys = np.arange(-0.5, 0.5, step)
    x, y = np.meshgrid(xs, ys)
    n = x.size
    means = np.stack([x.ravel(), y.ravel(), np.full(n, 2.0)], 1)
    scales = np.full((n, 3), step * 0.9)
    rotations = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    sh = np.full((n, 1, 3), 0.5 / 0.28209479177387814)  # colour 1
    scene = GaussianScene.from_arrays(means, scales, rotations, np.full(n, 0.3), sh)
    checker = ((np.arange(n) + (np.arange(n) // xs.size)) % 2).astype(bool)
    levels = np.where(checker, 1, 4).astype(np.uint8) if fovea_only else np.full(n, 4, np.uint8)
    return scene, levels


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_band_blend_is_continuous_across_a_border(gl_ctx, backend) -> None:
    """Along the row through the gaze, no pixel-to-pixel step above a stated bound.

    The wall's coverage drops from the fovea (all Gaussians) to level 1 (half of them): with a
    blend of 6 degrees (~16 px here) the largest step is at most 1.5 x the drop / the ramp in
    pixels plus the wall's own ripple; with hard borders it is the whole drop at once.
    """
    scene, levels = wall(True)
    camera = front_camera(240, 64, 80.0)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort="cpu"))
    try:
        gpu.write_levels(levels)
        row = camera.height // 2

        def profile(blend: float) -> np.ndarray:
            fovea = Fovea(borders=(12.0, 60.0, 70.0), blend=blend)
            image = renderer.render_image(gpu, FrameInputs(camera, fovea=fovea), RenderSettings())
            return image[row - 2 : row + 3, :, 0].mean(axis=0)

        full = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())[row, :, 0]
        ripple = np.abs(np.diff(full)).max()
        smooth, hard = profile(6.0), profile(0.0)
        drop = smooth[camera.width // 2] - smooth[8]
        assert drop > 0.1  # the periphery is visibly sparser
        ramp_px = 6.0 / 80.0 * camera.width * 1.1
        bound = 1.5 * drop / ramp_px * (2.0 if backend == "quads" else 1.0) + 2 * ripple + 0.01
        assert np.abs(np.diff(smooth)).max() <= bound
        assert np.abs(np.diff(hard)).max() > 2.0 * bound  # a seam without the blend
    finally:
        renderer.release()
        gpu.release()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_fovea_follows_the_gaze(foveated, backend) -> None:
    _, gpu, _, renderers = foveated
    renderer = renderers[backend]
    camera = front_camera()
    full = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())
    fovea = bands(6.0)
    left, right = (30.0, 48.0), (130.0, 48.0)

    def sharp_at(gaze) -> tuple[float, float]:
        """PSNR against the full render in 12 px squares around the left and right points."""
        image = renderer.render_image(gpu, FrameInputs(camera, gaze=gaze, fovea=fovea),
                                      RenderSettings())  # fmt: skip
        out = []
        for x, y in (left, right):
            box = (slice(int(y) - 6, int(y) + 6), slice(int(x) - 6, int(x) + 6))
            out.append(psnr(image[box], full[box]))
        return out[0], out[1]

    at_left, at_right = sharp_at(left), sharp_at(right)
    assert at_left[0] == math.inf and at_left[1] < 40.0
    assert at_right[1] == math.inf and at_right[0] < 40.0


def test_render_scale_keeps_the_gaze_where_it_is(foveated) -> None:
    _, gpu, _, renderers = foveated
    renderer = renderers["quads"]
    camera = front_camera()
    fovea, gaze = bands(8.0), (40.0, 30.0)
    full = renderer.render_image(gpu, FrameInputs(camera, gaze=gaze, fovea=fovea), RenderSettings())
    half = renderer.render_image(
        gpu, FrameInputs(camera, gaze=gaze, fovea=fovea, render_scale=0.5), RenderSettings()
    )
    box = (slice(25, 35), slice(35, 45))  # around the gaze: both sharp, at their resolutions
    assert psnr(half[box], full[box]) > 20.0


def test_an_lod_cut_draws_the_fovea_in_full_and_grows_tau_away_from_it(gl_ctx) -> None:
    rng = np.random.default_rng(3)
    scene = front_scene(rng, 3000)
    tree = build_hierarchy(scene)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu", validate=True))
    try:
        attach_hierarchy(gpu, tree)
        camera = front_camera()
        cut = LodCut(tau=25.0)
        settings = RenderSettings()

        def drawn(fovea: Fovea | None) -> tuple[int, np.ndarray]:
            inputs = FrameInputs(camera, fovea=fovea, lod=cut)
            image = renderer.render_image(gpu, inputs, settings)
            stats = renderer.render(gpu, inputs, settings, renderer.image.framebuffer)
            assert stats is not None
            return stats.lod_drawn, image

        plain_count, plain = drawn(None)
        full_render = renderer.render_image(gpu, FrameInputs(camera), settings)
        assert psnr(plain, full_render) < 60.0  # this cut does merge
        # a fovea covering the screen: the scene's own Gaussians everywhere
        wide_count, wide = drawn(Fovea(borders=(179.0, 179.5, 179.9), subsets=False,
                                       lod_tau_scale=4.0))  # fmt: skip
        assert wide_count > plain_count
        np.testing.assert_allclose(wide, full_render, atol=1e-5)
        fovea = Fovea(borders=(8.0, 14.0, 20.0), subsets=False, lod_tau_scale=4.0)
        fov_count, image = drawn(fovea)
        assert fov_count < 0.8 * plain_count
        mask = fovea_mask(camera, fovea, None)
        np.testing.assert_allclose(image[mask], full_render[mask], atol=1e-5)  # the fovea is full
        # tau not growing (the subsets source's cut): the fovea full, the periphery cut at tau
        flat_count, image = drawn(Fovea(borders=(8.0, 14.0, 20.0), subsets=False))
        np.testing.assert_allclose(image[mask], full_render[mask], atol=1e-5)
        assert fov_count < flat_count < wide_count
        # subsets on an LOD tree: a merged node keeps the levels any of its children keeps
        leaves = subset_levels(rng.uniform(size=scene.count), SHARES)
        nodes = node_levels(tree, leaves)
        assert nodes.shape == (tree.node_count,) and (nodes[: scene.count] == leaves).all()
        child = np.flatnonzero(tree.parent_from_node >= 0)
        assert (nodes[tree.parent_from_node[child]] >= nodes[child]).all()
        gpu.write_levels(nodes)
        both = Fovea(borders=(8.0, 14.0, 20.0), lod_tau_scale=4.0)
        _, image = drawn(both)
        np.testing.assert_allclose(image[mask], full_render[mask], atol=1e-5)
    finally:
        renderer.release()
        gpu.release()


def test_measure_ignores_foveation(foveated) -> None:
    _, gpu, _, renderers = foveated
    renderer = renderers["tiles"]
    camera = front_camera()
    plain = renderer.measure(gpu, FrameInputs(camera, flag_mask=0), RenderSettings(), weights=True)
    inputs = FrameInputs(camera, flag_mask=0, fovea=bands(2.0))
    foveated_weights = renderer.measure(gpu, inputs, RenderSettings(), weights=True)
    np.testing.assert_allclose(foveated_weights.weights, plain.weights, rtol=1e-5)
