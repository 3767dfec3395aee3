"""Preprocess on the host (viewer/render/preprocess_host.py) against preprocess.comp on llvmpipe:
the same splats (ids, and values within float32 rounding) on the built-in scene, donut and
guitar from several cameras, inside the scenes too, in every mode and feature it covers; the cpu
backend's images against the torch reference; and the GL pass wherever it does not cover."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.test_pipeline import donut_cameras, psnr
from viewer.camera import Camera
from viewer.features.foveation import subset_levels
from viewer.features.lod_gpu import attach_hierarchy
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.path_cameras import orbit
from viewer.reference import render_scene_reference
from viewer.render.fovea import Fovea
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.frame_view import FrameView
from viewer.render.gpu_scene import GpuScene, HostUpload
from viewer.render.host_splats import HostSplats
from viewer.render.layout import (
    COUNTER_FOVEA_CULLED,
    COUNTER_WORDS,
    FLAG_HIDDEN,
    FLAG_PRUNED,
    FLAG_SELECTED,
)
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


def prepared(renderer, gpu, inputs, settings, host, per_pixel=True):
    """The job the cpu backend would bin: preprocess on the host (`host`) or the GL pass.

    `per_pixel`: the raster weighs nested subsets per pixel (the cpu backend's), else
    preprocess weighs each splat's opacity (the quads backend's).
    """
    view = FrameView.of(gpu, inputs)
    return renderer._sorted_splats(gpu, view, settings, per_pixel, _untimed, host)


def gl_splats(renderer, gpu, inputs, settings, per_pixel=True) -> HostSplats:
    """The GL pass's splats, read back, in row order (its append order is llvmpipe's)."""
    job = prepared(renderer, gpu, inputs, settings, host=False, per_pixel=per_pixel)
    assert job.host is None
    frame = job.frame
    count = frame.visible_count()
    records = frame.read_splats(count).view(np.float32).reshape(count, 12)
    ids = frame.read_uint(frame.gaussian_ids, count)
    by_id = np.argsort(ids)
    culled = int(frame.read_uint(frame.counters, COUNTER_WORDS)[COUNTER_FOVEA_CULLED])
    return HostSplats(records[by_id], ids[by_id], fovea_culled=culled)


def host_splats(renderer, gpu, inputs, settings, per_pixel=True) -> HostSplats:
    job = prepared(renderer, gpu, inputs, settings, host=True, per_pixel=per_pixel)
    assert job.host is not None, "the host preprocess covers this frame"
    return job.host


def same_splats(host: HostSplats, gl: HostSplats) -> None:
    """Same ids; every value within float32 rounding of the GL pass's."""
    assert host.count == gl.count
    assert np.array_equal(host.ids, gl.ids)
    assert host.fovea_culled == gl.fovea_culled
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


def check(renderer, gpu, inputs, settings=RenderSettings(), per_pixel=True) -> HostSplats:
    host = host_splats(renderer, gpu, inputs, settings, per_pixel)
    same_splats(host, gl_splats(renderer, gpu, inputs, settings, per_pixel))
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
    # the scene's nested subsets: the bands mapping on the host, the pooling mapping on the GL
    # pass (llvmpipe's tan and cos are not reproduced)
    gpu.write_levels(np.full(gpu.count, 2, np.uint8))
    try:
        assert FrameView.of(gpu, foveated).subsets is not None
        for _ in range(SETTLE_FRAMES):  # the levels were just written: the scene settles first
            prepared(renderer, gpu, foveated, RenderSettings(), host=True)
        assert prepared(renderer, gpu, foveated, RenderSettings(), host=True).host is not None
        pooling = FrameInputs(camera, fovea=Fovea(levels=3, mapping="pooling"))
        assert FrameView.of(gpu, pooling).subsets is not None
        assert prepared(renderer, gpu, pooling, RenderSettings(), host=True).host is None
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


def test_the_host_copy_is_counted_as_the_renderers_host_memory(gl_ctx, scenes):
    """The panel's host memory includes the rows the cpu backend keeps (a scene's size again)."""
    scene, gpu = scenes["guitar"]
    made = SplatRenderer(gl_ctx, RasterSettings(backend="cpu", sort="cpu"))
    try:
        assert made.host_bytes == 0
        made.render_image(gpu, FrameInputs(inside(scene)), RenderSettings())
        rows = gpu.count * (3 + 3 + 4 + 1) * 4 + gpu.count * gpu.sh_coeffs * 3 * 4
        assert made.host_bytes >= rows
        made.host_preprocess.forget()
        assert made.host_bytes < rows
    finally:
        made.release()


def test_the_kernel_cache_follows_the_host_preprocess():
    """Its kernels inline code and constants of fovea_host, layout, colormap and viewer/sh.py (the
    jit_setup digest)."""
    from viewer.render import jit_setup

    for name in ("preprocess_host", "fovea_host", "layout", "colormap"):
        assert name in jit_setup.KERNEL_SOURCES
    assert "sh" in jit_setup.PACKAGE_SOURCES  # its SH constants


# the balanced preset's fovea (viewer/features/presets.py: fovea 10 degrees, bands 8, 8, blend 3,
# four shares, the subsets source), gazes centred and off centre, and its LOD cut (tau 2)
BALANCED_FOVEA = Fovea(levels=4, borders=(10.0, 18.0, 26.0), blend=3.0, subsets=True)
BALANCED_SHARES = (1.0, 0.6, 0.4, 0.3)
GAZES = (None, (W * 0.2, H * 0.7))


@pytest.fixture
def donut_subsets(renderer, donut_lod):
    """donut with its LOD tree and random nested subsets over every row (merged nodes too)."""
    scene, gpu = donut_lod
    gpu.write_levels(
        subset_levels(np.random.default_rng(5).uniform(size=gpu.count), BALANCED_SHARES)
    )
    renderer.host_preprocess.forget()  # read once, as a scene left alone after its last write
    yield scene, gpu
    gpu.write_levels(None)


def foveated_frames(scene):
    """The balanced preset's frames: an orbit and a camera inside, each gaze, LOD or not."""
    for camera in [*orbit(scene, W, H, 2), inside(scene)]:
        for gaze in GAZES:
            for lod in (LodCut(tau=2.0), None):
                yield FrameInputs(camera, lod=lod, fovea=BALANCED_FOVEA, gaze=gaze)


def test_nested_subsets_as_the_gl_pass(renderer, donut_subsets):
    """The FOVEA variant's splats: the rows of weight 0 dropped (per-pixel raster), the same
    splats and fovea-culled counts as the GL pass; the fovea changes which splats are drawn."""
    scene, gpu = donut_subsets
    for inputs in foveated_frames(scene):
        host = check(renderer, gpu, inputs)
        assert host.count > 0 and host.fovea_culled > 0
        # the same fovea (and LOD cut) without the subsets: the splats of weight 0 come back,
        # so a preprocess ignoring the weights fails
        whole = replace(inputs, fovea=replace(BALANCED_FOVEA, subsets=False))
        everything = host_splats(renderer, gpu, whole, RenderSettings())
        assert everything.count == host.count + host.fovea_culled
        assert np.isin(host.ids, everything.ids).all()


def test_fovea_weights_per_splat_as_the_gl_pass(renderer, donut_subsets):
    """For a per-splat raster the weight scales each splat's opacity: the same opacities."""
    scene, gpu = donut_subsets
    weighed = 0
    for inputs in foveated_frames(scene):
        host = check(renderer, gpu, inputs, per_pixel=False)
        dropped = host_splats(renderer, gpu, inputs, RenderSettings())
        # the same splats less those whose weighed opacity falls under 1/255
        assert np.isin(host.ids, dropped.ids).all()
        weighed += int(
            (host.records[:, 7] < dropped.records[np.isin(dropped.ids, host.ids), 7]).sum()
        )
    assert weighed > 1000  # opacities were scaled: a weight of 1 everywhere fails


def test_nested_subsets_with_a_hard_border(renderer, donut_subsets):
    """Ramps of width 0: each level is 0 or 1 at the border."""
    scene, gpu = donut_subsets
    hard = Fovea(levels=3, borders=(5.0, 12.0), blend=0.0, subsets=True)
    for camera in orbit(scene, W, H, 2):
        assert check(renderer, gpu, FrameInputs(camera, fovea=hard, gaze=GAZES[1])).fovea_culled


def test_foveated_cpu_image_as_with_the_gl_preprocess(renderer, donut_subsets):
    """The balanced preset's cpu image (host cut, host preprocess) against the one with the GL
    preprocess over the same listed rows: within float32 rounding (>= 99 dB here), but splats of
    equal depth keys (siblings blended towards one parent) are drawn in the order preprocess
    appended them, row order on the host and llvmpipe's varying atomic order in the GL pass,
    so a few pixels may differ more (tests/test_lod_cut_host.py's bound)."""
    scene, gpu = donut_subsets
    for inputs in foveated_frames(scene):
        image = renderer.render_image(gpu, inputs, RenderSettings())
        assert renderer.host_preprocess.covered
        renderer.host_preprocessing = False
        try:
            expected = renderer.render_image(gpu, inputs, RenderSettings())
        finally:
            renderer.host_preprocessing = True
        error = np.abs(image - expected)
        assert error.max() <= 8 / 255 and (error > 2e-3).mean() < 1e-4
        assert psnr(image, expected) >= MIN_PSNR
