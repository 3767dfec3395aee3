"""The cpu backend's image resolved on the host (viewer/render/host_resolve.py): the GL resolve
pass's result, stretched as it stretches at a lower render scale, written straight into the
output."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.test_pipeline import psnr
from viewer.camera import Camera
from viewer.render.accum_target import AccumTarget
from viewer.render.frame_inputs import FrameInputs
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

CAMERA = Camera.look_at((0.1, -1.8, 0.4), (0, 0, 0), (0, 0, 1), 72, 40)
SETTINGS = RenderSettings(background=(0.2, 0.5, 0.9))


@pytest.fixture(scope="module")
def cpu(gl_ctx):
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="cpu", sort="cpu", validate=True))
    yield renderer
    renderer.release()


@pytest.fixture
def scene(upload):
    return upload(random_scene(np.random.default_rng(4), 800, sh_degree=1))


def read(target: AccumTarget) -> np.ndarray:
    """[H, W, 4] of a target of either format, in [0, 1] for RGBA8, rows bottom up."""
    width, height = target.size
    dtype = np.uint8 if target.dtype == "f1" else np.float32
    pixels = np.frombuffer(target.texture.read(), dtype).reshape(height, width, 4)
    return pixels / 255.0 if target.dtype == "f1" else pixels


def gl_resolved(renderer: SplatRenderer, dtype: str, size: tuple[int, int]) -> np.ndarray:
    """The renderer's last accumulation image resolved by the GL pass into a new target."""
    out = AccumTarget(renderer.ctx, dtype)
    out.ensure_size(*size)
    renderer.accum.on_host = True  # the host image of the frame just drawn
    renderer.accum.upload()
    renderer.resolve.run(renderer.accum, out.framebuffer, SETTINGS.background)
    image = read(out)
    out.release()
    return image


def host_resolved(renderer, scene, inputs, dtype, monkeypatch) -> np.ndarray:
    """A frame of `inputs` resolved on the host into a target of the camera's size."""
    out = AccumTarget(renderer.ctx, dtype)
    out.ensure_size(inputs.camera.width, inputs.camera.height)
    with monkeypatch.context() as patch:
        patch.setattr(renderer.resolve, "run", lambda *a, **k: pytest.fail("the GL pass ran"))
        renderer.render(scene, inputs, SETTINGS, out.framebuffer)
    image = read(out)
    out.release()
    assert not renderer.accum.on_host
    return image


@pytest.mark.parametrize("dtype", ["f4", "f1"])
def test_the_host_writes_what_the_gl_resolve_would(cpu, scene, dtype, monkeypatch):
    host = host_resolved(cpu, scene, FrameInputs(CAMERA), dtype, monkeypatch)
    expected = gl_resolved(cpu, dtype, (CAMERA.width, CAMERA.height))
    assert host[..., :3].std() > 0.05
    np.testing.assert_array_equal(host[..., 3], 1.0)
    np.testing.assert_allclose(host, expected, atol=1e-6 if dtype == "f4" else 1 / 255 + 1e-6)


@pytest.mark.parametrize("scale", [0.5, 0.3])
def test_a_lower_render_scale_is_stretched_on_the_host_as_by_the_gl_pass(
    cpu, scene, scale, monkeypatch
):
    host = host_resolved(cpu, scene, FrameInputs(CAMERA, render_scale=scale), "f4", monkeypatch)
    assert cpu.accum.size == (round(CAMERA.width * scale), round(CAMERA.height * scale))
    expected = gl_resolved(cpu, "f4", (CAMERA.width, CAMERA.height))
    assert np.abs(host - expected).max() < 1e-5
    assert psnr(host[..., :3], expected[..., :3]) >= 60.0
