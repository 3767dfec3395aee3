"""Foveated resolution (viewer/render/inset.py): the periphery at a lower render scale, an inset
around the fovea at full scale, feathered over it; both backends, LOD cuts, the setting."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest

from tests.test_foveation import SHARES, bands, front_camera, front_scene
from viewer.bench.configs import parse_config
from viewer.features.foveation import frame_fovea, subset_levels
from viewer.features.lod_gpu import attach_hierarchy
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.render.fovea import Fovea, fovea_mask
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.inset import FEATHER, Inset, plan
from viewer.render.renderer import SplatRenderer
from viewer.setting_specs import add_arguments, from_arguments
from viewer.settings import FoveationSettings, RasterSettings, RenderSettings

BACKENDS = ("quads", "tiles", "cpu")
GAZES = ((50.0, 40.0), (12.0, 84.0))  # off-centre; near the bottom-left corner (clipped)
PERIPHERY = 0.5


@pytest.fixture(scope="module")
def scene(gl_ctx):
    """A GPU scene holding levels from random scores."""
    rng = np.random.default_rng(5)
    cpu = front_scene(rng, 2500)
    gpu = GpuScene.from_scene(gl_ctx, cpu)
    gpu.write_levels(subset_levels(rng.uniform(size=cpu.count), SHARES))
    yield gpu
    gpu.release()


@pytest.fixture(scope="module")
def renderers(gl_ctx):
    out = {
        b: SplatRenderer(gl_ctx, RasterSettings(backend=b, sort="cpu", validate=True))
        for b in BACKENDS
    }
    yield out
    for renderer in out.values():
        renderer.release()


def feather_weight(inset: Inset) -> np.ndarray:
    """[H, W] resolve.frag's inset weight at every pixel centre (render scale 1)."""
    x0, y0, x1, y1 = inset.box
    width, height = inset.size
    x, y = np.arange(width) + 0.5, np.arange(height) + 0.5
    far = np.inf

    def ramp(d: np.ndarray) -> np.ndarray:
        t = np.clip(d / FEATHER, 0.0, 1.0)
        return t * t * (3.0 - 2.0 * t)

    dx = np.minimum(x - x0 if x0 > 0 else far, x1 - x if x1 < width else far)
    dy = np.minimum(y - y0 if y0 > 0 else far, y1 - y if y1 < height else far)
    return ramp(dy)[:, None] * ramp(dx)[None, :]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gaze", GAZES)
def test_the_fovea_is_full_scale_the_periphery_scaled_the_feather_between(
    scene, renderers, backend, gaze
) -> None:
    """The image is w x (full-scale foveated render) + (1 - w) x (scaled one), w the feather."""
    renderer = renderers[backend]
    camera = front_camera()
    fovea = bands(8.0, 5.0, 2.0)
    settings = RenderSettings()

    def render(fov: Fovea, scale: float = 1.0) -> np.ndarray:
        inputs = FrameInputs(camera, gaze=gaze, fovea=fov, render_scale=scale)
        return renderer.render_image(scene, inputs, settings)

    full, scaled = render(fovea), render(fovea, PERIPHERY)
    foveated = dataclasses.replace(fovea, periphery_scale=PERIPHERY)
    image = render(foveated)
    scale, inset = plan(camera, foveated, gaze)
    assert scale == PERIPHERY and inset is not None
    w = feather_weight(inset)[..., None]
    mask = fovea_mask(camera, fovea, gaze)
    assert mask.mean() > 0.03 and (w[mask] == 1.0).all()  # the feather lies outside the fovea
    np.testing.assert_allclose(image[mask], full[mask], atol=1e-5)
    np.testing.assert_allclose(image, w * full + (1.0 - w) * scaled, atol=1e-5)
    x0, y0, x1, y1 = inset.box
    outside = np.ones(mask.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert outside.mean() > 0.4
    np.testing.assert_array_equal(image[outside], scaled[outside])
    if gaze == GAZES[1]:
        assert x0 == 0 and y1 == camera.height  # clipped: no fade along the image's border
        assert y0 > 0 and x1 < camera.width
    # the feather is continuous: along the row through the gaze, across the box's right edge,
    # no step larger than the two images' own plus their difference over the ramp
    row = int(gaze[1])
    cut = slice(x1 - FEATHER - 4, x1 + 4)
    step = np.abs(np.diff(image[row, cut], axis=0)).max()
    own = max(np.abs(np.diff(im[row, cut], axis=0)).max() for im in (full, scaled))
    gap = np.abs(full[row, cut] - scaled[row, cut]).max()
    assert step <= own + 1.5 * gap / FEATHER + 1e-5


def test_periphery_scale_1_is_todays_image(scene, renderers) -> None:
    renderer = renderers["quads"]
    camera = front_camera()
    fovea = bands(8.0)
    before = renderer.render_image(scene, FrameInputs(camera, fovea=fovea), RenderSettings())
    same = Fovea(borders=fovea.borders, blend=fovea.blend, periphery_scale=1.0)
    after = renderer.render_image(scene, FrameInputs(camera, fovea=same), RenderSettings())
    np.testing.assert_array_equal(after, before)
    assert plan(camera, same, None) == (1.0, None)
    # a rectangle covering the image: drawn at full scale; one beyond it: the periphery only
    wide = dataclasses.replace(bands(60.0), periphery_scale=PERIPHERY)
    assert plan(camera, wide, None) == (1.0, None)
    assert plan(camera, dataclasses.replace(wide, borders=(5.0, 6.0, 7.0)), (-400.0, 48.0)) == (
        PERIPHERY,
        None,
    )
    with pytest.raises(ValueError, match="periphery_scale"):
        Fovea(periphery_scale=0.0)


@pytest.mark.parametrize("backend", ["tiles", "cpu"])  # cpu: what the inset hides is undrawn
def test_an_inset_at_a_render_scale_is_that_scale_s_render_in_the_fovea(
    scene, renderers, backend
) -> None:
    """A frame at render scale 0.5: periphery at 0.25, the inset at 0.5, stretched alike."""
    renderer = renderers[backend]
    camera = front_camera()
    fovea, gaze = bands(10.0, 5.0, 2.0), (60.0, 40.0)
    half = FrameInputs(camera, gaze=gaze, fovea=fovea, render_scale=0.5)
    plain = renderer.render_image(scene, half, RenderSettings())
    foveated = dataclasses.replace(fovea, periphery_scale=PERIPHERY)
    image = renderer.render_image(
        scene, dataclasses.replace(half, fovea=foveated), RenderSettings()
    )
    mask = fovea_mask(camera, fovea, gaze)
    np.testing.assert_allclose(image[mask], plain[mask], atol=1e-4)
    assert np.abs(image - plain)[~mask].max() > 0.01


def test_an_lod_cut_keeps_the_fovea_and_stats_count_the_whole_frame(gl_ctx) -> None:
    rng = np.random.default_rng(3)
    cpu = front_scene(rng, 3000)
    gpu = GpuScene.from_scene(gl_ctx, cpu)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu", validate=True))
    try:
        attach_hierarchy(gpu, build_hierarchy(cpu))
        camera = front_camera()
        fovea = Fovea(borders=(8.0, 14.0, 20.0), subsets=False, lod_tau_scale=4.0)
        gaze, cut, settings = (70.0, 50.0), LodCut(tau=25.0), RenderSettings()
        inputs = FrameInputs(camera, gaze=gaze, fovea=fovea, lod=cut)
        full = renderer.render_image(gpu, inputs, settings)
        foveated = dataclasses.replace(fovea, periphery_scale=PERIPHERY)
        inset_inputs = dataclasses.replace(inputs, fovea=foveated)
        image = renderer.render_image(gpu, inset_inputs, settings)
        mask = fovea_mask(camera, fovea, gaze)
        np.testing.assert_allclose(image[mask], full[mask], atol=1e-5)
        stats = renderer.render(gpu, inset_inputs, settings, renderer.image.framebuffer)
        scaled = dataclasses.replace(inputs, render_scale=PERIPHERY)
        scaled_stats = renderer.render(gpu, scaled, settings, renderer.image.framebuffer)
        assert stats is not None and scaled_stats is not None
        assert "inset" in stats.pass_ms and "inset" not in scaled_stats.pass_ms
        assert stats.visible == scaled_stats.visible and stats.lod_drawn == scaled_stats.lod_drawn
        assert stats.render_scale == 1.0
    finally:
        renderer.release()
        gpu.release()


def test_gl_timer_queries_time_the_inset(gl_ctx, scene) -> None:
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu"), "gl-timer")
    try:
        fovea = dataclasses.replace(bands(8.0), periphery_scale=PERIPHERY)
        inputs = FrameInputs(front_camera(), fovea=fovea)
        renderer.image.ensure_size(160, 96)
        out = [renderer.render(scene, inputs, RenderSettings(), renderer.image.framebuffer)]
        out += [renderer.render(scene, inputs, RenderSettings(), renderer.image.framebuffer)
                for _ in range(3)]  # fmt: skip
        timed = [s for s in out if s is not None]
        assert timed and all(set(s.pass_ms) >= {"raster", "resolve", "inset"} for s in timed)
    finally:
        renderer.release()


def test_the_setting_reaches_the_frame_fovea() -> None:
    config = parse_config("inset:fov.periphery_scale=0.5")
    assert config.fov.enabled and config.fov.periphery_scale == 0.5
    fovea = frame_fovea(config.fov)
    assert fovea is not None and fovea.periphery_scale == 0.5
    assert parse_config("b:preset=balanced,fov.periphery_scale=0.35").fov.periphery_scale == 0.35
    assert FoveationSettings().periphery_scale == 1.0
    parser = argparse.ArgumentParser()
    add_arguments(parser, "render")
    flags = parser.parse_args(["--fov.periphery-scale", "0.4"])
    assert from_arguments(flags, "render").of(FoveationSettings).periphery_scale == 0.4


def seen_texels(inset: Inset, width: int, height: int) -> np.ndarray:
    """[height, width] bool: the periphery's pixels that some pixel of weight < 1 samples."""
    weight = feather_weight(inset)
    full_width, full_height = inset.size
    seen = np.zeros((height, width), bool)

    def texels(centres: np.ndarray, size: int, full: int) -> tuple[np.ndarray, np.ndarray]:
        u = centres * size / full - 0.5  # resolve.frag's bilinear sample, clamped at the edges
        left = np.clip(np.floor(u).astype(int), 0, size - 1)
        return left, np.clip(left + 1, 0, size - 1)

    xs = texels(np.arange(full_width) + 0.5, width, full_width)
    ys = texels(np.arange(full_height) + 0.5, height, full_height)
    rows, columns = np.nonzero(weight < 1.0)
    for ty in ys:
        for tx in xs:
            seen[ty[rows], tx[columns]] = True
    return seen


def test_what_the_inset_hides_is_never_sampled() -> None:
    """`Inset.hidden` holds only periphery pixels that no pixel of weight below 1 reads."""
    rng = np.random.default_rng(11)
    cases = [((37, 20, 211, 150), (256, 192), 0.5), ((0, 40, 120, 192), (256, 192), 0.35)]
    for _ in range(30):
        size = (int(rng.integers(64, 400)), int(rng.integers(64, 300)))
        x0, x1 = sorted(rng.integers(0, size[0] + 1, 2))
        y0, y1 = sorted(rng.integers(0, size[1] + 1, 2))
        if x1 > x0 and y1 > y0:
            cases.append(((int(x0), int(y0), int(x1), int(y1)), size, rng.uniform(0.2, 0.9)))
    found = 0
    for box, size, scale in cases:
        inset = Inset(box, size)
        width, height = max(round(size[0] * scale), 1), max(round(size[1] * scale), 1)
        hidden = inset.hidden(width, height)
        if hidden is None:
            continue
        hx0, hy0, hx1, hy1 = hidden
        assert 0 <= hx0 < hx1 <= width and 0 <= hy0 < hy1 <= height
        assert not seen_texels(inset, width, height)[hy0:hy1, hx0:hx1].any(), (box, size, scale)
        found += 1
    assert found >= 10
    hidden = Inset((37, 20, 211, 150), (256, 192)).hidden(128, 96)
    assert hidden is not None and (hidden[2] - hidden[0]) * (hidden[3] - hidden[1]) > 1500


def test_the_cpu_backend_leaves_the_inset_s_interior_of_the_periphery_undrawn(scene) -> None:
    """Fewer pairs for the periphery, the same image: what the inset covers is not drawn."""
    renderer = SplatRenderer(scene.ctx, RasterSettings(backend="cpu", sort="cpu"))
    camera, gaze = front_camera(320, 240), (150.0, 110.0)
    fovea = bands(14.0, 5.0, 2.0)
    foveated = dataclasses.replace(fovea, periphery_scale=PERIPHERY)
    inputs = FrameInputs(camera, gaze=gaze, fovea=fovea)

    def render(inputs: FrameInputs) -> tuple[np.ndarray, int]:
        renderer.image.ensure_size(camera.width, camera.height)
        stats = renderer.render(scene, inputs, RenderSettings(), renderer.image.framebuffer)
        assert stats is not None  # the cpu backend's frames are timed by the wall clock
        return renderer.image.read_rgb(), stats.pairs

    try:
        full, _ = render(inputs)
        scaled, periphery_pairs = render(dataclasses.replace(inputs, render_scale=PERIPHERY))
        image, pairs = render(dataclasses.replace(inputs, fovea=foveated))
    finally:
        renderer.release()
    _, inset = plan(camera, foveated, gaze)
    assert inset is not None and inset.hidden(160, 120) is not None
    w = feather_weight(inset)[..., None]
    np.testing.assert_allclose(image, w * full + (1.0 - w) * scaled, atol=1e-5)
    assert pairs < 0.8 * periphery_pairs  # the stats are the periphery's (the whole frame's)
