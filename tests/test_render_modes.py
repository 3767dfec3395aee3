"""Inspection render modes: depth and heatmap colours, points, outlines, overdraw, selection."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.test_pipeline import MIN_PSNR, psnr
from viewer.camera import Camera
from viewer.reference import reference_contributions, render_scene_reference
from viewer.render.colormap import HEAT_COLOURS, heat_colour
from viewer.render.contributions import OVERDRAW_MAX
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import FLAG_HIDDEN, FLAG_SELECTED
from viewer.render.preprocess import depth_range
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

C0 = 0.28209479177387814
BACKENDS = ["quads", "tiles", "cpu"]


@pytest.fixture(scope="module", params=BACKENDS)
def renderer(request, gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend=request.param, sort="cpu", validate=True))
    yield r
    r.release()


def coloured(scene: GaussianScene, rgb: np.ndarray) -> GaussianScene:
    """`scene` with SH degree 0 whose colours are `rgb` [N, 3]."""
    return dataclasses.replace(scene, sh=((rgb - 0.5) / C0)[:, None, :].astype(np.float32))


def setup(rng, count=300):
    scene = random_scene(rng, count, sh_degree=2)
    camera = Camera.look_at(rng.normal(size=3) * 0.2 + (0, -2.0, 0.4), (0, 0, 0), (0, 0, 1), 48, 36)
    return scene, camera


def test_heatmap_colours_by_the_values_given(renderer, upload):
    rng = np.random.default_rng()
    scene, camera = setup(rng)
    values = rng.uniform(size=scene.count).astype(np.float32)
    gpu_scene = upload(scene)
    gpu_scene.write_heat(values)
    gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings(mode="heatmap"))
    ref = render_scene_reference(coloured(scene, heat_colour(values)), camera, RenderSettings())
    assert psnr(gpu, ref) >= MIN_PSNR


def test_depth_mode_colours_by_camera_depth(renderer, upload):
    rng = np.random.default_rng()
    scene, camera = setup(rng)
    gpu_scene = upload(scene)
    settings = RenderSettings(mode="depth")
    near, far = depth_range(camera, gpu_scene.bounds, settings.near_plane)
    z = scene.means @ camera.world_to_camera[2, :3] + camera.world_to_camera[2, 3]
    ref_scene = coloured(scene, heat_colour((z - near) / (far - near)))
    ref = render_scene_reference(ref_scene, camera, RenderSettings())
    assert psnr(renderer.render_image(gpu_scene, FrameInputs(camera), settings), ref) >= MIN_PSNR


def test_depth_range_spans_the_bounds_in_front_of_the_camera():
    camera = Camera(10, 10, 10, 10, 5, 5, np.eye(4))  # looks down +z from the origin
    bounds = (np.array([-1.0, -1.0, 2.0]), np.array([1.0, 1.0, 6.0]))
    assert depth_range(camera, bounds, 0.2) == (2.0, 6.0)
    inside = (np.array([-1.0, -1.0, -3.0]), np.array([1.0, 1.0, 6.0]))
    assert depth_range(camera, inside, 0.2) == (0.2, 6.0)


def test_heat_colours_are_matplotlib_turbo():
    import matplotlib

    turbo = matplotlib.colormaps["turbo"](np.linspace(0, 1, len(HEAT_COLOURS)))[:, :3]
    np.testing.assert_allclose(HEAT_COLOURS, turbo, atol=1e-4)
    t = np.random.default_rng().uniform(size=50)
    np.testing.assert_allclose(heat_colour(t), matplotlib.colormaps["turbo"](t)[:, :3], atol=0.035)


def test_points_draw_dots_at_the_centres_in_depth_order(renderer, upload):
    # two opaque Gaussians on the axis: red in front of green; a blue one off to the side
    scene = GaussianScene.from_arrays(
        [[0, 0, 3.0], [0, 0, 5.0], [1.0, 0.0, 5.0]],
        np.full((3, 3), 0.5), [[1, 0, 0, 0]] * 3, [1.0, 1.0, 1.0],
        ((np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]) - 0.5) / C0)[:, None, :],
    )  # fmt: skip
    camera = Camera(40, 40, 40, 40, 20, 20, np.eye(4))
    gpu_scene = upload(scene)
    background = (0.2, 0.2, 0.2)
    settings = RenderSettings(mode="points", point_size=4.0, background=background)
    image = renderer.render_image(gpu_scene, FrameInputs(camera), settings)
    np.testing.assert_allclose(image[20, 20], (1, 0, 0), atol=1e-5)  # the nearer one on top
    np.testing.assert_allclose(image[20, 28], (0, 0, 1), atol=1e-5)  # x = 20 + 40 * 1 / 5
    np.testing.assert_allclose(image[20, 24], background, atol=1e-5)  # nothing between
    assert (np.abs(image - background).max(axis=2) > 1e-3).sum() == 2 * 16


def test_outlines_draw_rings_not_discs(renderer, upload):
    scene = GaussianScene.from_arrays(
        [[0, 0, 4.0]], [[0.4, 0.4, 0.4]], [[1, 0, 0, 0]], [1.0], np.full((1, 1, 3), 1.0)
    )
    camera = Camera(64, 64, 64, 64, 32, 32, np.eye(4))
    gpu_scene = upload(scene)
    image = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings(mode="outlines"))
    sigma_px = 64 * 0.4 / 4.0  # 6.4 px
    assert image[32, 32].max() < 1e-3  # the centre stays empty
    row = image[32, 32:].max(axis=1)
    assert abs(int(np.argmax(row)) + 0.5 - 2 * sigma_px) <= 1.0  # the ring lies at two sigma
    assert row.max() > 0.5
    lit = np.argwhere(image.max(axis=2) > 0.1)
    radii = np.hypot(lit[:, 0] + 0.5 - 32, lit[:, 1] + 0.5 - 32)
    assert abs(radii.mean() - 2 * sigma_px) < 1.0


def test_overdraw_counts_blended_splats(renderer, upload):
    rng = np.random.default_rng()
    scene, camera = setup(rng)
    gpu_scene = upload(scene)
    gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings(mode="overdraw"))
    blended = reference_contributions(scene, camera).blended
    agree = np.abs(gpu - overdraw_colours(blended)).max(axis=2) < 1e-4
    assert agree.mean() > 0.98
    assert (blended > 3).any()


def overdraw_colours(blended: np.ndarray) -> np.ndarray:
    """overdraw.comp's colours of per-pixel blended counts (0: none, the background)."""
    heat = heat_colour(np.log2(np.maximum(blended, 1)) / math.log2(OVERDRAW_MAX))
    return np.where((blended > 0)[..., None], heat, 0.0)


def test_overdraw_counts_stop_where_pixels_saturate(renderer, upload):
    """A dense scene whose pixels turn opaque: the count ends before the splat that would take T
    below 1e-4, in every backend's overdraw (the cpu backend counts as it composites)."""
    scene = random_scene(np.random.default_rng(5), 3000, sh_degree=0, spread=1.0)
    camera = Camera.look_at((0, -1.2, 0), (0, 0, 0), (0, 0, 1), 160, 120, 70.0)
    black = upload(coloured(scene, np.zeros((scene.count, 3))))
    image = renderer.render_image(black, FrameInputs(camera), RenderSettings(mode="overdraw"))
    white = RenderSettings(background=(1.0, 1.0, 1.0))
    transmittance = renderer.render_image(black, FrameInputs(camera), white)[..., 0]
    opaque = transmittance < 0.01  # where pixels stop (T < 1e-4 / (1 - alpha), alpha <= 0.99)
    blended = reference_contributions(scene, camera).blended
    agree = np.abs(image - overdraw_colours(blended)).max(axis=2) < 1e-4
    assert agree.mean() > 0.98
    assert opaque.mean() > 0.2 and agree[opaque].mean() > 0.98


def test_selected_gaussians_are_highlighted_never_culled(renderer, upload):
    rng = np.random.default_rng()
    scene, camera = setup(rng, 200)
    scene = scene.with_sh_degree(0)
    gpu_scene = upload(scene)
    flags = np.zeros(scene.count, np.uint32)
    flags[7] = FLAG_SELECTED
    flags[8] = FLAG_SELECTED | FLAG_HIDDEN
    gpu_scene.write_flags(flags)
    gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    rgb = np.clip(scene.sh[:, 0] * C0 + 0.5, 0, None)
    rgb[7] = (1.0, 0.1, 0.9)
    keep = np.arange(scene.count) != 8
    ref = render_scene_reference(coloured(scene, rgb).subset(keep), camera, RenderSettings())
    assert psnr(gpu, ref) >= MIN_PSNR


def test_heat_values_scale_into_the_unit_range():
    from viewer.scalars import heat_values

    rng = np.random.default_rng()
    scene = random_scene(rng, 500, sh_degree=0)
    opacity = heat_values(scene, "opacity")
    np.testing.assert_array_equal(opacity.values, scene.opacities)
    size = heat_values(scene, "size")
    largest = scene.scales.max(axis=1)
    assert size.values.min() == 0.0 and size.values.max() == 1.0
    order = np.argsort(largest)
    assert (np.diff(size.values[order]) >= 0).all()  # monotone in the size
    assert size.low.startswith("largest scale ")
    lo, hi = float(size.low.split()[-1]), float(size.high)
    assert lo == pytest.approx(np.quantile(largest, 0.01), rel=1e-2)
    assert hi == pytest.approx(np.quantile(largest, 0.99), rel=1e-2)
    with pytest.raises(ValueError, match="unknown heatmap"):
        heat_values(scene, "nonsense")


def test_render_command_draws_the_modes(tmp_path):
    import subprocess
    import sys

    images = {}
    for mode in ("colour", "heatmap", "overdraw"):
        out = tmp_path / f"{mode}.npy"
        subprocess.run(
            [sys.executable, "-m", "viewer", "render", "--out-npy", str(out), "--width", "64",
             "--height", "36", "--mode", mode, "--heatmap", "size"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        images[mode] = np.load(out)
    assert psnr(images["colour"], images["heatmap"]) < 20
    assert psnr(images["colour"], images["overdraw"]) < 20


def test_the_first_window_frame_of_overdraw_drops_no_pair(gl_ctx, upload):
    """A window draws with `render` once per change: the first binned frame of a fresh renderer
    (pair buffers at their smallest) must already be whole, as `render_image` is."""
    from viewer.render.accum_target import AccumTarget

    scene = random_scene(np.random.default_rng(5), 3000, sh_degree=0, spread=1.0)
    camera = Camera.look_at((0, -1.2, 0), (0, 0, 0), (0, 0, 1), 160, 120, 70.0)
    gpu_scene, settings = upload(scene), RenderSettings(mode="overdraw")
    window = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu"), "finish+wall")
    target = AccumTarget(gl_ctx)
    target.ensure_size(camera.width, camera.height)
    try:
        stats = window.render(gpu_scene, FrameInputs(camera), settings, target.framebuffer)
        assert stats is not None and stats.dropped == 0 and stats.pairs > 1024
        first = target.read_rgb()
    finally:
        target.release()
        window.release()
    blended = reference_contributions(scene, camera).blended
    assert (first.max(axis=2) > 0).mean() >= 0.99 * (blended > 0).mean()
