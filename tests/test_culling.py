"""Culling as the original 3DGS rasterizer does it: only the near plane culls by position; a splat
whose alpha >= 1/255 footprint misses the image adds nothing (and the GPU does not count it).

Each test that checks a splat off the view also renders with the pre-aa69c4d rule
(RenderSettings(guard_band=2.0): cull centres beyond twice the half field of view) and asserts that
rule loses the content, so the test would have caught that bug. These tests need no gsplat.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.independent_render import (
    axis_camera,
    dc_for,
    inside_out_shell,
    off_view_ratio,
    psnr,
    render_on_gpu,
)
from viewer.reference import render_reference, render_scene_reference
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

MIN_PSNR = 40.0
BACKGROUND = (0.05, 0.1, 0.15)
OLD_RULE = RenderSettings(background=BACKGROUND, guard_band=2.0)
NEW_RULE = RenderSettings(background=BACKGROUND)  # guard_band = 0: off, the default


@pytest.fixture(scope="module", params=["quads", "tiles", "cpu"])
def renderer(request, gl_ctx):
    """Each backend; the cpu one culls in its own host preprocess (no validation switch)."""
    from viewer.render.renderer import SplatRenderer

    validate = request.param != "cpu"
    r = SplatRenderer(gl_ctx, RasterSettings(backend=request.param, sort="cpu", validate=validate))
    yield r
    r.release()


def one_splat(mean, scale, rgb=(0.9, 0.3, 0.1), opacity=0.9) -> GaussianScene:
    """A single Gaussian, axis-aligned (identity rotation), SH degree 0."""
    return GaussianScene.from_arrays(
        np.array([mean], float),
        np.array([scale], float),
        np.array([[1.0, 0.0, 0.0, 0.0]]),
        np.array([opacity]),
        dc_for([rgb]),
    )


def reaching_the_image(scene: GaussianScene, camera, settings: RenderSettings) -> int:
    """Gaussians the reference keeps whose alpha >= 1/255 box overlaps the image."""
    with torch.no_grad():
        proj = render_reference(scene.to_torch(), camera, settings).projection
    size = torch.tensor([camera.width, camera.height], dtype=proj.means2d.dtype)
    low, high = proj.means2d - proj.extents, proj.means2d + proj.extents
    return int(((high > 0) & (low < size)).all(dim=1).sum())


def is_background(image: np.ndarray) -> bool:
    return bool(np.allclose(image, BACKGROUND, atol=1e-6))


def test_settings_default_is_the_original_rule():
    assert RenderSettings().guard_band == 0.0
    assert RenderSettings().near_plane == 0.0  # fitted: 0.2 on COLMAP-scale scenes


def test_inside_out_shell_shows_and_the_old_rule_lost_it(renderer):
    """A camera inside a shell of large splats whose centres all lie outside the frustum."""
    camera = axis_camera(64, 48)
    scene = inside_out_shell(np.random.default_rng(3), camera, inside=0)
    assert (off_view_ratio(scene.means, camera) > 2.0).all()  # every centre off the view
    reference = render_scene_reference(scene, camera, NEW_RULE)
    assert reference.mean() - np.mean(BACKGROUND) > 0.2  # the shell shows
    assert (np.abs(reference - BACKGROUND).max(axis=2) > 0.05).mean() > 0.9  # nearly everywhere
    gpu, visible = render_on_gpu(renderer, scene, camera, NEW_RULE)
    value = psnr(gpu, reference)
    assert value >= MIN_PSNR, f"GPU ({renderer.backend}) vs reference: {value:.1f} dB"
    assert visible == reaching_the_image(scene, camera, NEW_RULE) >= 40  # most of the 60

    # The old rule culls every shell splat: the view is empty, in the reference and on the GPU.
    assert is_background(render_scene_reference(scene, camera, OLD_RULE))
    old_gpu, old_visible = render_on_gpu(renderer, scene, camera, OLD_RULE)
    assert is_background(old_gpu)
    assert old_visible == 0


def test_splat_beside_the_viewport_colours_the_centre(renderer):
    """One splat centred at 2.5 half fields of view right of the axis, wide enough to reach
    the centre pixel."""
    camera = axis_camera(64, 48)
    tan_x, _ = camera.tan_half_fov
    depth = 2.0
    scene = one_splat((2.5 * tan_x * depth, 0.0, depth), (3.0, 0.6, 0.02))
    assert off_view_ratio(scene.means, camera)[0] == pytest.approx(2.5)
    centre = (camera.height // 2, camera.width // 2)  # pixel (32, 24): centre (32.5, 24.5)

    reference = render_scene_reference(scene, camera, NEW_RULE)
    assert np.abs(reference[centre] - BACKGROUND).max() > 0.2, reference[centre]
    gpu, visible = render_on_gpu(renderer, scene, camera, NEW_RULE)
    assert np.abs(gpu[centre] - reference[centre]).max() < 0.01
    assert psnr(gpu, reference) >= MIN_PSNR
    assert visible == 1

    assert is_background(render_scene_reference(scene, camera, OLD_RULE))
    old_gpu, old_visible = render_on_gpu(renderer, scene, camera, OLD_RULE)
    assert is_background(old_gpu)
    assert old_visible == 0


def test_splat_whose_footprint_misses_the_image_is_not_visible(renderer):
    """Same place beside the view, but small: its 1/255 footprint ends far from the image, so
    the footprint cull drops it (the big one at the same centre shows the counter counts)."""
    camera = axis_camera(64, 48)
    tan_x, _ = camera.tan_half_fov
    depth = 2.0
    mean = (2.5 * tan_x * depth, 0.0, depth)
    small = one_splat(mean, (0.05, 0.05, 0.05))
    with torch.no_grad():
        proj = render_reference(small.to_torch(), camera, NEW_RULE).projection
    left_edge = float(proj.means2d[0, 0] - proj.extents[0, 0])
    assert left_edge > camera.width + 10  # the footprint misses the image by 10+ pixels
    assert is_background(render_scene_reference(small, camera, NEW_RULE))
    gpu, visible = render_on_gpu(renderer, small, camera, NEW_RULE)
    assert is_background(gpu)
    assert visible == 0

    big = one_splat(mean, (3.0, 0.6, 0.02))
    _, visible = render_on_gpu(renderer, big, camera, NEW_RULE)
    assert visible == 1


@pytest.mark.parametrize(
    ("depth", "shown"),
    [(-1.0, False), (0.0, False), (0.24, False), (0.25, False), (0.26, True)],
    ids=["behind", "at-camera", "before-near", "at-near", "past-near"],
)
def test_near_plane_culls_even_a_splat_covering_the_view(renderer, depth, shown):
    """A big splat on the axis is culled when its centre is at or before the near plane."""
    camera = axis_camera(64, 48)
    settings = RenderSettings(background=BACKGROUND, near_plane=0.25)
    scene = one_splat((0.0, 0.0, depth), (0.5, 0.5, 0.05))
    with torch.no_grad():
        kept = render_reference(scene.to_torch(), camera, settings).projection.ids.numel()
    reference = render_scene_reference(scene, camera, settings)
    gpu, visible = render_on_gpu(renderer, scene, camera, settings)
    assert kept == visible == int(shown)
    assert is_background(reference) == is_background(gpu) == (not shown)
    if shown:
        assert psnr(gpu, reference) >= MIN_PSNR
        assert reference.mean() - np.mean(BACKGROUND) > 0.2  # it covers the view


def test_guard_band_is_only_a_speed_setting_for_splats_in_view(renderer):
    """With every centre inside the view, the opt-in guard band changes nothing."""
    camera = axis_camera(64, 48)
    rng = np.random.default_rng(5)
    n = 50
    half = np.array(camera.tan_half_fov) * 0.8
    depth = rng.uniform(1.0, 3.0, n)
    means = np.column_stack(
        [rng.uniform(-1, 1, n) * half[0] * depth, rng.uniform(-1, 1, n) * half[1] * depth, depth]
    )
    scene = GaussianScene.from_arrays(
        means,
        np.exp(rng.normal(math.log(0.08), 0.4, (n, 3))),
        rng.normal(size=(n, 4)),
        rng.uniform(0.3, 1.0, n),
        rng.normal(scale=0.5, size=(n, 1, 3)),
    )
    assert (off_view_ratio(scene.means, camera) < 1.0).all()
    new = render_scene_reference(scene, camera, NEW_RULE)
    assert np.array_equal(new, render_scene_reference(scene, camera, OLD_RULE))
    new_gpu, new_visible = render_on_gpu(renderer, scene, camera, NEW_RULE)
    old_gpu, old_visible = render_on_gpu(renderer, scene, camera, OLD_RULE)
    assert new_visible == old_visible == n
    assert np.array_equal(new_gpu, old_gpu)
    assert psnr(new_gpu, new) >= MIN_PSNR
