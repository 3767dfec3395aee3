"""The CPU reference renderer against hand-written formulas, invariants and its dense twin."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from viewer.camera import Camera
from viewer.formats import load_scene
from viewer.reference import _render_reference_dense, render_reference, render_scene_reference
from viewer.scene import GaussianScene
from viewer.settings import RenderSettings
from viewer.sh import eval_sh

DONUT = Path(__file__).resolve().parents[2] / "shared" / "scenes" / "donut.ply"
BACKGROUND = (0.1, 0.2, 0.3)
SEEDS = st.integers(0, 2**32 - 1)


def _params(means, scales, quats, opacities, sh, dtype=torch.float64) -> dict[str, torch.Tensor]:
    """Renderer inputs from array-likes: [N, 3], [N, 3], [N, 4], [N], [N, K, 3]."""
    arrays = {"means": means, "scales": scales, "rotations": quats, "opacities": opacities}
    params = {k: torch.tensor(np.asarray(v, np.float64), dtype=dtype) for k, v in arrays.items()}
    params["sh"] = torch.tensor(np.asarray(sh, np.float64).reshape(len(means), -1, 3), dtype=dtype)
    params["rotations"] = params["rotations"] / params["rotations"].norm(dim=1, keepdim=True)
    return params


def _dc_for(rgb) -> np.ndarray:
    """[N, 1, 3] DC coefficients giving these colours (colour = C0 dc + 0.5)."""
    return ((np.asarray(rgb, np.float64) - 0.5) * 2.0 * math.sqrt(math.pi)).reshape(-1, 1, 3)


def _axis_camera(width: int = 9, height: int = 7, focal: float = 8.0) -> Camera:
    """Camera at the origin looking down +z (OpenCV axes = world axes), centred principal point."""
    return Camera(width, height, focal, focal, width / 2, height / 2, np.eye(4))


def _isotropic(depths, sigma, opacity, rgb) -> dict[str, torch.Tensor]:
    """Round Gaussians on the optical axis, one per depth, same sigma/opacity, one colour each."""
    n = len(depths)
    means = [[0.0, 0.0, z] for z in depths]
    return _params(means, np.full((n, 3), sigma), [[1, 0, 0, 0]] * n, [opacity] * n, _dc_for(rgb))


# --- an independent per-pixel formula --------------------------------------------------------


def _rotation_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation of a unit quaternion (w, x, y, z) as (w^2 - v.v) I + 2 v v^T + 2 w [v]x."""
    w, v = q[0], q[1:]
    cross = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return (w * w - v @ v) * np.eye(3) + 2.0 * np.outer(v, v) + 2.0 * w * cross


def _hand_render(mean, scale, quat, opacity, rgb, camera: Camera, rs: RenderSettings) -> np.ndarray:
    """[H, W, 3] float64 image of one Gaussian (SH degree 0).

    Written from the rules in docs/design_log.md ("Image formation") directly.
    """
    w2c = camera.world_to_camera
    t = w2c[:3, :3] @ mean + w2c[:3, 3]
    lim_x = 1.3 * camera.width / (2 * camera.fx)
    lim_y = 1.3 * camera.height / (2 * camera.fy)
    x = np.clip(t[0] / t[2], -lim_x, lim_x) * t[2]
    y = np.clip(t[1] / t[2], -lim_y, lim_y) * t[2]
    z = t[2]
    jac = np.array(
        [[camera.fx / z, 0, -camera.fx * x / z**2], [0, camera.fy / z, -camera.fy * y / z**2]]
    )
    rot = _rotation_matrix(np.asarray(quat) / np.linalg.norm(quat))
    s = np.diag(np.asarray(scale) * rs.splat_scale)
    sigma = rot @ s @ s.T @ rot.T
    cov = jac @ w2c[:3, :3] @ sigma @ w2c[:3, :3].T @ jac.T
    det_before = np.linalg.det(cov)
    cov = cov + 0.3 * np.eye(2)
    if rs.antialias:
        opacity = opacity * math.sqrt(max(det_before / np.linalg.det(cov), 0.0))
    conic = np.linalg.inv(cov)
    centre = np.array([camera.fx * t[0] / z + camera.cx, camera.fy * t[1] / z + camera.cy])
    colour = np.maximum(np.asarray(rgb), 0.0)
    image = np.empty((camera.height, camera.width, 3))
    for j in range(camera.height):
        for i in range(camera.width):
            d = np.array([i + 0.5, j + 0.5]) - centre
            alpha = min(0.99, opacity * math.exp(-0.5 * d @ conic @ d))
            alpha = alpha if alpha >= 1 / 255 else 0.0
            image[j, i] = alpha * colour + (1 - alpha) * np.asarray(rs.background)
    return image


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize(
    ("offset", "opacity"),
    [((0.0, 0.0), 0.8), ((0.35, -0.2), 0.03), ((0.9, 0.1), 0.9)],  # last: beyond the J clamp
    ids=["centre", "faint-off-centre", "outside-view"],
)
def test_single_gaussian_matches_hand_formula(offset, opacity, antialias):
    camera = Camera.look_at([0.3, -2.0, 1.0], [0.0, 0.0, 0.2], width=9, height=7)
    camera = dataclasses.replace(camera, fx=7.5, fy=8.2, cx=4.1, cy=3.6)
    right, down = camera.world_to_camera[0, :3], camera.world_to_camera[1, :3]
    mean = np.array([0.0, 0.0, 0.2]) + 2.2 * (offset[0] * right + offset[1] * down)
    scale, quat, rgb = (
        np.array([0.35, 0.12, 0.05]),
        np.array([0.8, 0.3, -0.4, 0.2]),
        [0.9, 0.4, 0.1],
    )
    rs = RenderSettings(background=BACKGROUND, antialias=antialias, splat_scale=1.1)
    params = _params([mean], [scale], [quat], [opacity], _dc_for([rgb]))
    out = render_reference(params, camera, rs, dtype=torch.float64)
    expected = _hand_render(mean, scale, quat, opacity, rgb, camera, rs)
    assert (out.image.numpy() != np.asarray(BACKGROUND)).any()
    clamped = out.projection.means2d[0, 0] > camera.cx + 1.3 * camera.width / 2
    assert clamped == (offset[0] > 0.5)
    np.testing.assert_allclose(out.image.numpy(), expected, rtol=0, atol=1e-12)


def test_opaque_gaussian_covers_its_centre():
    camera = _axis_camera()
    rgb = [0.2, 0.7, 0.4]
    out = render_reference(
        _isotropic([3.0], 0.5, 1.0, [rgb]), camera, RenderSettings(background=BACKGROUND)
    )
    centre = out.image[3, 4].numpy()  # pixel centre (4.5, 3.5) is the principal point
    np.testing.assert_allclose(
        centre, 0.99 * np.array(rgb) + 0.01 * np.array(BACKGROUND), atol=1e-6
    )
    assert out.transmittance[3, 4].item() == pytest.approx(0.01, abs=1e-7)


def test_degree0_colour_is_c0_dc_plus_half():
    dc = np.array([[[0.3, -0.7, 1.2]]])
    params = _params([[0.0, 0.0, 2.0]], [[0.1] * 3], [[1, 0, 0, 0]], [0.5], dc)
    out = render_reference(params, _axis_camera())
    expected = 0.5 / math.sqrt(math.pi) * dc[0, 0] + 0.5
    np.testing.assert_allclose(out.projection.colors[0].numpy(), expected, rtol=1e-6)


def test_axis_aligned_gaussian_on_axis_is_mirror_symmetric():
    params = _params(
        [[0.0, 0.0, 2.0]], [[0.3, 0.1, 0.2]], [[1, 0, 0, 0]], [0.9], _dc_for([[1, 0.5, 0]])
    )
    image = render_reference(
        params, _axis_camera(15, 11), RenderSettings(background=BACKGROUND)
    ).image
    assert (image != torch.tensor(BACKGROUND)).any(dim=-1).sum() > 20
    torch.testing.assert_close(image, image.flip(0), rtol=0, atol=1e-6)
    torch.testing.assert_close(image, image.flip(1), rtol=0, atol=1e-6)


def test_nearer_gaussian_dominates_and_swapping_depths_swaps_result():
    red, blue = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]

    def colour_part(depth_red: float, depth_blue: float) -> torch.Tensor:
        """[H, W, 3] image without its background term; far Gaussian listed first."""
        depths = sorted([depth_red, depth_blue], reverse=True)
        params = _isotropic(depths, 0.0, 0.9, [red if d == depth_red else blue for d in depths])
        # sigma proportional to depth: both project to the same footprint
        params["scales"] = params["means"][:, 2:].expand(-1, 3) * 0.15
        out = render_reference(params, _axis_camera(), RenderSettings(background=BACKGROUND))
        return out.image - out.transmittance[..., None] * torch.tensor(BACKGROUND)

    red_front, blue_front = colour_part(2.0, 4.0), colour_part(4.0, 2.0)
    assert red_front[3, 4, 0] > 5 * red_front[3, 4, 2]
    assert blue_front[3, 4, 2] > 5 * blue_front[3, 4, 0]
    torch.testing.assert_close(red_front[..., [2, 1, 0]], blue_front, rtol=0, atol=1e-6)


def test_transmittance_stop_rule_drops_the_layer_that_would_pass_1e_4():
    # alpha 0.95 at the centre pixel: T = 0.05, 0.0025, 1.25e-4, then 6.25e-6 < 1e-4 -> stop
    colours = [[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    params = _isotropic([1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 0.95, colours)
    out = render_reference(params, _axis_camera(), RenderSettings(background=BACKGROUND))
    weights = np.array([0.95, 0.95 * 0.05, 0.95 * 0.0025])
    expected = weights @ np.array(colours[:3]) + 1.25e-4 * np.array(BACKGROUND)
    np.testing.assert_allclose(out.image[3, 4].numpy(), expected, rtol=1e-6)
    assert out.transmittance[3, 4].item() == pytest.approx(1.25e-4, rel=1e-6)


@pytest.mark.parametrize(("factor", "drawn"), [(0.999, False), (1.001, True)])
def test_alpha_below_1_over_255_is_skipped(factor, drawn):
    params = _isotropic([2.0], 0.5, factor / 255, [[1.0, 1.0, 1.0]])
    out = render_reference(params, _axis_camera(), RenderSettings(background=BACKGROUND))
    assert (out.transmittance < 1).any().item() == drawn
    assert (out.transmittance[3, 4] < 1).item() == drawn


def test_negative_colour_is_clamped_to_zero():
    params = _isotropic([2.0], 0.5, 0.6, [[-3.0, 0.5, 2.0]])
    out = render_reference(params, _axis_camera(), RenderSettings(background=(0.5, 0.5, 0.5)))
    np.testing.assert_allclose(out.projection.colors[0].numpy(), [0.0, 0.5, 2.0], rtol=1e-6)
    expected_red = 0.5 * out.transmittance  # only the background's share is left
    torch.testing.assert_close(out.image[..., 0], expected_red)


@pytest.mark.parametrize(("depth", "visible"), [(0.49, False), (0.5, False), (0.51, True)])
def test_near_plane_culling(depth, visible):
    params = _isotropic([depth], 0.05, 0.9, [[1.0, 0.0, 0.0]])
    out = render_reference(params, _axis_camera(), RenderSettings(near_plane=0.5))
    assert out.projection.ids.numel() == int(visible)
    assert (out.transmittance < 1).any().item() == visible


@pytest.mark.parametrize(("ratio", "visible"), [(0.97, True), (1.03, False)])
@pytest.mark.parametrize("axis", [0, 1])
def test_guard_band_culling(ratio, visible, axis):
    camera = _axis_camera(9, 7, 8.0)
    tan_half = camera.tan_half_fov[axis]
    means = np.array([[0.0, 0.0, 2.0]])
    means[0, axis] = 1.5 * tan_half * ratio * 2.0  # |t / z| = ratio * guard_band * tan_half
    params = _params(means, [[0.6] * 3], [[1, 0, 0, 0]], [0.99], _dc_for([[1.0, 1.0, 1.0]]))
    out = render_reference(params, camera, RenderSettings(guard_band=1.5))
    assert out.projection.ids.numel() == int(visible)
    assert (out.transmittance < 1).any().item() == visible  # a big footprint reaches the image


@pytest.mark.parametrize("sigma_px", [0.2, 0.5, 2.0])
def test_antialias_opacity_compensation(sigma_px):
    # isotropic on the axis: cov2d = s^2 I, so the factor is sqrt(s^4 / (s^2 + 0.3)^2)
    camera, depth, opacity = _axis_camera(), 2.0, 0.8
    params = _isotropic([depth], sigma_px * depth / camera.fx, opacity, [[1.0, 1.0, 1.0]])
    out = render_reference(params, camera, RenderSettings(antialias=True), dtype=torch.float64)
    expected = opacity * sigma_px**2 / (sigma_px**2 + 0.3)
    assert out.projection.opacities[0].item() == pytest.approx(expected, rel=1e-12)
    plain = render_reference(params, camera, RenderSettings(antialias=False))
    assert plain.projection.opacities[0].item() == pytest.approx(opacity, rel=1e-7)


# --- spherical harmonics ----------------------------------------------------------------------


def _numpy_sh_basis(d: np.ndarray) -> np.ndarray:
    """[N, 16] real SH basis with the 3DGS signs, constants written from their closed forms."""
    x, y, z = d.T
    pi = math.pi
    return np.stack(
        [
            np.full_like(x, 0.5 / math.sqrt(pi)),
            -math.sqrt(3 / (4 * pi)) * y,
            math.sqrt(3 / (4 * pi)) * z,
            -math.sqrt(3 / (4 * pi)) * x,
            0.5 * math.sqrt(15 / pi) * x * y,
            -0.5 * math.sqrt(15 / pi) * y * z,
            0.25 * math.sqrt(5 / pi) * (3 * z * z - 1),
            -0.5 * math.sqrt(15 / pi) * x * z,
            0.25 * math.sqrt(15 / pi) * (x * x - y * y),
            -0.25 * math.sqrt(35 / (2 * pi)) * y * (3 * x * x - y * y),
            0.5 * math.sqrt(105 / pi) * x * y * z,
            -0.25 * math.sqrt(21 / (2 * pi)) * y * (5 * z * z - 1),
            0.25 * math.sqrt(7 / pi) * z * (5 * z * z - 3),
            -0.25 * math.sqrt(21 / (2 * pi)) * x * (5 * z * z - 1),
            0.25 * math.sqrt(105 / pi) * z * (x * x - y * y),
            -0.25 * math.sqrt(35 / (2 * pi)) * x * (x * x - 3 * y * y),
        ],
        axis=1,
    )


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS)
def test_eval_sh_matches_numpy_basis(seed):
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(64, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    sh = rng.normal(size=(64, 16, 3))
    basis = _numpy_sh_basis(dirs)
    for degree in range(4):
        k = (degree + 1) ** 2
        expected = np.einsum("nk,nkc->nc", basis[:, :k], sh[:, :k])
        got = eval_sh(torch.tensor(sh), torch.tensor(dirs), degree).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=5, deadline=None)
@given(seed=SEEDS)
def test_view_dependent_colour_follows_the_direction_from_the_camera(seed):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-0.5, 0.5, size=(6, 3))
    sh = 0.3 * rng.normal(size=(6, 16, 3))
    params = _params(means, np.full((6, 3), 0.05), [[1, 0, 0, 0]] * 6, np.full(6, 0.5), sh)
    colours = []
    for eye in ([3.0, 0.5, 1.0], [-1.0, -3.0, 2.0]):
        camera = Camera.look_at(eye, [0.0, 0.0, 0.0], width=16, height=12, fov_y_degrees=80)
        for degree in range(4):
            proj = render_reference(params, camera, RenderSettings(sh_degree=degree)).projection
            dirs = means[proj.ids.numpy()] - camera.position
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            k = (degree + 1) ** 2
            raw = np.einsum("nk,nkc->nc", _numpy_sh_basis(dirs)[:, :k], sh[proj.ids.numpy(), :k])
            np.testing.assert_allclose(proj.colors.numpy(), np.maximum(raw + 0.5, 0), atol=1e-6)
        colours.append(proj.colors[torch.argsort(proj.ids)])
    assert not torch.allclose(colours[0], colours[1], atol=1e-3)


# --- gradients and the dense twin -------------------------------------------------------------


def _random_scene(rng: np.random.Generator, n: int, extent: float = 1.0) -> dict[str, np.ndarray]:
    """n random Gaussians around the origin: sizes over two decades, some opaque, SH degree 3."""
    opacity = rng.uniform(0.02, 1.0, size=n)
    opacity[rng.random(n) < 0.3] = 1.0
    sh = 0.2 * rng.normal(size=(n, 16, 3))
    sh[:, 0] = rng.uniform(-1.5, 1.5, size=(n, 3))
    return {
        "means": rng.uniform(-extent, extent, size=(n, 3)),
        "scales": np.exp(rng.uniform(np.log(0.01), np.log(0.3), size=(n, 3))),
        "quats": rng.normal(size=(n, 4)),
        "opacities": opacity,
        "sh": sh,
    }


def _random_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """A camera 2.5-4 units from the origin looking near it, off-centre principal point."""
    direction = rng.normal(size=3)
    eye = direction / np.linalg.norm(direction) * rng.uniform(2.5, 4.0)
    camera = Camera.look_at(eye, rng.uniform(-0.3, 0.3, 3), width=width, height=height)
    return dataclasses.replace(
        camera,
        fx=camera.fx * rng.uniform(0.8, 1.2),
        cx=width * rng.uniform(0.35, 0.65),
        cy=height * rng.uniform(0.35, 0.65),
    )


@settings(max_examples=3, deadline=None)
@given(seed=SEEDS)
def test_gradcheck_on_a_tiny_scene(seed):
    rng = np.random.default_rng(seed)
    scene = _random_scene(rng, 4, extent=0.3)
    scene["opacities"] = rng.uniform(0.4, 0.9, size=4)  # away from the 0.99 cap
    scene["scales"] = rng.uniform(0.15, 0.4, size=(4, 3))
    params = _params(**scene)
    camera = Camera.look_at([0.2, -3.0, 1.0], [0.0, 0.0, 0.0], width=6, height=5, fov_y_degrees=30)
    names = ["means", "scales", "rotations", "opacities", "sh"]
    rs = RenderSettings(background=BACKGROUND, antialias=bool(rng.integers(2)))

    def render(*tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = render_reference(
            dict(zip(names, tensors, strict=True)), camera, rs, dtype=torch.float64
        )
        return out.image, out.transmittance

    inputs = tuple(params[name].requires_grad_() for name in names)
    assert (render(*inputs)[1] < 0.5).any()  # the Gaussians do cover pixels
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-6)


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, tile_size=st.sampled_from([4, 8, 16]), dtype=st.sampled_from(["f32", "f64"]))
def test_tiled_render_equals_dense_render(seed, tile_size, dtype):
    rng = np.random.default_rng(seed)
    torch_dtype = torch.float32 if dtype == "f32" else torch.float64
    params = _params(**_random_scene(rng, int(rng.integers(20, 300))), dtype=torch_dtype)
    camera = _random_camera(rng, int(rng.integers(17, 50)), int(rng.integers(13, 40)))
    rs = RenderSettings(
        sh_degree=int(rng.integers(4)),
        background=tuple(rng.random(3)),
        splat_scale=float(rng.uniform(0.5, 2.0)),
        antialias=bool(rng.integers(2)),
        near_plane=float(rng.uniform(0.01, 3.0)),
        guard_band=float(rng.uniform(1.0, 2.0)),
    )
    tiled = render_reference(params, camera, rs, dtype=torch_dtype, tile_size=tile_size)
    dense = _render_reference_dense(params, camera, rs, dtype=torch_dtype)
    tol = 2e-6 if dtype == "f32" else 1e-12
    torch.testing.assert_close(tiled.image, dense.image, rtol=0, atol=tol)
    torch.testing.assert_close(tiled.transmittance, dense.transmittance, rtol=0, atol=tol)


# --- a real scene -----------------------------------------------------------------------------


def _load_donut() -> GaussianScene:
    """donut.ply as a GaussianScene (the shared test scene), or skip when it is absent."""
    if not DONUT.exists():
        pytest.skip(f"shared test scene {DONUT} is absent")
    return load_scene(DONUT)


def test_donut_renders_with_its_hole_in_the_middle():
    scene = _load_donut()
    w2c = np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.3], [0, 0, 0, 1]], dtype=np.float64)
    camera = Camera(64, 64, 32.0, 32.0, 32.0, 32.0, w2c)
    image = render_scene_reference(scene, camera, RenderSettings(background=(0.0, 0.0, 1.0)))
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert np.isfinite(image).all()
    covered = np.abs(image - [0.0, 0.0, 1.0]).max(axis=-1) > 0.05  # [64, 64] bool
    assert 0.1 < covered.mean() < 0.5
    assert not covered[30:32, 32:34].any()  # the hole
    assert covered[31, 32 + 10] and covered[31 - 10, 32] and covered[31 + 10, 32]  # the ring
