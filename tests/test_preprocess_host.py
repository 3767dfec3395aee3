"""Preprocess on the host (viewer/render/preprocess_host.py) against preprocess.comp on llvmpipe:
the same splats (ids, and values within float32 rounding) on the built-in scene, donut and
guitar from several cameras, inside the scenes too, in every mode and feature it covers; the cpu
backend's images against the torch reference; and the GL pass wherever it does not cover."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.test_pipeline import donut_cameras, psnr
from viewer.camera import Camera
from viewer.features.lod_gpu import attach_hierarchy
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.path_cameras import orbit
from viewer.reference import render_scene_reference
from viewer.render.fovea import Fovea
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.frame_view import FrameView
from viewer.render.gpu_scene import GpuScene, HostUpload
from viewer.render.host_splats import HostSplats
from viewer.render.layout import FLAG_HIDDEN, FLAG_PRUNED, FLAG_SELECTED
from viewer.render.preprocess_host import SETTLE_FRAMES
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

MIN_PSNR = 50.0
W, H = 160, 90


@pytest.fixture(scope="module")
def renderer(gl_ctx):
    made = SplatRenderer(gl_ctx, RasterSettings(backend="cpu", sort="cpu"))
    yield made
    made.release()


@pytest.fixture(scope="module")
def scenes(gl_ctx):
    """name -> (scene, its GpuScene): the built-in scene, donut.ply and guitar."""
    from viewer.builtin_scene import load_builtin_scene
    from viewer.formats import load_scene

    made = {
        "builtin": load_builtin_scene(),
        "donut": load_scene(scene_path("donut.ply")),
        "guitar": load_scene(scene_path("guitar.compressed.ply")),
    }
    gpus = {name: (scene, GpuScene.from_scene(gl_ctx, scene)) for name, scene in made.items()}
    yield gpus
    for _, gpu in gpus.values():
        gpu.release()


def _untimed(_name):
    from contextlib import nullcontext

    return nullcontext()


def prepared(renderer, gpu, inputs, settings, host):
    """The job the cpu backend would bin: preprocess on the host (`host`) or the GL pass."""
    view = FrameView.of(gpu, inputs)
    return renderer._sorted_splats(gpu, view, settings, True, _untimed, host)


def gl_splats(renderer, gpu, inputs, settings) -> HostSplats:
    """The GL pass's splats, read back, in row order (its append order is llvmpipe's)."""
    job = prepared(renderer, gpu, inputs, settings, host=False)
    assert job.host is None
    frame = job.frame
    count = frame.visible_count()
    records = frame.read_splats(count).view(np.float32).reshape(count, 12)
    ids = frame.read_uint(frame.gaussian_ids, count)
    by_id = np.argsort(ids)
    return HostSplats(records[by_id], ids[by_id])


def host_splats(renderer, gpu, inputs, settings) -> HostSplats:
    job = prepared(renderer, gpu, inputs, settings, host=True)
    assert job.host is not None, "the host preprocess covers this frame"
    return job.host


def same_splats(host: HostSplats, gl: HostSplats) -> None:
    """Same ids; every value within float32 rounding of the GL pass's."""
    assert host.count == gl.count
    assert np.array_equal(host.ids, gl.ids)
    if host.count == 0:
        return
    a, b = host.records.astype(np.float64), gl.records.astype(np.float64)
    # centre, depth: relative
    for column in (0, 1, 11):
        scale = np.maximum(np.abs(b[:, column]), 1.0 if column < 2 else 1e-6)
        assert (np.abs(a[:, column] - b[:, column]) / scale).max() < 2e-5, column
    # opacity: antialias's sqrt(det0 / det) cancels in det0 for thin splats
    assert (np.abs(a[:, 7] - b[:, 7]) / b[:, 7]).max() < 5e-4
    # extent = sqrt(cutoff cov2d's diagonal), cutoff = 2 ln(255 opacity): 0 at 1/255, so
    # compare the diagonal it comes from (where the cutoff is not about 0); a few float32 ulp,
    # up to 2e-5 for splats a few cm from the camera (guitar, inside)
    cutoffs = (2.0 * np.log(255.0 * a[:, 7]), 2.0 * np.log(255.0 * b[:, 7]))
    clear = cutoffs[1] > 0.05
    for column in (2, 3):
        host_diagonal = a[clear, column] ** 2 / cutoffs[0][clear]
        gl_diagonal = b[clear, column] ** 2 / cutoffs[1][clear]
        assert (np.abs(host_diagonal - gl_diagonal) / gl_diagonal).max() < 1e-4, column
    # the conic, where it matters: the exponent -d^T conic d / 2 over the footprint (d^T
    # conic d <= cutoff) moves by at most cutoff / 2 * |eigenvalues of cov2d (conic' - conic)|;
    # float32 rounding of cov2d = J W Sigma W^T J^T is amplified for splats large on screen,
    # near the camera (up to 3e-3 inside the donut's ring, 3e-5 from outside)
    conic = np.stack([b[:, 4], b[:, 5], b[:, 5], b[:, 6]], -1).reshape(-1, 2, 2)
    delta = np.stack([a[:, 4] - b[:, 4], a[:, 5] - b[:, 5]], -1)
    delta = np.stack([delta[:, 0], delta[:, 1], delta[:, 1], a[:, 6] - b[:, 6]], -1)
    spread = np.abs(np.linalg.eigvals(np.linalg.inv(conic) @ delta.reshape(-1, 2, 2))).max(1)
    cutoff = 2.0 * np.log(255.0 * b[:, 7])
    assert (cutoff / 2 * spread).max() < 1e-2
    assert np.abs(a[:, 8:11] - b[:, 8:11]).max() < 2e-5  # colour
    # the depth order
    assert np.array_equal(np.sort(host.order), np.arange(host.count))
    assert (np.diff(host.records[host.order, 11]) >= 0).all()


def check(renderer, gpu, inputs, settings=RenderSettings()) -> HostSplats:
    host = host_splats(renderer, gpu, inputs, settings)
    same_splats(host, gl_splats(renderer, gpu, inputs, settings))
    return host


def inside(scene, width=W, height=H) -> Camera:
    """A camera at the scene's centre, looking along +x: half of it behind the near plane."""
    lo, hi = scene.robust_bounds()
    centre = (lo + hi) / 2
    target = centre + np.array([1.0, 0.1, 0.05])
    return Camera.look_at(tuple(centre), tuple(target), (0, 0, 1), width, height, 70.0)


@pytest.mark.parametrize("name", ["builtin", "donut", "guitar"])
def test_the_splats_of_the_gl_pass_along_an_orbit_and_inside(renderer, scenes, name):
    scene, gpu = scenes[name]
    settings = RenderSettings(near_plane=0.01)
    cameras = [*orbit(scene, W, H, 3), inside(scene)]
    if name == "donut":
        cameras += donut_cameras(W, H)
    for camera in cameras:
        host = check(renderer, gpu, FrameInputs(camera), settings)
        assert host.count > 0


def test_modes_and_options_as_the_gl_pass(renderer, scenes):
    scene, gpu = scenes["donut"]
    camera = orbit(scene, W, H, 2)[1]
    options = [
        RenderSettings(antialias=True),
        RenderSettings(guard_band=1.1, splat_scale=1.7),
        RenderSettings(sh_degree=1),
        RenderSettings(sh_degree=0),
        RenderSettings(mode="depth"),
        RenderSettings(mode="heatmap"),
        RenderSettings(mode="heatmap", heatmap="lod_level"),  # no LOD tree: level 0's colour
    ]
    gpu.write_heat(np.random.default_rng(1).uniform(0, 1, gpu.count).astype(np.float32))
    for settings in options:
        check(renderer, gpu, FrameInputs(camera), settings)


def test_crop_pruning_and_selection_flags(renderer, scenes):
    scene, gpu = scenes["builtin"]
    camera = orbit(scene, W, H, 2)[0]
    flags = np.zeros(gpu.count, np.uint32)
    rng = np.random.default_rng(2)
    flags[rng.random(gpu.count) < 0.2] |= FLAG_HIDDEN
    flags[rng.random(gpu.count) < 0.2] |= FLAG_PRUNED
    flags[rng.random(gpu.count) < 0.2] |= FLAG_SELECTED
    gpu.write_flags(flags)
    try:
        everything = check(renderer, gpu, FrameInputs(camera))
        assert not (flags[everything.ids] & (FLAG_HIDDEN | FLAG_PRUNED)).any()
        selected = (flags[everything.ids] & FLAG_SELECTED) != 0
        assert selected.any()
        assert np.allclose(everything.records[selected, 8:11], (1.0, 0.1, 0.9))
        only_hidden = FrameInputs(camera, flag_mask=FLAG_HIDDEN)
        assert check(renderer, gpu, only_hidden).count > everything.count
    finally:
        gpu.write_flags(np.zeros(gpu.count, np.uint32))


def test_raw_parameters_as_a_trainer_holds_them(renderer, gl_ctx):
    from viewer.render.context import DeviceInfo

    rng = np.random.default_rng(4)
    scene = random_scene(rng, 4000, sh_degree=2)
    gpu = GpuScene(gl_ctx, DeviceInfo.of(gl_ctx), scene.count, 2, raw=True)
    try:
        gpu.write(
            means=scene.means, scales=np.log(scene.scales), rotations=scene.rotations * 3.0,
            opacities=np.log(scene.opacities / (1 - scene.opacities)), sh=scene.sh,
        )  # fmt: skip
        camera = Camera.look_at((0.2, -2.0, 0.4), (0, 0, 0), (0, 0, 1), W, H, 60.0)
        assert check(renderer, gpu, FrameInputs(camera)).count > 1000
    finally:
        gpu.release()


@pytest.fixture(scope="module")
def donut_lod(gl_ctx, scenes):
    scene, _ = scenes["donut"]
    gpu = GpuScene.from_scene(gl_ctx, scene)
    attach_hierarchy(gpu, build_hierarchy(scene))
    yield scene, gpu
    gpu.release()


@pytest.mark.parametrize(
    "cut", [LodCut(tau=1.0), LodCut(tau=6.0, blend_width=1.0), LodCut(budget=11_000)]
)
def test_lod_blend_towards_the_parent_as_the_gl_pass(renderer, donut_lod, cut):
    scene, gpu = donut_lod
    for camera in [*orbit(scene, W, H, 2), inside(scene)]:
        inputs = FrameInputs(camera, lod=cut)
        for settings in (RenderSettings(), RenderSettings(mode="heatmap", heatmap="lod_level")):
            host = check(renderer, gpu, inputs, settings)
            assert host.count > 0
            assert (host.ids >= gpu.leaves).any()  # merged nodes drawn


@pytest.mark.parametrize("name", ["builtin", "donut", "guitar"])
def test_images_match_the_torch_reference(renderer, scenes, name):
    scene, gpu = scenes[name]
    settings = RenderSettings(near_plane=0.01)
    for camera in (orbit(scene, W, H, 2)[1], inside(scene)):
        image = renderer.render_image(gpu, FrameInputs(camera), settings)
        assert renderer.host_preprocess.covered
        reference = render_scene_reference(scene, camera, settings)
        assert psnr(image, reference) >= MIN_PSNR


def test_the_gl_pass_where_the_host_does_not_cover(renderer, scenes, gl_ctx):
    from viewer.builtin_scene import load_builtin_scene

    scene, gpu = scenes["builtin"]
    camera = orbit(scene, W, H, 2)[0]
    inputs = FrameInputs(camera)
    assert prepared(renderer, gpu, inputs, RenderSettings(), host=True).host is not None
    # another backend's raster, and `measure`, read the frame buffers
    assert prepared(renderer, gpu, inputs, RenderSettings(), host=False).host is None
    # a fovea without subsets does not change preprocess: the host covers it
    foveated = FrameInputs(camera, fovea=Fovea())
    assert prepared(renderer, gpu, foveated, RenderSettings(), host=True).host is not None
    # the scene's nested subsets (foveation's weights are not ported)
    gpu.write_levels(np.full(gpu.count, 2, np.uint8))
    try:
        assert FrameView.of(gpu, foveated).subsets is not None
        assert prepared(renderer, gpu, foveated, RenderSettings(), host=True).host is None
    finally:
        gpu.write_levels(None)
    # a scene written again soon after its last write (a live trainer's, one streaming in): the
    # GL pass until it is left alone for SETTLE_FRAMES frames; each version is read back once
    fresh = GpuScene.from_scene(gl_ctx, load_builtin_scene())
    try:
        assert prepared(renderer, fresh, inputs, RenderSettings(), host=True).host is not None
        fresh.write_heat(np.zeros(fresh.count, np.float32))
        for _ in range(SETTLE_FRAMES):
            assert prepared(renderer, fresh, inputs, RenderSettings(), host=True).host is None
        assert prepared(renderer, fresh, inputs, RenderSettings(), host=True).host is not None
        # rows written on the GPU side (CUDA-GL interop)
        fresh.upload = _Interop()
        assert prepared(renderer, fresh, inputs, RenderSettings(), host=True).host is None
    finally:
        fresh.release()
    # switched off
    renderer.host_preprocessing = False
    try:
        assert prepared(renderer, gpu, inputs, RenderSettings(), host=True).host is None
    finally:
        renderer.host_preprocessing = True


def test_an_lod_cut_made_by_the_gl_pass_keeps_the_gl_preprocess(renderer, donut_lod):
    scene, gpu = donut_lod
    inputs = FrameInputs(orbit(scene, W, H, 2)[0], lod=LodCut(tau=1.0))
    assert prepared(renderer, gpu, inputs, RenderSettings(), host=True).host is not None
    renderer.host_cut = False
    try:
        assert prepared(renderer, gpu, inputs, RenderSettings(), host=True).host is None
    finally:
        renderer.host_cut = True


def test_validation_sees_the_host_splats_in_the_frame_buffers(gl_ctx, scenes):
    scene, gpu = scenes["donut"]
    checked = SplatRenderer(gl_ctx, RasterSettings(backend="cpu", sort="cpu", validate=True))
    try:
        camera = orbit(scene, W, H, 2)[0]
        image = checked.render_image(gpu, FrameInputs(camera), RenderSettings())
        assert checked.host_preprocess.covered
        job = prepared(checked, gpu, FrameInputs(camera), RenderSettings(), host=True)
        assert job.host is not None
        count = job.frame.visible_count()
        assert count == job.host.count
        ids = job.frame.read_uint(job.frame.gaussian_ids, count)
        assert np.array_equal(ids, job.host.ids)
        assert image.max() > 0.2
    finally:
        checked.release()


class _Interop(HostUpload):
    """An upload named as one whose rows reach the buffers on the GPU side (`CudaGLUpload`)."""

    name = "cuda-gl"


def test_an_empty_scene_and_one_culled_whole(renderer, gl_ctx, scenes):
    from viewer.render.context import DeviceInfo

    empty = GpuScene(gl_ctx, DeviceInfo.of(gl_ctx), 16, 3)
    try:
        camera = Camera.look_at((0, -2.0, 0), (0, 0, 0), (0, 0, 1), W, H, 60.0)
        assert check(renderer, empty, FrameInputs(camera)).count == 0
    finally:
        empty.release()
    _, gpu = scenes["donut"]
    away = Camera.look_at((0, 0, 5.0), (0, 0, 10.0), (0, 1, 0), W, H, 60.0)  # looks away
    assert check(renderer, gpu, FrameInputs(away)).count == 0
    assert renderer.render_image(gpu, FrameInputs(away), RenderSettings()).max() == 0.0


def test_the_kernel_cache_follows_the_host_preprocess():
    """Its kernels inline constants from layout and colormap (jit_setup's digest)."""
    from viewer.render import jit_setup

    for name in ("preprocess_host", "layout", "colormap"):
        assert name in jit_setup.KERNEL_SOURCES
