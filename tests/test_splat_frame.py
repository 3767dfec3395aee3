"""Frames drawn in parts (`SplatRenderer.start`, `SplatFrame.step`): the window's way to keep
its UI rate while a slow device draws. Parts of any size give the whole frame's image, the output
keeps the earlier frame until the last part, and views rendered or measured between steps (a
pick, a screenshot, a changed scene) do not leak into it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_foveation import front_camera, front_scene
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_inputs import FrameInputs
from viewer.render.renderer import SplatRenderer
from viewer.render.tile_bins import tile_grid
from viewer.settings import RasterSettings, RenderSettings

CAMERA = front_camera(96, 64)


@pytest.fixture(scope="module")
def scene(gl_ctx):
    from viewer.render.gpu_scene import GpuScene

    gpu = GpuScene.from_scene(gl_ctx, front_scene(np.random.default_rng(3), 900))
    yield gpu
    gpu.release()


def _renderer(gl_ctx, backend: str) -> SplatRenderer:
    return SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort="cpu", validate=True))


def _in_parts(renderer, scene, settings, counts, between=lambda: None) -> np.ndarray:
    """Draw one frame in steps of `counts` (cycled), calling `between` after each step."""
    out = AccumTarget(renderer.ctx, dtype="f4")
    accum = AccumTarget(renderer.ctx)
    out.ensure_size(CAMERA.width, CAMERA.height)
    frame = renderer.start(scene, FrameInputs(CAMERA), settings, out.framebuffer, accum)
    steps = 0
    while not frame.step(counts[steps % len(counts)]):
        steps += 1
        between()
    assert frame.stats is not None and frame.stats.visible > 0
    image = out.read_rgb()
    out.release()
    accum.release()
    return image


@pytest.mark.parametrize("backend", ["quads", "tiles", "cpu"])
@pytest.mark.parametrize("mode", ["colour", "points", "outlines", "overdraw"])
def test_parts_of_any_size_give_the_whole_frame(gl_ctx, scene, backend, mode) -> None:
    renderer = _renderer(gl_ctx, backend)
    settings = RenderSettings(mode=mode)
    whole = renderer.render_image(scene, FrameInputs(CAMERA), settings)
    assert whole.max() > 0.05
    for counts in ([1], [7, 1, 40], [10_000]):
        parts = _in_parts(renderer, scene, settings, counts)
        np.testing.assert_allclose(parts, whole, atol=2e-6, err_msg=f"{counts}")
    renderer.release()


@pytest.mark.parametrize("backend", ["quads", "tiles", "cpu"])
def test_the_output_keeps_the_earlier_frame_until_the_last_part(gl_ctx, scene, backend) -> None:
    renderer = _renderer(gl_ctx, backend)
    out = AccumTarget(gl_ctx, dtype="f4")
    out.ensure_size(CAMERA.width, CAMERA.height)
    out.framebuffer.clear(0.25, 0.5, 0.75, 1.0)
    before = out.read_rgb()
    frame = renderer.start(scene, FrameInputs(CAMERA), RenderSettings(), out.framebuffer)
    assert not frame.step(3)
    assert frame.drawn == 3
    np.testing.assert_array_equal(out.read_rgb(), before)
    rows = tile_grid(CAMERA.width, CAMERA.height)[1]
    total = renderer.frame.visible_count() if backend == "quads" else rows
    assert 3 < total <= (scene.count if backend == "quads" else rows)
    steps = 1  # calls of step, the one above included
    while True:
        steps += 1
        if frame.step(3):
            break
    assert steps == -(-total // 3) and frame.done
    assert not np.array_equal(out.read_rgb(), before)
    renderer.release()
    out.release()


@pytest.mark.parametrize("backend", ["quads", "tiles", "cpu"])
def test_views_rendered_between_parts_do_not_leak_in(gl_ctx, scene, backend) -> None:
    renderer = _renderer(gl_ctx, backend)
    settings = RenderSettings()
    whole = renderer.render_image(scene, FrameInputs(CAMERA), settings)
    other = FrameInputs(front_camera(64, 48, fov_x=40.0))

    def pick_and_screenshot() -> None:
        renderer.measure(scene, other, settings, pixel=(20, 20))
        renderer.render_image(scene, other, settings)

    generation = renderer.generation
    parts = _in_parts(renderer, scene, settings, [1], pick_and_screenshot)
    assert renderer.generation > generation + 2  # the other views did rewrite the buffers
    np.testing.assert_allclose(parts, whole, atol=2e-6)
    renderer.release()
