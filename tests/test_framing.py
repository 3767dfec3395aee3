"""Default views: the up axis of scenes without cameras, framings of degenerate and huge scenes,
the --up choice."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.indoor_room import TO_UP, indoor_room
from viewer.app.camera_controller import CameraController
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.framing import (
    Ring,
    axis_label,
    check_renderable,
    default_camera,
    facing_direction,
    frame_bounds,
    framing_bounds,
    guess_up_axis,
    is_inside_out,
)
from viewer.scene import GaussianScene
from viewer.settings import UP_AXES

WHITE_DC = 1.8  # SH DC giving a bright colour (0.5 + C0 * 1.8 ~ 1)


def make_scene(means: np.ndarray, scales: np.ndarray | float = 0.03, source: str = "test"):
    """Bright, opaque, round Gaussians at `means`."""
    n = means.shape[0]
    scales = np.broadcast_to(np.asarray(scales, np.float64).reshape(-1, 1), (n, 3))
    return GaussianScene.from_arrays(
        means,
        scales,
        np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
        np.full(n, 0.95),
        np.full((n, 1, 3), WHITE_DC),
        source=source,
    )


def ground_and_object(up: str, rng: np.random.Generator) -> GaussianScene:
    """A thin disc of ground (4000 splats) and a ball standing on it (1000), `up` up."""
    radius = 2.0 * np.sqrt(rng.uniform(size=4000))
    angle = rng.uniform(0.0, 2.0 * np.pi, 4000)
    ground = np.stack([radius * np.cos(angle), radius * np.sin(angle), rng.normal(0, 0.005, 4000)])
    ball = rng.normal(size=(3, 1000))
    ball = 0.4 * ball / np.linalg.norm(ball, axis=0) + np.array([[0.3], [-0.2], [0.5]])
    points = np.concatenate([ground, ball], axis=1).T
    return make_scene(points @ TO_UP[up].T + [1.0, -2.0, 3.0])


def standing_figure(up: str, rng: np.random.Generator, pedestal: str | None = None):
    """A 2-unit pole along `up`'s axis (no ground), optionally a dense disc at one end."""
    n = 2000
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    pole = np.stack([0.15 * np.cos(angle), 0.15 * np.sin(angle), rng.uniform(0.0, 2.0, n)])
    parts = [pole]
    if pedestal is not None:
        r, a = 0.4 * np.sqrt(rng.uniform(size=1500)), rng.uniform(0.0, 2.0 * np.pi, 1500)
        z = np.full(1500, 0.0 if pedestal == "bottom" else 2.0)
        parts.append(np.stack([r * np.cos(a), r * np.sin(a), z + rng.normal(0, 0.005, 1500)]))
    points = np.concatenate(parts, axis=1).T
    return make_scene(points @ TO_UP[up].T)


# -- the up axis ---------------------------------------------------------------------------------


@pytest.mark.parametrize("up", list(UP_AXES))
def test_a_ground_with_an_object_on_it_is_up_in_every_orientation(up):
    scene = ground_and_object(up, np.random.default_rng(1))
    assert axis_label(guess_up_axis(scene)) == up


@pytest.mark.parametrize("up, expected", [("+Y", "-Y"), ("-Y", "-Y"), ("+Z", "+Z"), ("-Z", "+Z")])
def test_an_upright_figure_without_ground_follows_the_axis_convention(up, expected):
    # nothing says which end is up: -Y for Y (captures, web tools), +Z for Z (z-up worlds)
    scene = standing_figure(up, np.random.default_rng(2))
    assert axis_label(guess_up_axis(scene)) == expected


@pytest.mark.parametrize("up", ["+Y", "-Y", "+Z", "-Z", "+X", "-X"])
def test_a_figure_on_a_pedestal_stands_on_it(up):
    scene = standing_figure(up, np.random.default_rng(3), pedestal="bottom")
    assert axis_label(guess_up_axis(scene)) == up


def test_a_blob_without_shape_or_cameras_is_minus_y_up():
    scene = random_scene(np.random.default_rng(4), 2000, sh_degree=0)
    assert axis_label(guess_up_axis(scene)) == "-Y"


def test_training_cameras_win_over_geometry():
    scene = ground_and_object("+Z", np.random.default_rng(5))
    y_up = Camera.look_at((0, 1, -5), (0, 1, 0), (0, 1, 0), 64, 48)
    assert axis_label(guess_up_axis(dataclasses.replace(scene, cameras=(y_up,)))) == "+Y"


def test_the_supersplat_guitar_stands_minus_y_up_and_is_seen_from_the_front():
    from viewer.formats import load_scene

    scene = load_scene(scene_path("guitar.compressed.ply"))
    up = guess_up_axis(scene)
    assert axis_label(up) == "-Y"  # the neck (fewer splats) at -Y, the stand at +Y
    # the guitar's body is thin along X; its front (strings, pickups: smaller splats) faces +X
    facing = facing_direction(scene, up)
    assert facing is not None and facing[0] > 0.9
    camera = default_camera(scene, 64, 64)
    assert -camera.world_to_camera[1, :3] @ up > 0.8  # -Y shows up on screen
    assert camera.world_to_camera[2, 0] < -0.6  # looking along -X, at the front


def test_the_donut_lies_flat_plus_z_up():
    from viewer.formats import load_scene

    scene = load_scene(scene_path("donut.ply"))
    assert axis_label(guess_up_axis(scene)) == "+Z"  # icing on +z (see the scenes' README)


# -- scenes captured from inside ------------------------------------------------------------------

ROOMS = [  # (up, room, mirrored): the camera-free convention first, then turned and mirrored
    ("-Y", "living", False),
    ("-Y", "hall", False),  # its long axis (+Z) was taken for a standing figure's
    ("+Z", "living", False),
    ("+Z", "hall", True),
    ("+Y", "living", False),
    ("-X", "hall", False),
    ("+X", "living", True),  # the mirror turns +X into -X
]


def room_up(up: str, mirrored: bool) -> np.ndarray:
    """The true up of indoor_room(up, ..., mirrored)."""
    vector = np.array(UP_AXES[up])
    return vector * [-1.0, 1.0, 1.0] if mirrored else vector


def inside_box(scene: GaussianScene, point: np.ndarray) -> bool:
    lo, hi = framing_bounds(scene)
    return bool(((point > lo) & (point < hi)).all())


@pytest.mark.parametrize("up, room, mirrored", ROOMS)
def test_a_room_captured_from_inside_is_up_from_floor_to_ceiling(up, room, mirrored):
    scene = indoor_room(up, room, mirrored=mirrored)
    assert is_inside_out(scene)
    assert guess_up_axis(scene) @ room_up(up, mirrored) == 1.0


@pytest.mark.parametrize("up, room, mirrored", ROOMS)
def test_a_room_opens_inside_at_eye_height_looking_level(up, room, mirrored):
    scene = indoor_room(up, room, mirrored=mirrored)
    camera = default_camera(scene, 64, 48)
    true_up = room_up(up, mirrored)
    assert inside_box(scene, camera.position)
    assert 1.3 < camera.position @ true_up + 1.5 < 1.8  # above the floor (1.5 below the origin)
    assert abs(camera.world_to_camera[2, :3] @ true_up) < 1e-9  # looking level
    assert -camera.world_to_camera[1, :3] @ true_up > 0.999  # up on screen
    clearance = np.linalg.norm(scene.means - camera.position, axis=1).min()
    assert clearance > 2.0 * scene.fitted_near_plane()  # the near plane clips nothing near


@pytest.mark.parametrize("up, room, mirrored", ROOMS)
def test_orbiting_in_a_room_keeps_the_horizon_level_and_the_eye_inside(up, room, mirrored):
    scene = indoor_room(up, room, mirrored=mirrored)
    home = default_camera(scene, 64, 48)
    controller = CameraController.for_scene(*framing_bounds(scene), guess_up_axis(scene), home)
    true_up = room_up(up, mirrored)
    for dx, dy in ((120.0, 0.0), (0.0, 40.0), (-300.0, -80.0)):
        controller.drag("left", dx, dy, 48)
        right = controller.camera(64, 48).world_to_camera[0, :3]
        assert abs(right @ true_up) < 1e-9  # no tilt
        assert inside_box(scene, controller.eye)


def test_objects_are_not_taken_for_rooms():
    from viewer.formats import load_scene

    rng = np.random.default_rng(12)
    for scene in (
        load_scene(scene_path("donut.ply")),
        load_scene(scene_path("guitar.compressed.ply")),
        ground_and_object("+Z", rng),
        standing_figure("-Y", rng, pedestal="bottom"),
        random_scene(rng, 2000, sh_degree=0),
    ):
        assert not is_inside_out(scene)


# -- framing degenerate scenes -------------------------------------------------------------------


def render(scene: GaussianScene, camera: Camera) -> np.ndarray:
    from viewer.headless import render_scene
    from viewer.render.context import GLUnavailableError

    try:
        return render_scene(scene, camera)
    except GLUnavailableError as exc:
        pytest.skip(str(exc))


def assert_shows_the_splat(image: np.ndarray) -> None:
    """Bright pixels, centred in the image."""
    bright = image.max(axis=2) > 0.3
    assert bright.mean() > 0.005, "the image is (nearly) empty"
    rows, cols = np.nonzero(bright)
    h, w = bright.shape
    assert abs(rows.mean() - h / 2) < h / 4 and abs(cols.mean() - w / 2) < w / 4


@pytest.mark.parametrize(
    "kind", ["one Gaussian", "all at one point", "one point, varied sizes", "a flat layer"]
)
def test_degenerate_scenes_get_a_camera_that_shows_them(kind):
    rng = np.random.default_rng(6)
    if kind == "one Gaussian":
        scene = make_scene(np.array([[1.0, 2.0, 3.0]]), 0.05)
    elif kind == "all at one point":
        scene = make_scene(np.tile([5.0, -5.0, 5.0], (50, 1)), 0.05)
    elif kind == "one point, varied sizes":
        scene = make_scene(np.zeros((40, 3)), rng.uniform(0.01, 0.1, 40))
    else:
        scene = make_scene(np.c_[rng.uniform(-1, 1, (300, 2)), np.zeros(300)], 0.05)
    camera = default_camera(scene, 64, 48)
    assert np.isfinite(camera.world_to_camera).all()
    assert_shows_the_splat(render(scene, camera))


def test_framing_keeps_the_scene_beyond_the_near_plane():
    scene = make_scene(np.array([[0.0, 0.0, 0.0]]), 0.001)  # far smaller than the near plane
    for near in (0.2, 1.0):
        camera = default_camera(scene, 64, 48, near_plane=near)
        assert np.linalg.norm(camera.position) > near


def test_huge_coordinates_are_framed_in_float64_without_overflow():
    lo = np.full(3, -3e38, np.float32)
    hi = np.full(3, 3e38, np.float32)
    camera = frame_bounds(lo, hi, np.array([0.0, 0.0, 1.0]), 64, 48)  # float32 would overflow
    assert np.isfinite(camera.world_to_camera).all()
    with pytest.raises(SceneError, match="float32"):
        check_renderable(lo, hi, camera.position, "huge.ply")


def test_a_scene_reaching_3e38_is_refused_in_one_line():
    rng = np.random.default_rng(7)
    scene = make_scene(rng.uniform(-3e38, 3e38, (100, 3)), 1.0, source="huge.ply")
    with pytest.raises(SceneError, match=r"^huge\.ply: .*float32") as caught:
        default_camera(scene, 64, 48)
    assert "\n" not in str(caught.value)
    with pytest.raises(SceneError, match="float32"):
        Ring.framing(scene, 64, 48)


def test_a_tiny_scene_far_from_the_origin_is_refused():
    scene = make_scene(np.array([[1e10, 0.0, 0.0], [1e10, 0.0, 0.0]]), 0.05, source="far.ply")
    with pytest.raises(SceneError, match="nearer the origin"):
        default_camera(scene, 64, 48)
    georeferenced = make_scene(np.array([[4e5, 3e5, 10.0], [4e5 + 1.0, 3e5, 11.0]]), 0.05)
    assert np.isfinite(default_camera(georeferenced, 64, 48).world_to_camera).all()


def test_large_but_renderable_scenes_frame_like_small_ones():
    base = random_scene(np.random.default_rng(8), 300, sh_degree=0)
    big = dataclasses.replace(
        base,
        means=(base.means.astype(np.float64) * 1e15).astype(np.float32),
        scales=(base.scales.astype(np.float64) * 1e15).astype(np.float32),
        log_scales=None,
    )
    small_view, big_view = default_camera(base, 64, 48, "+Z"), default_camera(big, 64, 48, "+Z")
    np.testing.assert_allclose(big_view.position / 1e15, small_view.position, rtol=1e-5)
    np.testing.assert_allclose(
        render(big, big_view.resized(64, 48)), render(base, small_view), atol=0.02
    )


def test_framing_bounds_reach_the_splats_when_the_centres_have_no_spread():
    scene = make_scene(np.tile([1.0, 1.0, 1.0], (3, 1)), 0.1)
    lo, hi = framing_bounds(scene)
    np.testing.assert_allclose(hi - lo, 0.6)  # 3 sigma either way


# -- the --up choice -----------------------------------------------------------------------------


@pytest.mark.parametrize("up", list(UP_AXES))
def test_an_explicit_up_is_up_on_screen(up):
    scene = ground_and_object("+Z", np.random.default_rng(9))
    camera = default_camera(scene, 64, 48, up)
    screen_up = -camera.world_to_camera[1, :3]
    assert screen_up @ np.array(UP_AXES[up]) > 0.8
    ring = Ring.framing(scene, 64, 48, up)
    assert axis_label(ring.up) == up


def test_an_explicit_up_frames_the_scene_instead_of_its_first_camera():
    scene = ground_and_object("+Z", np.random.default_rng(10))
    training = Camera.look_at((0, 9, 9), (0, 0, 0), (0, 0, 1), 64, 48)
    with_views = dataclasses.replace(scene, cameras=(training,))
    assert default_camera(with_views, 64, 48).position.tolist() == training.position.tolist()
    framed = default_camera(with_views, 64, 48, "+Z")
    assert not np.allclose(framed.position, training.position)


def test_the_bench_orbit_follows_an_explicit_up():
    from viewer.path_cameras import camera_path

    scene = ground_and_object("+Z", np.random.default_rng(11))
    for camera in camera_path("orbit", scene, 32, 24, 6, up="-X"):
        assert -camera.world_to_camera[1, :3] @ np.array([-1.0, 0.0, 0.0]) > 0.5
