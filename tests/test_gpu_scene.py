"""GpuScene: capacity, live count, version, ranged numpy/torch writes, growth, run-time SH degree,
raw parameters, and the CPU/GPU flag ownership."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.conftest import random_scene
from tests.test_pipeline import MIN_PSNR, psnr
from viewer.camera import Camera
from viewer.reference import render_scene_reference
from viewer.render.context import DeviceInfo
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_FOVEA_CULLED, FLAG_LOD_CULLED, FLAG_PRUNED, GPU_FLAGS
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

CAMERA = Camera.look_at((0, -2.2, 0.4), (0, 0, 0), (0, 0, 1), 40, 30)


@pytest.fixture(scope="module", params=["quads", "tiles"])
def renderer(request, gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend=request.param, sort="cpu", validate=True))
    yield r
    r.release()


@pytest.fixture
def small_chunks(gl_ctx):
    """The context's device facts with SSBO blocks of 1 KiB: chunks of 5 Gaussians."""
    return dataclasses.replace(DeviceInfo.of(gl_ctx), max_ssbo_bytes=1024)


def arrays(scene: GaussianScene) -> dict[str, np.ndarray]:
    return {
        name: getattr(scene, name) for name in ("means", "scales", "rotations", "opacities", "sh")
    }


def image(renderer, gpu_scene, flag_mask=None):
    inputs = FrameInputs(CAMERA) if flag_mask is None else FrameInputs(CAMERA, flag_mask=flag_mask)
    return renderer.render_image(gpu_scene, inputs, RenderSettings())


def test_a_scene_uploaded_in_ranges_across_chunks_renders_as_the_reference(
    gl_ctx, renderer, small_chunks
):
    scene = random_scene(np.random.default_rng(1), 123, sh_degree=2)
    gpu_scene = GpuScene(gl_ctx, small_chunks, 10, sh_degree=2)
    try:
        assert gpu_scene.chunk_rows == 5 and gpu_scene.count == 0
        values = arrays(scene)
        for start in range(0, 123, 17):  # ranged writes, each growing the count
            gpu_scene.write(start, **{k: v[start : start + 17] for k, v in values.items()})
        assert gpu_scene.count == 123 and gpu_scene.capacity >= 123 and len(gpu_scene.chunks) > 20
        np.testing.assert_array_equal(gpu_scene.read("opacities"), scene.opacities)
        np.testing.assert_array_equal(gpu_scene.read("means")[:, :3], scene.means)
        np.testing.assert_array_equal(gpu_scene.read("sh"), scene.sh.reshape(123, -1))
        gpu = image(renderer, gpu_scene)
        assert psnr(gpu, render_scene_reference(scene, CAMERA, RenderSettings())) >= MIN_PSNR
    finally:
        gpu_scene.release()


def test_growing_keeps_what_was_written_and_the_renderer_draws_the_new_count(
    gl_ctx, renderer, small_chunks
):
    first = random_scene(np.random.default_rng(2), 7, sh_degree=1)
    more = random_scene(np.random.default_rng(3), 300, sh_degree=1)
    gpu_scene = GpuScene(gl_ctx, small_chunks, 7, sh_degree=1)
    try:
        gpu_scene.write(**arrays(first))
        image(renderer, gpu_scene)  # the renderer's frame buffers are sized for 7
        capacity = gpu_scene.capacity
        gpu_scene.write(7, **arrays(more))  # densification: 300 more Gaussians
        assert gpu_scene.count == 307 and gpu_scene.capacity > capacity
        both = GaussianScene.from_arrays(
            *(np.concatenate([getattr(first, k), getattr(more, k)]) for k in arrays(first))
        )
        np.testing.assert_array_equal(gpu_scene.read("scales")[:, :3], both.scales)
        gpu = image(renderer, gpu_scene)
        assert psnr(gpu, render_scene_reference(both, CAMERA, RenderSettings())) >= MIN_PSNR
        gpu_scene.resize(7)  # the live count shrinks: only the first seven are drawn
        gpu = image(renderer, gpu_scene)
        assert psnr(gpu, render_scene_reference(first, CAMERA, RenderSettings())) >= MIN_PSNR
    finally:
        gpu_scene.release()


def test_shrinking_frees_the_rows_above_and_keeps_the_live_ones(gl_ctx, renderer, small_chunks):
    scene = random_scene(np.random.default_rng(5), 23, sh_degree=1)
    gpu_scene = GpuScene(gl_ctx, small_chunks, 40, sh_degree=1)
    try:
        gpu_scene.write(**arrays(scene))
        gpu_scene.shrink(12)  # below the count: the live rows stay
        assert gpu_scene.capacity == 23 and len(gpu_scene.chunks) == 5
        gpu_scene.resize(12)
        gpu_scene.shrink(12)
        assert gpu_scene.capacity == 12 and gpu_scene.chunks[-1].capacity == 2
        assert gpu_scene.nbytes < 40 * 112 / 2
        np.testing.assert_array_equal(gpu_scene.read("means")[:, :3], scene.means[:12])
        gpu = image(renderer, gpu_scene)
        first = scene.subset(np.arange(12))
        assert psnr(gpu, render_scene_reference(first, CAMERA, RenderSettings())) >= MIN_PSNR
        gpu_scene.write(12, **{k: v[12:] for k, v in arrays(scene).items()})  # grows again
        np.testing.assert_array_equal(gpu_scene.read("sh"), scene.sh.reshape(23, -1))
    finally:
        gpu_scene.release()


def test_torch_tensors_upload_as_numpy_arrays_do(gl_ctx, renderer):
    scene = random_scene(np.random.default_rng(4), 200, sh_degree=3)
    from_numpy = GpuScene.from_scene(gl_ctx, scene)
    from_torch = GpuScene(gl_ctx, DeviceInfo.of(gl_ctx), 200, sh_degree=3)
    try:
        from_torch.write(**{k: torch.from_numpy(v).double() for k, v in arrays(scene).items()})
        for name in ("means", "scales", "rotations", "opacities", "sh"):
            np.testing.assert_array_equal(from_torch.read(name), from_numpy.read(name))
        from_torch.bounds = from_numpy.bounds
        np.testing.assert_array_equal(image(renderer, from_torch), image(renderer, from_numpy))
    finally:
        from_numpy.release()
        from_torch.release()


def test_raw_parameters_render_as_their_activated_values(gl_ctx, renderer):
    rng = np.random.default_rng(5)
    scene = random_scene(rng, 250, sh_degree=1)
    log_scales = np.log(scene.scales)
    logits = np.log(scene.opacities / (1.0 - scene.opacities))
    unnormalised = scene.rotations * rng.uniform(0.2, 5.0, size=(250, 1)).astype(np.float32)
    raw = GpuScene(gl_ctx, DeviceInfo.of(gl_ctx), 250, sh_degree=1, raw=True)
    try:
        raw.write(
            means=torch.from_numpy(scene.means),
            scales=torch.from_numpy(log_scales),
            rotations=torch.from_numpy(unnormalised),
            opacities=torch.from_numpy(logits),
            sh=torch.from_numpy(scene.sh),
        )
        gpu = image(renderer, raw)
        assert psnr(gpu, render_scene_reference(scene, CAMERA, RenderSettings())) >= MIN_PSNR
    finally:
        raw.release()


def test_the_sh_degree_changes_at_run_time(gl_ctx, renderer):
    scene = random_scene(np.random.default_rng(6), 150, sh_degree=3)
    gpu_scene = GpuScene.from_scene(gl_ctx, scene.with_sh_degree(0))
    try:
        gpu_scene.set_sh_degree(3)
        assert gpu_scene.sh_coeffs == 16
        gpu_scene.write(sh=scene.sh)
        gpu = image(renderer, gpu_scene)
        assert psnr(gpu, render_scene_reference(scene, CAMERA, RenderSettings())) >= MIN_PSNR
        gpu_scene.set_sh_degree(0)
        with pytest.raises(ValueError, match="rows of 48 values, expected 3"):
            gpu_scene.write(sh=scene.sh)
    finally:
        gpu_scene.release()


def test_every_write_changes_the_version(gl_ctx):
    scene = random_scene(np.random.default_rng(7), 20, sh_degree=0)
    one, two = GpuScene.from_scene(gl_ctx, scene), GpuScene.from_scene(gl_ctx, scene)
    try:
        seen = {one.version, two.version}
        assert len(seen) == 2  # unique across scenes
        for write in (
            lambda: one.write(3, means=scene.means[3:5]),
            lambda: one.write_flags(np.zeros(20, np.uint32)),
            lambda: one.write_heat(np.zeros(20, np.float32)),
            lambda: one.resize(25),
            lambda: one.set_sh_degree(1),
        ):
            write()
            assert one.version not in seen
            seen.add(one.version)
    finally:
        one.release()
        two.release()


def test_cpu_masks_and_gpu_bits_live_apart_and_both_cull(gl_ctx, renderer):
    scene = random_scene(np.random.default_rng(8), 300, sh_degree=0)
    gpu_scene = GpuScene.from_scene(gl_ctx, scene)
    try:
        with pytest.raises(ValueError, match="GPU passes own"):
            gpu_scene.write_flags(np.full(300, FLAG_LOD_CULLED, np.uint32))
        pruned = np.arange(300) % 3 == 0
        gpu_scene.write_flags(np.where(pruned, FLAG_PRUNED, 0).astype(np.uint32))
        lod_culled = np.arange(300) % 3 == 1  # as a GPU pass would write it, into gpu_flags
        bits = np.where(lod_culled, FLAG_LOD_CULLED, 0).astype(np.uint32)
        gpu_scene.chunks[0].buffers["gpu_flags"].write(bits.tobytes())
        np.testing.assert_array_equal(gpu_scene.read("gpu_flags"), bits)  # not overwritten
        kept = scene.subset(~pruned & ~lod_culled)
        gpu = image(renderer, gpu_scene)
        assert psnr(gpu, render_scene_reference(kept, CAMERA, RenderSettings())) >= MIN_PSNR
        only_cpu = image(renderer, gpu_scene, flag_mask=FLAG_PRUNED)  # GPU bits not in the mask
        expected = render_scene_reference(scene.subset(~pruned), CAMERA, RenderSettings())
        assert psnr(only_cpu, expected) >= MIN_PSNR
        assert GPU_FLAGS == FLAG_LOD_CULLED | FLAG_FOVEA_CULLED
    finally:
        gpu_scene.release()
