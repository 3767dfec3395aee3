"""The built-in scene: deterministic, rich enough, framed by its camera, and not stale on disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from viewer.builtin_scene import (
    TORUS_CENTRE,
    TORUS_RADII,
    _quaternions,
    default_camera,
    load_builtin_scene,
    make_builtin_scene,
    preview_cameras,
)
from viewer.reference import quaternion_to_matrix, render_reference
from viewer.resources import asset_dir
from viewer.scene import ARRAY_FIELDS, GaussianScene
from viewer.settings import RenderSettings


@pytest.fixture(scope="module")
def scene() -> GaussianScene:
    return make_builtin_scene()


def test_generation_is_deterministic(scene):
    again = make_builtin_scene()
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(scene, name), err_msg=name)
    other_seed = make_builtin_scene(seed=1)
    assert not np.array_equal(other_seed.means, scene.means)


def test_counts_degree_and_value_ranges(scene):
    assert 20_000 <= scene.count <= 40_000
    assert scene.sh_degree == 3
    assert np.all(scene.scales > 0) and np.all((scene.opacities > 0) & (scene.opacities < 1))
    np.testing.assert_allclose(np.linalg.norm(scene.rotations, axis=1), 1.0, atol=1e-6)
    view_dependent = np.abs(scene.sh[:, 1:]).max(axis=(1, 2)) > 0.05  # [N] bool
    assert 0.2 < view_dependent.mean() < 0.8
    anisotropy = scene.scales.max(axis=1) / np.median(scene.scales, axis=1)
    assert (anisotropy > 3).mean() > 0.05  # thin strands, strokes and grid lines
    glass = (scene.opacities > 0.1) & (scene.opacities < 0.3) & (scene.means[:, 2] > 0.05)
    assert glass.sum() > 500  # semi-transparent layers standing above the ground


def test_quaternions_reproduce_the_frames():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(500, 4))
    quats[:4] = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, -1, 0]]  # half turns
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    frames = quaternion_to_matrix(torch.tensor(quats)).numpy()  # [500, 3, 3]
    back = _quaternions(frames)
    np.testing.assert_allclose(quaternion_to_matrix(torch.tensor(back)).numpy(), frames, atol=1e-9)
    assert np.all(back[:, 0] >= 0)


def test_checked_in_asset_equals_a_fresh_generation(scene):
    path = asset_dir() / "builtin.ply"
    assert path.stat().st_size < 8_000_000
    stored = load_builtin_scene()
    assert stored.count == scene.count
    for name in ("means", "scales", "opacities", "sh"):
        np.testing.assert_allclose(
            getattr(stored, name), getattr(scene, name), rtol=1e-6, atol=1e-7, err_msg=name
        )
    same_rotation = np.abs(np.sum(stored.rotations * scene.rotations, axis=1))  # |cos| of q, -q
    np.testing.assert_allclose(same_rotation, 1.0, atol=1e-6)
    assert stored.cameras and stored.cameras[0].width == default_camera().width


def test_default_camera_frames_the_still_life(scene):
    camera = default_camera(96, 54)
    out = render_reference(scene.to_torch(), camera, RenderSettings())
    covered = (out.transmittance < 0.5).float().mean().item()
    assert covered > 0.5  # mostly scene, not background (about 57%: the sky is empty)
    inside = out.projection.means2d  # [P, 2] pixels of the Gaussians in front of the camera
    in_view = (inside >= 0).all(dim=1) & (inside[:, 0] < 96) & (inside[:, 1] < 54)
    assert in_view.sum().item() > 0.75 * scene.count


def test_torus_colour_changes_with_the_view_direction(scene):
    on_torus = np.nonzero(
        np.linalg.norm(scene.means - TORUS_CENTRE, axis=1) < sum(TORUS_RADII) + 0.01
    )[0]
    params = scene.subset(on_torus).to_torch()
    colours = []
    for camera in (default_camera(64, 36), preview_cameras(64, 36)["left"]):
        proj = render_reference(params, camera).projection
        assert proj.ids.numel() == len(on_torus)  # all in front of both cameras
        colours.append(proj.colors[torch.argsort(proj.ids)])
    change = (colours[0] - colours[1]).abs().max(dim=1).values  # [n] per Gaussian
    assert change.median().item() > 0.1
    for camera in (default_camera(64, 36), preview_cameras(64, 36)["left"]):
        flat = render_reference(params, camera, RenderSettings(sh_degree=0)).projection
        colours.append(flat.colors[torch.argsort(flat.ids)])
    torch.testing.assert_close(colours[2], colours[3])  # degree 0 alone is view-independent
