"""Our reference renderer and GPU pipeline against an independent implementation (gsplat's torch
projection and SH, plus a dense per-pixel compositor: tests/independent_render.py).

The reference and the GPU once shared a wrong culling rule (a guard band on the centre), so
comparing them with each other could not see it; these tests compare both with code that shares
nothing with them. In float64 the reference and the independent renderer agree to ~1e-14, so the
bound is a max abs error of 1e-9 (PSNR far above 60 dB); the GPU (float32) must reach 40 dB.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import DONUT_TOP, random_scene, scene_path
from tests.independent_render import (
    axis_camera,
    gsplat_torch_impl,
    inside_out_shell,
    off_view_ratio,
    params64,
    psnr,
    render_independent,
    render_on_gpu,
)
from viewer.camera import Camera
from viewer.reference import render_reference
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

_IMPL, _WHY = gsplat_torch_impl()
pytestmark = pytest.mark.skipif(_IMPL is None, reason=f"independent renderer unavailable: {_WHY}")

MAX_ABS = 1e-9  # float64 reference vs float64 independent
MIN_PSNR_REF = 60.0
MIN_PSNR_GPU = 40.0


def independent(params, camera, settings: RenderSettings) -> np.ndarray:
    return render_independent(
        params,
        camera,
        near_plane=settings.near_plane,
        antialias=settings.antialias,
        sh_degree=settings.sh_degree,
        splat_scale=settings.splat_scale,
        background=settings.background,
    )


def reference64(params, camera, settings: RenderSettings) -> np.ndarray:
    with torch.no_grad():
        return render_reference(params, camera, settings, dtype=torch.float64).image.numpy()


def check_reference(scene, camera, settings: RenderSettings) -> tuple[np.ndarray, float]:
    """Reference (float64) == independent; returns (independent image, PSNR)."""
    params = params64(scene)
    expected = independent(params, camera, settings)
    ours = reference64(params, camera, settings)
    value, worst = psnr(ours, expected), float(np.abs(ours - expected).max())
    assert value >= MIN_PSNR_REF and worst <= MAX_ABS, (
        f"reference vs independent: PSNR {value:.1f} dB, max abs error {worst:.3g}"
    )
    return expected, value


# --- the CPU reference ---------------------------------------------------------------------------


@pytest.mark.parametrize("antialias", [False, True], ids=["plain", "antialias"])
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_random_scenes_every_sh_degree(degree, antialias):
    rng = np.random.default_rng(1000 + 10 * degree + antialias)
    scene = random_scene(rng, 250, sh_degree=degree)
    eye = rng.normal(size=3) * 0.2 + (0.0, -2.0, 0.3)
    camera = Camera.look_at(eye, (0, 0, 0), (0, 0, 1), 64, 48, float(rng.uniform(40, 70)))
    settings = RenderSettings(
        sh_degree=int(rng.integers(degree, 4)) if antialias else degree,
        background=tuple(float(v) for v in rng.uniform(0, 1, 3)),
        antialias=antialias,
        splat_scale=float(rng.uniform(0.6, 1.4)),
    )
    image, _ = check_reference(scene, camera, settings)
    assert np.abs(image - settings.background).max() > 0.2  # something drawn


@pytest.mark.parametrize("near", [0.01, 0.2])
def test_camera_inside_a_cloud_straddling_the_near_plane(near):
    rng = np.random.default_rng(7)
    scene = random_scene(rng, 300, sh_degree=2, spread=2.0)
    camera = Camera.look_at((0.05, 0.0, 0.0), (1.0, 0.3, 0.1), (0, 0, 1), 64, 48, 90.0)
    depth = (scene.means @ camera.world_to_camera[:3, :3].T + camera.world_to_camera[:3, 3])[:, 2]
    assert ((depth > 0.01) & (depth <= 0.2)).any()  # the two near planes give different images
    check_reference(scene, camera, RenderSettings(near_plane=near))


def test_inside_out_shell_and_the_old_rule_fails_it():
    camera = axis_camera(64, 48)
    scene = inside_out_shell(np.random.default_rng(3), camera)
    assert (off_view_ratio(scene.means[:60], camera) > 2.0).all()  # shell: outside, beyond 2.0
    settings = RenderSettings(near_plane=0.2)
    expected, _ = check_reference(scene, camera, settings)
    assert expected.mean() > 0.3  # the shell fills the view
    # The pre-aa69c4d rule (centre guard band 2.0) scores far below: this check has teeth.
    old = reference64(params64(scene), camera, RenderSettings(near_plane=0.2, guard_band=2.0))
    assert psnr(old, expected) < 30.0


SCALES = pytest.mark.parametrize(
    ("spread", "near", "eye"),
    [(0.1, 0.001, (0.01, -0.2, 0.03)), (1000.0, 0.2, (40.0, -1800.0, 300.0))],
    ids=["0.1-units", "1000-units"],
)


def scaled_view(spread: float, eye: tuple[float, float, float]) -> tuple[GaussianScene, Camera]:
    """A random scene `spread` units across and a camera at `eye` looking at its middle."""
    rng = np.random.default_rng(int(spread * 10))
    scene = random_scene(rng, 250, sh_degree=1, spread=spread)
    return scene, Camera.look_at(eye, (0, 0, 0), (0, 0, 1), 80, 60, 50.0)


@SCALES
def test_tiny_and_huge_scenes(spread, near, eye):
    scene, camera = scaled_view(spread, eye)
    depth = (scene.means @ camera.world_to_camera[:3, :3].T + camera.world_to_camera[:3, 3])[:, 2]
    assert depth.min() > near  # the near plane fits the scene: all of it is in front
    image, _ = check_reference(scene, camera, RenderSettings(near_plane=near))
    assert image.max() > 0.3


@pytest.fixture(scope="module")
def donut():
    from viewer.formats import load_scene

    return load_scene(scene_path("donut.ply"))


def test_donut_documented_camera(donut):
    """The documented top view (fx = fy = width / 2) on a fixed 4000-Gaussian subsample."""
    width, height = 64, 48
    camera = Camera(width, height, width / 2, width / 2, width / 2, height / 2, DONUT_TOP)
    keep = np.sort(np.random.default_rng(0).choice(donut.count, 4000, replace=False))
    image, _ = check_reference(donut.subset(keep), camera, RenderSettings(near_plane=0.01))
    assert image.max() > 0.3


def test_donut_close_view_cropped(donut):
    """A close view of the icing, on the Gaussians whose centres lie near its frustum."""
    camera = Camera.look_at((0.08, -0.05, 0.07), (0.065, 0.0, 0.03), (0, 0, 1), 64, 48, 30.0)
    crop = donut.subset(off_view_ratio(donut.means, camera) < 1.2)
    assert 1000 < crop.count < 5000
    image, _ = check_reference(crop, camera, RenderSettings(near_plane=0.01))
    assert image.mean() > 0.3  # the view is full of donut


# --- the GPU pipeline ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["quads", "tiles", "cpu"])
def renderer(request, gl_ctx):
    """Each backend; the cpu one as `auto` runs it on software GL (no validation switch: its
    frames are then made on the host)."""
    from viewer.render.renderer import SplatRenderer

    validate = request.param != "cpu"
    r = SplatRenderer(gl_ctx, RasterSettings(backend=request.param, sort="cpu", validate=validate))
    yield r
    r.release()


def test_gpu_inside_out_shell(renderer):
    camera = axis_camera(64, 48)
    scene = inside_out_shell(np.random.default_rng(3), camera)
    settings = RenderSettings(near_plane=0.2, background=(0.1, 0.2, 0.3))
    gpu, visible = render_on_gpu(renderer, scene, camera, settings)
    value = psnr(gpu, independent(params64(scene), camera, settings))
    assert value >= MIN_PSNR_GPU, f"GPU ({renderer.backend}) vs independent: {value:.1f} dB"
    assert visible >= 60  # every shell splat reaches the image


@SCALES
def test_gpu_tiny_and_huge_scenes(renderer, spread, near, eye):
    scene, camera = scaled_view(spread, eye)
    settings = RenderSettings(near_plane=near)
    gpu, visible = render_on_gpu(renderer, scene, camera, settings)
    value = psnr(gpu, independent(params64(scene), camera, settings))
    assert value >= MIN_PSNR_GPU, f"GPU ({renderer.backend}) vs independent: {value:.1f} dB"
    assert visible > 100


def test_gpu_random_scene(renderer):
    rng = np.random.default_rng(11)
    scene = random_scene(rng, 300, sh_degree=3)
    camera = Camera.look_at((0.3, -2.0, 0.5), (0, 0, 0), (0, 0, 1), 64, 48, 55.0)
    settings = RenderSettings(antialias=True, background=(0.2, 0.2, 0.2), splat_scale=1.2)
    gpu, _ = render_on_gpu(renderer, scene, camera, settings)
    value = psnr(gpu, independent(params64(scene), camera, settings))
    assert value >= MIN_PSNR_GPU, f"GPU ({renderer.backend}) vs independent: {value:.1f} dB"
