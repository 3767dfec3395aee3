"""The LOD cut on the host (viewer/render/lod_cut_host.py) against the GL pass (lod_cut.comp):
the same flags, blend weights and state words on a real scene along a moving camera, unfoveated
and foveated (the balanced preset's fovea, gazes centred and off centre), and the same
cpu-backend image as with the GL cut."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import scene_path
from tests.gpu_readback import read_cut_stats
from viewer.features.foveation import subset_levels
from viewer.features.lod_gpu import attach_hierarchy
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.path_cameras import orbit, spiral
from viewer.render.fovea import Fovea, uniforms
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_LOD_CULLED
from viewer.render.lod_cut import LodCutStats
from viewer.render.lod_cut_host import HostLodCut
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

T_TOL = 1e-4  # t: a few float32 ulp of the sizes and tau, through (tau - low) / (P - low)
# foveated: a size's ulps also pass through the ramp's (x - border) / ramp (lod_cut_host)
FOVEATED_T_TOL = 3e-4
WIDTH, HEIGHT = 320, 180  # the cut depends on the focal, which scales with the width
# the balanced preset's fovea (viewer/features/presets.py: fovea 10 degrees, bands 8, 8, blend
# 3, four shares, the subsets source); gazes: the centre, and off centre
BALANCED_FOVEA = Fovea(levels=4, borders=(10.0, 18.0, 26.0), blend=3.0, subsets=True)
BALANCED_SHARES = (1.0, 0.6, 0.4, 0.3)
GAZES = (None, (WIDTH * 0.2, HEIGHT * 0.7))


@pytest.fixture(scope="module")
def donut(gl_ctx):
    """(scene, gpu scene with its tree attached, the tiles and cpu renderers)."""
    from viewer.formats import load_scene

    scene = load_scene(scene_path("donut.ply"))
    gpu = GpuScene.from_scene(gl_ctx, scene)
    attach_hierarchy(gpu, build_hierarchy(scene))
    renderers = {
        name: SplatRenderer(gl_ctx, RasterSettings(backend=name, sort="cpu"))
        for name in ("tiles", "cpu")
    }
    yield scene, gpu, renderers
    for renderer in renderers.values():
        renderer.release()
    gpu.release()


def moving_cameras(scene):
    """An orbit, then a spiral down from far to close (nodes holding the camera at the end)."""
    return [*orbit(scene, WIDTH, HEIGHT, 5), *spiral(scene, WIDTH, HEIGHT, 6)]


def cuts(count: int) -> list[LodCut]:
    return [
        LodCut(tau=1.0),
        LodCut(tau=6.0, blend_width=1.0),  # no blending
        LodCut(budget=count // 4),
        LodCut(budget=count // 20),
        LodCut(budget=2),  # less than the nodes holding the camera may need
    ]


def same_state(host: LodCutStats, gl: LodCutStats) -> None:
    """The same counts; tau the same up to llvmpipe's exp2 (a budget cut's bin edge)."""
    assert (host.drawn, host.levels, host.budget_count) == (gl.drawn, gl.levels, gl.budget_count)
    assert host.tau == pytest.approx(gl.tau, rel=1e-6)


def written(gpu) -> tuple[np.ndarray, np.ndarray]:
    """([M] gpu_flags, [M] t) as the scene's buffers hold them."""
    return gpu.read("gpu_flags"), gpu.read("lod_blend")[:, 10]


def test_host_cut_writes_what_the_gl_cut_writes_along_a_moving_camera(donut):
    scene, gpu, renderers = donut
    host = HostLodCut()
    lod_pass = renderers["tiles"].lod_cut
    for camera in moving_cameras(scene):
        for cut in cuts(scene.count):
            lod_pass.run(gpu, camera, cut)
            host.forget()
            gl_flags, gl_t = written(gpu)
            gl_state = read_cut_stats(lod_pass)
            words = host.run(gpu, camera, cut)
            flags, t = written(gpu)
            np.testing.assert_array_equal(flags, gl_flags)
            # t a few ulp apart where llvmpipe rounds differently (lod_cut_host's docstring)
            np.testing.assert_allclose(t, gl_t, rtol=0, atol=T_TOL)
            same_state(LodCutStats.from_words(words), gl_state)
            assert ((flags & FLAG_LOD_CULLED) == 0).sum() == gl_state.drawn


def test_host_cut_rewrites_only_what_changed_and_follows_the_gl_pass(donut):
    """Frames in a row write only changed rows; after the GL pass wrote, the host cut rewrites."""
    scene, gpu, renderers = donut
    host = HostLodCut()
    cameras = moving_cameras(scene)
    cut = LodCut(budget=scene.count // 4)
    host.run(gpu, cameras[0], cut)
    expected = written(gpu)
    host.run(gpu, cameras[0], cut)  # nothing changed: nothing written
    np.testing.assert_array_equal(written(gpu)[0], expected[0])
    renderers["tiles"].lod_cut.run(gpu, cameras[3], cut)  # the GL pass, another view
    host.forget()
    host.run(gpu, cameras[0], cut)
    np.testing.assert_array_equal(written(gpu)[0], expected[0])
    np.testing.assert_array_equal(written(gpu)[1], expected[1])


def test_cpu_backend_image_and_stats_are_those_of_the_gl_cut(donut):
    """The cpu renderer cuts on the host and preprocesses the rows drawn only; its image is the
    one drawn after the GL cut with preprocess over every row."""
    scene, gpu, renderers = donut
    cpu = renderers["cpu"]
    settings = RenderSettings()
    for camera in moving_cameras(scene)[::3]:
        for cut in cuts(scene.count)[:3]:
            image = cpu.render_image(gpu, FrameInputs(camera, lod=cut), settings)
            host_state = read_cut_stats(cpu.lod_cut)
            # the same frame with the GL cut: the backend's raster on the GL pass's rows
            expected = _cpu_image_after_gl_cut(cpu, gpu, camera, cut, settings)
            gl_state = read_cut_stats(cpu.lod_cut)
            same_state(host_state, gl_state)
            # the blend weights agree within ~2e-5 (design log): a splat whose alpha sits at the
            # 1/255 cut-off can fall on the other side of it and change a pixel by up to 1/255
            error = np.abs(image - expected)
            assert error.max() <= 1.5 / 255 and (error > 2e-3).mean() < 1e-4


def _cpu_image_after_gl_cut(cpu, gpu, camera, cut, settings, inputs=None) -> np.ndarray:
    """The cpu backend's image of the frame with lod_cut.comp deciding the rows (as before)."""
    cpu.host_cut = False
    try:
        return cpu.render_image(gpu, inputs or FrameInputs(camera, lod=cut), settings)
    finally:
        cpu.host_cut = True


def _gl_cut_as_the_host_cut(cpu):
    """A stand-in for `cpu.host_lod_cut.run`: the GL cut, its drawn rows and weights read back
    into the host cut, so preprocess on the host runs over them (in row order, as after it)."""
    host = cpu.host_lod_cut

    def gl_cut(scene, camera, cut, fovea=None, tau_scale=1.0):
        cpu.lod_cut.run(scene, camera, cut, fovea, tau_scale)
        host.forget()  # the next real host cut rewrites every row
        host.rows = np.flatnonzero(scene.read("gpu_flags") == 0).astype(np.uint32)
        host._blend = np.ascontiguousarray(scene.read("lod_blend"), np.float32)
        return np.frombuffer(cpu.lod_cut.state.read(), np.uint32).copy()

    return gl_cut


def foveated_cuts(count: int) -> list[tuple[LodCut, float]]:
    """(cut, tau's scale per level beyond 1): the balanced preset's, a budget, the lod source's."""
    return [
        (LodCut(tau=2.0), 1.0),  # balanced
        (LodCut(budget=count // 4), 1.0),
        (LodCut(tau=1.0), 1.5),  # fov.source lod: tau grows beyond level 1
        (LodCut(tau=6.0, blend_width=1.0), 1.0),
    ]


def test_foveated_host_cut_writes_what_the_gl_cut_writes(donut):
    """Foveated, the host cut divides sizes by the fovea's factor as lod_cut.comp does: the same
    flags and counts; ignoring the factor would give the unfoveated cut, which differs."""
    scene, gpu, renderers = donut
    host = HostLodCut()
    lod_pass = renderers["tiles"].lod_cut
    changed = []
    for camera in moving_cameras(scene)[::2]:
        for gaze in GAZES:
            fovea = uniforms(camera, BALANCED_FOVEA, gaze)
            for cut, tau_scale in foveated_cuts(scene.count):
                lod_pass.run(gpu, camera, cut, fovea, tau_scale)
                host.forget()
                gl_flags, gl_t = written(gpu)
                gl_state = read_cut_stats(lod_pass)
                words = host.run(gpu, camera, cut, fovea, tau_scale)
                flags, t = written(gpu)
                np.testing.assert_array_equal(flags, gl_flags)
                np.testing.assert_allclose(t, gl_t, rtol=0, atol=FOVEATED_T_TOL)
                same_state(LodCutStats.from_words(words), gl_state)
                unfoveated = LodCutStats.from_words(host.run(gpu, camera, cut))
                changed.append(unfoveated.levels != gl_state.levels)
    assert np.mean(changed) > 0.9  # the fovea changes nearly every one of these cuts


def test_host_cut_leaves_the_pooling_mapping_to_the_gl_pass(donut):
    scene, gpu, _ = donut
    camera = moving_cameras(scene)[0]
    pooling = uniforms(camera, Fovea(levels=3, mapping="pooling"), None)
    with pytest.raises(ValueError, match="bands"):
        HostLodCut().run(gpu, camera, LodCut(tau=2.0), pooling)


def test_cpu_backend_foveated_image_is_that_of_the_gl_cut(donut, monkeypatch):
    """The balanced preset's frame (tau cut, nested subsets, per-pixel weights) on the cpu
    backend: cut on the host, preprocess on the host over the listed rows; the image after the
    GL cut.

    Splats of equal depth keys (siblings blended towards one parent) are drawn in the order
    preprocess appended them: row order on the host, llvmpipe's atomic order in the GL pass,
    which its threads vary from frame to frame: against the GL cut with the GL preprocess over
    every row a few pixels differ by more (0.026 at 4 of 57,600 on one frame). With the host
    preprocess over the GL cut's rows and weights, the cut alone, the tighter bound holds.
    """
    scene, gpu, renderers = donut
    cpu = renderers["cpu"]
    rng = np.random.default_rng(3)
    gpu.write_levels(subset_levels(rng.uniform(size=gpu.count), BALANCED_SHARES))
    calls = []
    run_cut = cpu.host_lod_cut.run
    monkeypatch.setattr(cpu.host_lod_cut, "run", lambda *a: calls.append(a) or run_cut(*a))
    settings = RenderSettings()
    try:
        for camera in moving_cameras(scene)[::5]:
            for gaze in GAZES:
                for cut, _ in foveated_cuts(scene.count)[:2]:
                    inputs = FrameInputs(camera, lod=cut, fovea=BALANCED_FOVEA, gaze=gaze)
                    before = len(calls)
                    image = cpu.render_image(gpu, inputs, settings)
                    assert len(calls) == before + 1  # the host cut ran
                    assert cpu.host_preprocess.covered
                    host_state = read_cut_stats(cpu.lod_cut)
                    expected = _cpu_image_after_gl_cut(cpu, gpu, camera, cut, settings, inputs)
                    same_state(host_state, read_cut_stats(cpu.lod_cut))
                    error = np.abs(image - expected)
                    assert error.max() <= 8 / 255 and (error > 2e-3).mean() < 1e-4
                    with monkeypatch.context() as patch:
                        patch.setattr(cpu.host_lod_cut, "run", _gl_cut_as_the_host_cut(cpu))
                        listed = cpu.render_image(gpu, inputs, settings)
                        assert cpu.host_preprocess.covered
                    error = np.abs(image - listed)
                    assert error.max() <= 1.5 / 255 and (error > 2e-3).mean() < 1e-4
    finally:
        gpu.write_levels(None)
