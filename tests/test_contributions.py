"""The contributions pass against the reference: per-Gaussian weights, per-pixel records, tiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.conftest import random_scene, scene_path
from viewer.camera import Camera
from viewer.reference import _tile_lists, project_gaussians, reference_contributions
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import NO_GAUSSIAN
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

SORTS = ["cpu", "gpu"]


@pytest.fixture(scope="module", params=[*SORTS, "cpu backend"])
def renderer(request, gl_ctx):
    """The quads backend with each sort (measuring must bin the tiles itself), and the cpu
    backend, which measures on the host (its own frames: no validation switch)."""
    if request.param == "cpu backend":
        raster = RasterSettings(backend="cpu", sort="cpu")
    else:
        raster = RasterSettings(backend="quads", sort=request.param, validate=True)
    r = SplatRenderer(gl_ctx, raster)
    yield r
    r.release()


def layered_scene(opacities, depths, sigma=0.3) -> GaussianScene:
    """Round grey Gaussians on the optical axis of `axis_camera`, one per depth."""
    n = len(depths)
    return GaussianScene.from_arrays(
        [[0.0, 0.0, z] for z in depths],
        np.full((n, 3), sigma),
        [[1, 0, 0, 0]] * n,
        opacities,
        np.zeros((n, 1, 3)),
    )


def axis_camera(size: int = 32) -> Camera:
    """At the origin looking down +z, square image."""
    return Camera(size, size, size, size, size / 2, size / 2, np.eye(4))


def check_against_reference(upload, renderer, scene, camera, settings=RenderSettings()):
    gpu_scene = upload(scene)
    got = renderer.measure(gpu_scene, FrameInputs(camera), settings, weights=True)
    ref = reference_contributions(scene, camera, settings)
    pixels = camera.width * camera.height
    assert got.weights.shape == (scene.count,)
    # fixed point: at most one unit of rounding per pixel, and float32 against float64
    atol = pixels / got_scale(camera) + 1e-4 * ref.weights.max()
    np.testing.assert_allclose(got.weights, ref.weights, rtol=2e-3, atol=atol)
    top = got.pixels["top_gaussian"].astype(np.int64)
    top[top == NO_GAUSSIAN] = -1
    assert (top == ref.top_gaussian).mean() > 0.98
    assert (got.pixels["blended"] == ref.blended).mean() > 0.98
    close = np.isclose(got.pixels["median_depth"], ref.median_depth, rtol=1e-4, atol=1e-5)
    assert close.mean() > 0.98
    return got, ref


def got_scale(camera: Camera) -> float:
    from viewer.render.contributions import weight_scale

    return weight_scale(camera.width, camera.height)


def test_random_scene_matches_reference(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=1)
    camera = Camera.look_at(rng.normal(size=3) * 0.2 + (0, -2.0, 0.3), (0, 0, 0), (0, 0, 1), 48, 40)
    _, ref = check_against_reference(upload, renderer, scene, camera)
    assert (ref.weights > 0).sum() > 100  # most Gaussians seen


def test_donut_matches_reference(renderer, upload):
    from viewer.formats import load_scene
    from viewer.framing import default_camera

    scene = load_scene(scene_path("donut.ply"))
    check_against_reference(upload, renderer, scene, default_camera(scene, 40, 30))


def test_invisible_gaussians_weigh_nothing(renderer, upload):
    # behind the camera, below 1/255 opacity, far outside the view
    scene = layered_scene([0.9, 0.003, 0.9], [3.0, 2.0, -2.0])
    far_side = scene.means.copy()
    far_side[2] = (40.0, 0.0, 3.0)
    scene = GaussianScene.from_arrays(far_side, scene.scales, scene.rotations, scene.opacities,
                                      scene.sh)  # fmt: skip
    gpu_scene = upload(scene)
    got = renderer.measure(gpu_scene, FrameInputs(axis_camera()), RenderSettings(), weights=True)
    assert got.weights[0] > 1.0
    assert got.weights[1] == 0.0 and got.weights[2] == 0.0
    assert got.tiles[1] == 0 and got.tiles[2] == 0


def test_hidden_behind_an_opaque_one_weighs_less_and_is_not_picked(renderer, upload):
    scene = layered_scene([0.99, 0.99], [5.0, 3.0])  # Gaussian 1 is in front
    gpu_scene = upload(scene)
    camera = axis_camera()
    got = renderer.measure(gpu_scene, FrameInputs(camera), RenderSettings(), weights=True)
    assert got.weights[1] > 5 * got.weights[0] > 0
    centre = renderer.measure(
        gpu_scene, FrameInputs(camera), RenderSettings(), pixel=(16, 16)
    ).pixels[16, 16]
    assert centre["top_gaussian"] == 1
    assert centre["blended"] == 2
    assert math.isclose(centre["median_depth"], 3.0, rel_tol=1e-6)
    assert centre["top_weight"] == pytest.approx(got.pixels[16, 16]["top_weight"])


def test_picking_one_pixel_fills_only_its_tile(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 200, sh_degree=0)
    gpu_scene = upload(scene)
    camera = Camera.look_at((0, -2.0, 0.2), (0, 0, 0), (0, 0, 1), 50, 40)
    full = renderer.measure(gpu_scene, FrameInputs(camera), RenderSettings()).pixels
    x, y = int(rng.integers(0, 50)), int(rng.integers(0, 40))
    picked = renderer.measure(gpu_scene, FrameInputs(camera), RenderSettings(), pixel=(x, y)).pixels
    tile = (slice(y // 16 * 16, y // 16 * 16 + 16), slice(x // 16 * 16, x // 16 * 16 + 16))
    assert np.array_equal(picked[tile], full[tile])
    outside = np.ones(picked.shape, bool)
    outside[tile] = False
    assert (picked["blended"][outside] == 0).all()


def test_tiles_touched_match_the_reference_bins(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=0)
    camera = Camera.look_at((0.1, -1.6, 0.3), (0, 0, 0), (0, 0, 1), 70, 45)
    gpu_scene = upload(scene)
    got = renderer.measure(gpu_scene, FrameInputs(camera), RenderSettings(), weights=True)
    with torch.no_grad():
        proj = project_gaussians(scene.to_torch(), camera, RenderSettings(), torch.float64)
        lists = _tile_lists(proj, camera, 16)
    expected = np.zeros(scene.count, np.int64)
    for members in lists:
        np.add.at(expected, proj.ids[members].numpy(), 1)
    # the reference bins with a 0.01 px margin around each footprint: never fewer tiles
    assert (got.tiles <= expected).all()
    assert (got.tiles == expected).mean() >= 0.97


def test_the_cpu_backend_measures_its_own_host_frames(gl_ctx, upload):
    """Its views are made and measured on the host, as its frames: no storage buffer of splats
    bounds them (pruning's and foveation's scores of a scene beyond a GL frame's splats)."""
    rng = np.random.default_rng(4)
    scene = random_scene(rng, 300, sh_degree=0)
    camera = Camera.look_at((0.1, -1.6, 0.3), (0, 0, 0), (0, 0, 1), 48, 40)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="cpu", sort="cpu"))
    try:
        got = renderer.measure(upload(scene), FrameInputs(camera), RenderSettings(), weights=True)
        assert renderer.host_preprocess.covered
    finally:
        renderer.release()
    assert got.weights is not None and (got.weights > 0).sum() > 100
