"""The pipeline against the CPU reference renderer: every raster backend, both sorts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.conftest import DONUT_TOP, random_scene, scene_path
from viewer.camera import Camera
from viewer.reference import render_scene_reference
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import FLAG_HIDDEN, FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

BACKENDS = [("quads", "cpu"), ("quads", "gpu"), ("tiles", "cpu"), ("tiles", "gpu"), ("cpu", "cpu")]
MIN_PSNR = 40.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


@pytest.fixture(scope="module", params=BACKENDS, ids=[f"{b}-{s}" for b, s in BACKENDS])
def renderer(request, gl_ctx):
    backend, sort = request.param
    r = SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort=sort, validate=True))
    yield r
    r.release()


@pytest.fixture(scope="module")
def donut():
    from viewer.formats import load_scene

    return load_scene(scene_path("donut.ply"))


def donut_cameras(width: int = 64, height: int = 48) -> list[Camera]:
    top = Camera(width, height, width / 2, width / 2, width / 2, height / 2, DONUT_TOP)
    return [
        top,
        Camera.look_at((0.18, -0.15, 0.12), (0, 0, 0), (0, 0, 1), width, height, 45.0),
        Camera.look_at((0.0, -0.02, 0.05), (0.02, 0.03, 0.0), (0, 0, 1), width, height, 70.0),
        # inside the ring, looking outwards: half of the Gaussians are behind the camera
        Camera.look_at((0.0, 0.0, 0.01), (1.0, 0.2, 0.0), (0, 0, 1), width, height, 60.0),
    ]


def check_matches_reference(upload, renderer, scene, camera, settings=RenderSettings()):
    gpu_scene = upload(scene)
    gpu = renderer.render_image(gpu_scene, FrameInputs(camera), settings)
    ref = render_scene_reference(scene, camera, settings)
    assert gpu.shape == ref.shape == (camera.height, camera.width, 3)
    assert np.isfinite(gpu).all()
    value = psnr(gpu, ref)
    assert value >= MIN_PSNR, f"PSNR {value:.1f} dB against the reference"
    return gpu


@pytest.mark.parametrize("view", range(4))
def test_donut_matches_reference(renderer, donut, view, upload):
    settings = RenderSettings(near_plane=0.01)
    image = check_matches_reference(upload, renderer, donut, donut_cameras()[view], settings)
    assert image.max() > 0.2  # the donut is in view, not an empty frame


def test_builtin_scene_matches_reference(renderer, upload):
    from viewer.builtin_scene import default_camera, load_builtin_scene, preview_cameras

    scene = load_builtin_scene()
    for camera in (default_camera(64, 36), preview_cameras(64, 36)["low"]):
        check_matches_reference(upload, renderer, scene, camera)


def test_compressed_guitar_matches_reference(renderer, upload):
    from viewer.formats import load_scene
    from viewer.framing import default_camera

    scene = load_scene(scene_path("guitar.compressed.ply"))
    camera = default_camera(scene, 64, 40)
    check_matches_reference(upload, renderer, scene, camera)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_random_scene_sh_degrees_and_settings(renderer, degree, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 400, sh_degree=degree)
    camera = Camera.look_at(
        rng.normal(size=3) * 0.2 + (0.0, -2.0, 0.3), (0, 0, 0), (0, 0, 1), 48, 32
    )
    settings = RenderSettings(
        sh_degree=int(rng.integers(0, 4)),
        background=tuple(float(v) for v in rng.uniform(0, 1, 3)),
        antialias=bool(degree % 2),
        splat_scale=float(rng.uniform(0.5, 1.5)),
    )
    check_matches_reference(upload, renderer, scene, camera, settings)


def test_camera_inside_cloud_with_large_splats(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=1, spread=2.0)
    camera = Camera.look_at((0.05, 0.0, 0.0), (1.0, 0.3, 0.1), (0, 0, 1), 40, 40, 90.0)
    settings = RenderSettings(near_plane=0.01)
    check_matches_reference(upload, renderer, scene, camera, settings)


def test_gaussians_behind_or_outside_are_never_drawn(renderer, gl_ctx, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 200, sh_degree=0, spread=0.2)
    look_away = Camera.look_at((0, -2, 0), (0, -4, 0), (0, 0, 1), 32, 24)
    gpu_scene = upload(scene)
    settings = RenderSettings(background=(0.25, 0.5, 0.75))
    image = renderer.render_image(gpu_scene, FrameInputs(look_away), settings)
    assert np.allclose(image, settings.background, atol=1e-6)
    side = Camera.look_at((0, -2, 0), (5, -2, 0), (0, 0, 1), 32, 24, 30.0)
    assert np.allclose(
        renderer.render_image(gpu_scene, FrameInputs(side), settings),
        settings.background,
        atol=1e-6,
    )
    assert renderer.frame.read_counters()[1] == 0  # nothing appended


def test_flags_hide_gaussians_without_touching_scene_data(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=2)
    camera = Camera.look_at((0, -2.2, 0.4), (0, 0, 0), (0, 0, 1), 40, 30)
    gpu_scene = upload(scene)
    hidden = rng.uniform(size=scene.count) < 0.5
    flags = np.where(hidden, FLAG_PRUNED, 0).astype(np.uint32)
    gpu_scene.write_flags(flags)
    gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    ref = render_scene_reference(scene.subset(~hidden), camera, RenderSettings())
    assert psnr(gpu, ref) >= MIN_PSNR
    gpu_scene.write_flags(np.full(scene.count, FLAG_HIDDEN, np.uint32))
    assert np.allclose(renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings()), 0.0)
    ignored = FrameInputs(camera, flag_mask=0)  # flags ignored: the full scene again
    full = renderer.render_image(gpu_scene, ignored, RenderSettings())
    assert psnr(full, render_scene_reference(scene, camera, RenderSettings())) >= MIN_PSNR


def test_partial_update_and_resize(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=1)
    gpu_scene = upload(scene)
    moved = scene.means.copy()
    moved[100:200] += rng.normal(scale=0.2, size=(100, 3)).astype(np.float32)
    gpu_scene.write(100, means=moved[100:200])
    updated = dataclasses.replace(scene, means=moved)
    for width, height in ((40, 30), (71, 23), (16, 16)):
        camera = Camera.look_at((0, -2.5, 0.5), (0, 0, 0), (0, 0, 1), width, height)
        gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
        ref = render_scene_reference(updated, camera, RenderSettings())
        assert psnr(gpu, ref) >= MIN_PSNR


def test_tiles_pair_buffers_grow_on_overflow(gl_ctx, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 200, sh_degree=0, spread=1.0)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="tiles", sort="cpu", validate=True))
    try:
        gpu_scene = upload(scene)  # pair buffers start at the minimum, 1024 pairs
        assert renderer.tile_bins().pair_capacity == 1024
        camera = Camera.look_at((0, -1.0, 0), (0, 0, 0), (0, 0, 1), 160, 120, 70.0)
        gpu = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
        assert renderer.tile_bins().pair_capacity > 1024
        assert psnr(gpu, render_scene_reference(scene, camera, RenderSettings())) >= MIN_PSNR
    finally:
        renderer.release()


def test_offscreen_renders_of_changing_sizes_leave_no_gl_error(renderer, gl_ctx, upload):
    rng = np.random.default_rng()
    gpu_scene = upload(random_scene(rng, 100, sh_degree=0))
    gl_ctx.error  # noqa: B018 (reading clears it)
    for width, height in ((40, 30), (40, 30), (23, 17), (64, 48)):
        camera = Camera.look_at((0, -2.5, 0.5), (0, 0, 0), (0, 0, 1), width, height)
        assert renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings()).shape == (
            height,
            width,
            3,
        )
        renderer.measure(gpu_scene, FrameInputs(camera), RenderSettings(), pixel=(3, 3))
        assert gl_ctx.error == "GL_NO_ERROR"
