"""The viewer's LOD state without a window: the build, the attach, each frame's cut and scale,
the frame-rate target's motion and stillness, flags and heat values of the merged nodes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.core.lod_state import LodState
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_HIDDEN
from viewer.render.renderer import SplatRenderer
from viewer.settings import LodSettings, RenderSettings


@pytest.fixture
def state(gl_ctx, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = random_scene(np.random.default_rng(41), 1200, sh_degree=1, spread=2.0)
    renderer = SplatRenderer(gl_ctx)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    yield LodState(renderer, gpu, scene), scene, gpu
    gpu.release()
    renderer.release()


def wait_attached(lod: LodState, settings: LodSettings) -> None:
    deadline = time.monotonic() + 60
    while not lod.update(settings, ("view",), 0.0, None):
        assert time.monotonic() < deadline and not lod.error
        time.sleep(0.01)


def camera() -> Camera:
    return Camera.look_at(np.array([4.0, -3.0, 2.0]), np.zeros(3), (0, 0, 1), 96, 64)


def test_nothing_happens_until_lod_is_enabled(state):
    lod, _, gpu = state
    assert not lod.update(LodSettings(), ("view",), 0.0, None)
    assert lod.job is None and lod.tree is None and gpu.lod_nodes == 0
    assert lod.cut(LodSettings(enabled=True)) == (None, 1.0)
    assert lod.facts(None).nodes == 0


def test_enabling_builds_attaches_and_cuts(state):
    lod, scene, gpu = state
    settings = LodSettings(enabled=True, tau=3.0)
    wait_attached(lod, settings)
    assert gpu.lod_nodes == lod.tree.node_count - scene.count > 0
    facts = lod.facts(None)
    assert facts.nodes == gpu.lod_nodes and facts.origin.startswith("built in")
    assert lod.cut(settings) == (LodCut(tau=3.0), 1.0)
    inputs = FrameInputs(camera(), lod=LodCut(tau=3.0))
    budget, _ = lod.cut(LodSettings(enabled=True, cut="budget"))
    assert budget is not None and budget.budget == LodSettings().budget
    psnr, ssim = lod.compare(inputs, RenderSettings())
    assert psnr > 10 and 0 < ssim <= 1 and lod.quality == (psnr, ssim)
    # merged nodes get the flags all their children have, and their children's mean heat
    flags = lod.node_flags(np.full(scene.count, FLAG_HIDDEN, np.uint32))
    assert flags.shape == (gpu.count,) and (flags == FLAG_HIDDEN).all()
    heat = lod.node_heat(np.full(scene.count, 0.25, np.float32))
    assert heat.shape == (gpu.count,) and np.allclose(heat, 0.25)
    assert lod.means.shape == (gpu.count, 3) and lod.level_of(gpu.count - 1) == gpu.lod_levels


def test_frame_rate_target_scales_down_while_moving_and_refines_when_still(state):
    lod, _, _ = state
    settings = LodSettings(enabled=True, cut="target_fps", target_fps=60.0, min_scale=0.5)
    wait_attached(lod, settings)
    now, view = 0.0, 0
    for _ in range(12):  # moving, every frame taking 0.2 s: far beyond 60 FPS
        now += 0.2
        view += 1
        lod.update(settings, (view,), now, 0.2)
    moving, scale = lod.cut(settings)
    assert scale == 0.5 and moving is not None and moving.budget > 0
    assert lod.busy(now + 0.05) and lod.facts(None).target is not None
    lod.update(settings, (view,), now + 0.05, 0.05)  # stopped, not for long yet
    assert lod.cut(settings)[1] == 0.5
    lod.update(settings, (view,), now + 0.2, 0.15)  # still for 0.2 s: full quality
    assert lod.cut(settings) == (LodCut(tau=settings.tau), 1.0)
    assert not lod.busy(now + 0.2)


def test_the_cpu_backend_lowers_the_scale_first(gl_ctx, monkeypatch, tmp_path):
    from viewer.settings import RasterSettings

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = random_scene(np.random.default_rng(42), 6000, sh_degree=0, spread=2.0)
    settings = LodSettings(enabled=True, cut="target_fps", target_fps=60.0, min_scale=0.25)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    try:
        for backend, scale_first in (("cpu", True), ("quads", False)):
            renderer = SplatRenderer(gl_ctx, RasterSettings(backend=backend))
            lod = LodState(renderer, gpu, scene)
            wait_attached(lod, settings)
            lod.update(settings, (1,), 0.0, None)
            assert lod.controller is not None and lod.controller.pixels_first is scale_first
            lod.controller.work = 0.25  # a quarter of the full frame's work, while moving
            lod.update(settings, (2,), 0.01, None)
            cut, scale = lod.cut(settings)
            assert cut is not None
            # the whole scene at half scale, or both halved evenly
            expected = (0.5, 0) if scale_first else (0.7, 3061)
            assert (scale, cut.budget) == (pytest.approx(expected[0]), expected[1])
            renderer.release()
    finally:
        gpu.release()


def test_the_view_target_draws_a_scaled_frame_small_and_stretches_it(state, gl_ctx):
    from viewer.app.view_target import ViewTarget
    from viewer.settings import RasterSettings

    lod, _, gpu = state
    target = ViewTarget(gl_ctx)
    try:
        inputs = FrameInputs(camera(), render_scale=0.5)
        stats = target.render(lod.renderer, gpu, inputs, RenderSettings(), RasterSettings())
        assert target.image.size == (48, 32) and target.window_size == (96, 64)
        assert stats is None or stats.render_scale == 0.5
        target.render(lod.renderer, gpu, FrameInputs(camera()), RenderSettings(), RasterSettings())
        assert target.image.size == (96, 64)
    finally:
        target.release()
