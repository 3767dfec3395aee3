"""Checks that only mean something on a real GPU (marked `gpu`: skipped with a reason elsewhere).

They run in the normal test command on a CUDA machine (scripts/gpu_check.py prints the full
timing table there): the GPU radix sort against the CPU sort at 1080p, per-pass GL timer stats,
and fidelity against the reference with the GPU sort.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.image_metrics import psnr
from viewer.reference import render_scene_reference
from viewer.render.frame_inputs import FrameInputs
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

pytestmark = pytest.mark.gpu
PASSES = ("preprocess", "sort", "raster", "resolve")


@pytest.fixture(scope="module")
def hardware_gl(gl_ctx):
    """The session's context, when it runs on a hardware GL device (else skip)."""
    from viewer.render.context import DeviceInfo

    device = DeviceInfo.of(gl_ctx)
    if device.is_software:
        pytest.skip(f"the GL device is {device.renderer}: a software rasterizer")
    return gl_ctx


@pytest.mark.parametrize("backend", ["quads", "tiles"])
def test_gpu_sort_gives_the_cpu_sort_image_at_1080p(hardware_gl, upload, backend):
    scene = random_scene(np.random.default_rng(1), 200_000, sh_degree=3)
    camera = Camera.look_at(np.array([0.0, -2.6, 0.8]), np.zeros(3), width=1920, height=1080)
    images = {}
    for sort in ("gpu", "cpu"):
        renderer = SplatRenderer(hardware_gl, RasterSettings(backend=backend, sort=sort))
        try:
            images[sort] = renderer.render_image(
                upload(scene), FrameInputs(camera), RenderSettings()
            )
        finally:
            renderer.release()
    assert psnr(images["gpu"], images["cpu"]) >= 60.0


def test_gl_timer_stats_name_every_pass(hardware_gl, upload):
    scene = random_scene(np.random.default_rng(2), 1_000_000, sh_degree=3)
    camera = Camera.look_at(np.array([0.0, -2.6, 0.8]), np.zeros(3), width=1920, height=1080)
    renderer = SplatRenderer(hardware_gl, RasterSettings(backend="tiles", sort="gpu"), "gl-timer")
    output = hardware_gl.framebuffer(color_attachments=[hardware_gl.texture((1920, 1080), 4)])
    gpu_scene = upload(scene)
    try:
        stats = [renderer.render(gpu_scene, FrameInputs(camera), RenderSettings(), output)
                 for _ in range(12)]  # fmt: skip
    finally:
        output.release()
        renderer.release()
    timed = [s for s in stats if s is not None]
    assert timed and timed[-1].visible > 0
    for name in PASSES:
        assert all(s.pass_ms[name] > 0.0 for s in timed[1:])
    print({name: round(float(np.median([s.pass_ms[name] for s in timed])), 3) for name in PASSES})


def test_reference_fidelity_with_the_gpu_sort(hardware_gl, upload):
    scene = random_scene(np.random.default_rng(3), 3000, sh_degree=3)
    camera = Camera.look_at(np.array([0.0, -2.6, 0.8]), np.zeros(3), width=160, height=120)
    for backend in ("quads", "tiles"):
        renderer = SplatRenderer(hardware_gl, RasterSettings(backend=backend, sort="gpu"))
        try:
            gpu = renderer.render_image(upload(scene), FrameInputs(camera), RenderSettings())
        finally:
            renderer.release()
        assert psnr(gpu, render_scene_reference(scene, camera, RenderSettings())) >= 45.0
