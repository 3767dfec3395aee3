"""The near plane fitted to the scene (near_plane 0, the default) and orbit zoom that never
passes the pivot's surface."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.test_pipeline import MIN_PSNR, psnr
from viewer.app.camera_controller import CameraController
from viewer.camera import Camera
from viewer.framing import default_camera
from viewer.reference import render_scene_reference
from viewer.render.frame_inputs import FrameInputs
from viewer.render.renderer import SplatRenderer
from viewer.scene import ORIGINAL_NEAR_PLANE, fitted_near_plane
from viewer.settings import RasterSettings, RenderSettings


@pytest.fixture(scope="module")
def donut():
    from viewer.formats import load_scene

    return load_scene(scene_path("donut.ply"))


@pytest.fixture(scope="module")
def renderer(gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu", validate=True))
    yield r
    r.release()


def test_the_fitted_near_plane_scales_with_the_scene_and_never_exceeds_the_original():
    assert RenderSettings().near_plane == 0.0  # fitted, unless given
    unit = np.ones(3)
    assert fitted_near_plane(-0.05 * unit, 0.05 * unit) == pytest.approx(0.02 * np.sqrt(0.03))
    assert fitted_near_plane(-500 * unit, 500 * unit) == ORIGINAL_NEAR_PLANE  # 1000 units
    assert fitted_near_plane(-5 * unit, 5 * unit) == ORIGINAL_NEAR_PLANE  # COLMAP scale
    assert 0 < fitted_near_plane(unit, unit) < 1e-6  # all at one point
    assert fitted_near_plane(-np.inf * unit, unit) > 0


def test_a_close_view_keeps_the_front_of_donut_ply(donut, renderer, upload):
    camera = Camera.look_at((0.25, 0.0, 0.06), (0.0, 0.0, 0.0), (0, 0, 1), 96, 64, 50.0)
    gpu = renderer.render_image(upload(donut), FrameInputs(camera), RenderSettings())
    everything = render_scene_reference(donut, camera, RenderSettings(near_plane=1e-6))
    assert psnr(gpu, everything) >= MIN_PSNR
    clipped = render_scene_reference(donut, camera, RenderSettings(near_plane=0.2))
    assert psnr(clipped, everything) < 25.0  # the old fixed 0.2 culls 32 % of the Gaussians


def test_twelve_zoom_notches_into_donut_ply_still_show_it(donut, renderer, upload):
    lo, hi = donut.robust_bounds()
    home = default_camera(donut, 96, 64)
    controller = CameraController.for_scene(lo, hi, np.array([0.0, 0.0, 1.0]), home)
    controller.near_plane = donut.fitted_near_plane()
    gpu_scene = upload(donut)
    for notches in range(1, 40):
        controller.zoom(1.0)
        camera = controller.camera(96, 64)
        assert controller.distance >= 2 * controller.near_plane * (1 - 1e-9)
        if notches in (6, 12, 39):
            image = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
            assert (image.max(axis=2) > 0.05).mean() > 0.5, f"{notches} notches: little shows"


def test_gpu_and_reference_fit_the_same_near_plane(renderer, upload):
    scene = random_scene(np.random.default_rng(9), 400, sh_degree=1, spread=0.05)
    camera = Camera.look_at((0.0, -0.02, 0.004), (0, 0, 0), (0, 0, 1), 64, 48, 70.0)
    gpu = renderer.render_image(upload(scene), FrameInputs(camera), RenderSettings())
    reference = render_scene_reference(scene, camera, RenderSettings())
    assert psnr(gpu, reference) >= MIN_PSNR
    fitted = RenderSettings(near_plane=scene.fitted_near_plane())
    np.testing.assert_array_equal(reference, render_scene_reference(scene, camera, fitted))
