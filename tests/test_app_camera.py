"""The viewer's camera controller and rotation helpers, without a window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewer.app.camera_controller import (
    FAST_FACTOR,
    MAX_PITCH,
    TRANSITION_SECONDS,
    CameraController,
)
from viewer.camera import Camera
from viewer.framing import axis_label
from viewer.pose import Pose
from viewer.rotations import (
    matrix_from_quaternion,
    quaternion_from_matrix,
    slerp,
    slerp_matrices,
)


def make_controller(up: str = "+Z") -> CameraController:
    """A controller for a unit-sized scene around the origin, looking at it from +X/-Y."""
    up_vec = {"+Z": [0, 0, 1], "+Y": [0, 1, 0], "-Y": [0, -1, 0], "-Z": [0, 0, -1]}[up]
    eye = np.array([3.0, -2.0, 1.0]) if up in ("+Z", "-Z") else np.array([3.0, 1.0, -2.0])
    home = Camera.look_at(eye, [0.0, 0.0, 0.0], up_vec, 320, 240, fov_y_degrees=45.0)
    return CameraController.for_scene(-np.ones(3), np.ones(3), np.array(up_vec, float), home)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return matrix_from_quaternion(q / np.linalg.norm(q))


def assert_same_camera(a: Camera, b: Camera, atol: float = 1e-9) -> None:
    assert (a.width, a.height) == (b.width, b.height)
    np.testing.assert_allclose([a.fx, a.fy, a.cx, a.cy], [b.fx, b.fy, b.cx, b.cy], atol=1e-6)
    np.testing.assert_allclose(a.world_to_camera, b.world_to_camera, atol=atol)


# -- rotations ----------------------------------------------------------------------------------


def test_quaternion_round_trip_over_random_rotations():
    rng = np.random.default_rng(1)
    for _ in range(200):
        rotation = random_rotation(rng)
        np.testing.assert_allclose(
            matrix_from_quaternion(quaternion_from_matrix(rotation)), rotation, atol=1e-12
        )


def test_quaternion_of_half_turns_is_exact():
    for axis in np.eye(3):
        rotation = 2.0 * np.outer(axis, axis) - np.eye(3)  # 180 degrees about `axis`
        np.testing.assert_allclose(quaternion_from_matrix(rotation), [0.0, *axis], atol=1e-12)


def test_slerp_endpoints_midpoint_and_short_arc():
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b = np.array([math.cos(0.5), 0.0, 0.0, math.sin(0.5)])  # 1 radian about z
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-12)
    np.testing.assert_allclose(slerp(a, b, 0.5), [math.cos(0.25), 0, 0, math.sin(0.25)])
    np.testing.assert_allclose(slerp(a, -b, 0.5), slerp(a, b, 0.5), atol=1e-12)


def test_slerp_matrices_keeps_rotations_orthonormal():
    rng = np.random.default_rng(2)
    a, b = random_rotation(rng), random_rotation(rng)
    for t in np.linspace(0.0, 1.0, 7):
        m = slerp_matrices(a, b, t)
        np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(m) == pytest.approx(1.0)


# -- the controller ---------------------------------------------------------------------------


def test_starts_at_the_home_camera():
    controller = make_controller()
    assert_same_camera(controller.camera(320, 240), controller.home)


@pytest.mark.parametrize("up", ["+Z", "-Z", "+Y", "-Y"])
def test_orbit_keeps_the_distance_to_the_pivot(up):
    controller = make_controller(up)
    pivot = controller.pivot.copy()
    before = controller.camera(320, 240).position
    distance = np.linalg.norm(before - pivot)
    controller.drag("left", 40.0, -25.0, 240)
    after = controller.camera(320, 240).position
    assert np.linalg.norm(after - pivot) == pytest.approx(distance)
    assert np.linalg.norm(after - before) > 0.1 * distance
    np.testing.assert_allclose(controller.pivot, pivot)
    # the pivot stays at the image centre
    camera = controller.camera(320, 240)
    centre = camera.world_to_camera @ np.append(pivot, 1.0)
    np.testing.assert_allclose(centre[:2], 0.0, atol=1e-9)


def test_orbit_right_moves_the_eye_to_the_left_and_down_drag_raises_it():
    controller = make_controller()
    camera = controller.camera(320, 240)
    right, up = camera.camera_to_world[:3, 0], controller.up
    controller.drag("left", 30.0, 0.0, 240)
    moved = controller.camera(320, 240).position - camera.position
    assert moved @ right < 0
    controller = make_controller()
    controller.drag("left", 0.0, 30.0, 240)
    assert (controller.camera(320, 240).position - camera.position) @ up > 0


def test_orbit_pitch_is_clamped_below_the_pole():
    controller = make_controller()
    controller.drag("left", 0.0, 100000.0, 240)
    assert controller.pitch == pytest.approx(-MAX_PITCH)
    camera = controller.camera(320, 240)
    np.testing.assert_allclose(camera.world_to_camera[:3, :3] @ camera.camera_to_world[:3, :3],
                               np.eye(3), atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("button", ["right", "middle"])
def test_pan_moves_pivot_and_eye_together(button):
    controller = make_controller()
    before = controller.camera(320, 240)
    pivot = controller.pivot.copy()
    controller.drag(button, 20.0, 10.0, 240)
    after = controller.camera(320, 240)
    shift = controller.pivot - pivot
    np.testing.assert_allclose(after.position - before.position, shift, atol=1e-12)
    np.testing.assert_allclose(after.world_to_camera[:3, :3], before.world_to_camera[:3, :3])
    # the point under the cursor follows it: the old pivot now projects 20 px right, 10 px down
    x, y, z = (after.world_to_camera @ np.append(pivot, 1.0))[:3]
    assert after.fx * x / z == pytest.approx(20.0 * 240 / 240)
    assert after.fy * y / z == pytest.approx(10.0)


def test_zoom_changes_the_distance_towards_the_pivot():
    controller = make_controller()
    distance = controller.distance
    forward = controller.forward.copy()
    controller.scroll(2.0)
    assert controller.distance < distance
    np.testing.assert_allclose(controller.forward, forward)
    controller.scroll(-4.0)
    assert controller.distance > distance
    controller.scroll(-10000.0)  # bounded by the scene size
    assert np.isfinite(controller.camera(320, 240).world_to_camera).all()


def test_fly_mode_moves_along_the_view_direction():
    controller = make_controller()
    controller.set_mode("fly")
    eye, forward = controller.eye.copy(), controller.forward.copy()
    assert controller.update(0.5, {"forward"})
    np.testing.assert_allclose(controller.eye - eye, forward * 0.5 * controller.fly_speed)
    eye = controller.eye.copy()
    controller.update(0.5, {"forward", "fast"})
    np.testing.assert_allclose(
        controller.eye - eye, forward * 0.5 * controller.fly_speed * FAST_FACTOR
    )


def test_moves_left_right_up_down_and_cancelling_keys():
    controller = make_controller()
    rotation = controller.rotation
    for action, direction in (
        ("right", rotation[:, 0]),
        ("left", -rotation[:, 0]),
        ("up", controller.up),
        ("down", -controller.up),
        ("back", -rotation[:, 2]),
    ):
        eye = controller.eye.copy()
        controller.update(1.0, {action})
        np.testing.assert_allclose(
            controller.eye - eye, direction * controller.fly_speed, atol=1e-12
        )
    eye = controller.eye.copy()
    assert not controller.update(1.0, {"left", "right"})
    np.testing.assert_allclose(controller.eye, eye)


def test_fly_scroll_changes_speed_not_distance():
    controller = make_controller()
    controller.set_mode("fly")
    speed, distance = controller.fly_speed, controller.distance
    controller.scroll(3.0)
    assert controller.fly_speed > speed
    assert controller.distance == distance


def test_fly_look_keeps_the_eye():
    controller = make_controller()
    controller.set_mode("fly")
    eye, forward = controller.eye.copy(), controller.forward.copy()
    controller.drag("left", 50.0, 20.0, 240)
    np.testing.assert_allclose(controller.eye, eye, atol=1e-12)
    assert np.linalg.norm(controller.forward - forward) > 0.05


def test_roll_turns_about_the_view_direction():
    controller = make_controller()
    forward, eye = controller.forward.copy(), controller.eye.copy()
    right = controller.rotation[:, 0].copy()
    controller.update(1.0, {"roll_right"})
    np.testing.assert_allclose(controller.forward, forward, atol=1e-12)
    np.testing.assert_allclose(controller.eye, eye, atol=1e-12)
    assert controller.rotation[:, 0] @ right == pytest.approx(math.cos(math.radians(45.0)))


def test_unknown_mode_and_up_axis_are_rejected():
    controller = make_controller()
    with pytest.raises(ValueError, match="mode"):
        controller.set_mode("walk")
    with pytest.raises(ValueError, match="up axis"):
        controller.set_up_axis("+W")


@pytest.mark.parametrize("label", ["+Z", "-Z", "+Y", "-Y"])
def test_up_axis_choice_levels_the_view(label):
    controller = make_controller()
    controller.update(0.5, {"roll_left"})
    eye, pivot = controller.eye.copy(), controller.pivot.copy()
    controller.set_up_axis(label)
    assert controller.up_axis == label
    np.testing.assert_allclose(controller.eye, eye, atol=1e-9)
    np.testing.assert_allclose(controller.pivot, pivot, atol=1e-9)
    camera = controller.camera(320, 240)
    down = camera.camera_to_world[:3, 1]
    right = camera.camera_to_world[:3, 0]
    assert right @ controller.up == pytest.approx(0.0, abs=1e-9)  # level horizon
    assert down @ controller.up < 0.0 or abs(controller.forward @ controller.up) > 0.99
    assert axis_label(controller.up) == label


def test_transition_endpoints_equal_start_and_target():
    controller = make_controller()
    start = controller.camera(320, 240)
    target = Camera.look_at([0.5, 4.0, 2.0], [0.2, 0.0, 0.1], [0, 0, 1], 320, 240, 60.0)
    controller.go_to(target)
    assert controller.in_transition
    assert_same_camera(controller.camera(320, 240), start)
    controller.update(TRANSITION_SECONDS / 2, ())
    middle = controller.camera(320, 240)
    assert not np.allclose(middle.position, start.position)
    assert not np.allclose(middle.position, target.position)
    assert controller.update(TRANSITION_SECONDS / 2 + 1e-6, ())
    assert not controller.in_transition
    assert_same_camera(controller.camera(320, 240), target)
    assert not controller.update(1.0, ())


def test_transition_goes_through_rotations_smoothly():
    controller = make_controller()
    target = Camera.look_at([-3.0, 2.0, 1.5], [0.0, 0.0, 0.0], [0, 0, 1], 320, 240, 45.0)
    controller.go_to(target)
    steps, previous = 20, controller.camera(320, 240)
    for _ in range(steps):
        controller.update(TRANSITION_SECONDS / steps, ())
        camera = controller.camera(320, 240)
        r = camera.world_to_camera[:3, :3]
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        turn = np.arccos(np.clip((np.trace(r @ previous.camera_to_world[:3, :3]) - 1) / 2, -1, 1))
        assert turn < math.radians(30.0)
        previous = camera
    assert_same_camera(previous, target)


def test_input_during_a_transition_continues_from_the_view_on_screen():
    controller = make_controller()
    target = Camera.look_at([0.5, 4.0, 2.0], [0.0, 0.0, 0.0], [0, 0, 1], 320, 240, 45.0)
    controller.go_to(target)
    controller.update(TRANSITION_SECONDS / 3, ())
    on_screen = controller.camera(320, 240)
    controller.drag("right", 0.0, 0.0, 240)
    assert not controller.in_transition
    assert_same_camera(controller.camera(320, 240), on_screen, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-3.0, 3.0), st.floats(-1.5, 1.5), st.floats(-3.0, 3.0),
    st.floats(0.1, 10.0), st.sampled_from(["+Z", "-Z", "+Y", "-Y"]),
)  # fmt: skip
def test_set_pose_round_trips_any_rotation(yaw, pitch, roll, distance, up):
    controller = CameraController(up)
    controller.yaw, controller.pitch, controller.roll = yaw, pitch, roll
    controller.pivot = np.array([0.3, -0.2, 0.1])
    pose = controller.pose
    other = CameraController(up)
    other.set_pose(pose, distance)
    np.testing.assert_allclose(other.rotation, pose.rotation, atol=1e-9)
    np.testing.assert_allclose(other.eye, pose.eye, atol=1e-9)


def test_set_pose_looking_straight_down_keeps_the_rotation():
    controller = CameraController("+Z")
    top = Camera.look_at([0.0, 0.0, 5.0], [0.0, 0.0, 0.0], [0, 1, 0], 320, 240)
    controller.set_pose(Pose.of(top), 5.0)
    np.testing.assert_allclose(controller.camera(320, 240).world_to_camera, top.world_to_camera,
                               atol=1e-9)  # fmt: skip


def test_frame_and_reset():
    controller = make_controller()
    home = controller.camera(320, 240)
    controller.drag("left", 100.0, 30.0, 240)
    controller.scroll(5.0)
    controller.frame(duration=0.0)
    camera = controller.camera(320, 240)
    corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    points = camera.world_to_camera[:3, :3] @ corners.T + camera.world_to_camera[:3, 3:]
    assert (points[2] > 0).all()
    u, v = camera.fx * points[0] / points[2] + 160, camera.fy * points[1] / points[2] + 120
    assert ((u >= 0) & (u <= 320) & (v >= 0) & (v <= 240)).all()  # whole box in view
    np.testing.assert_allclose(controller.pivot, 0.0, atol=1e-9)
    controller.reset(duration=0.0)
    assert_same_camera(controller.camera(320, 240), home)


def test_camera_follows_the_framebuffer_size():
    controller = make_controller()
    small, big = controller.camera(320, 240), controller.camera(1280, 600)
    assert (big.width, big.height, big.cx, big.cy) == (1280, 600, 640.0, 300.0)
    assert big.fov_y_degrees == pytest.approx(small.fov_y_degrees)
    np.testing.assert_allclose(big.world_to_camera, small.world_to_camera)


def test_fov_is_clamped():
    controller = make_controller()
    controller.set_fov(500.0)
    assert controller.camera(100, 100).fov_y_degrees == pytest.approx(120.0)
    controller.set_fov(1.0)
    assert controller.camera(100, 100).fov_y_degrees == pytest.approx(10.0)


def test_set_pivot_turns_to_face_the_point_from_the_same_eye():
    controller = make_controller()
    eye = controller.eye.copy()
    point = np.array([0.4, 0.7, -0.3])
    controller.set_pivot(point)
    assert controller.in_transition
    controller.update(TRANSITION_SECONDS + 1e-6, ())
    np.testing.assert_allclose(controller.eye, eye, atol=1e-9)
    np.testing.assert_allclose(controller.pivot, point, atol=1e-9)
    assert controller.distance == pytest.approx(np.linalg.norm(point - eye))
    assert controller.rotation[:, 0] @ controller.up == pytest.approx(0.0, abs=1e-9)
    controller.orbit(0.3, 0.1)  # orbiting now keeps the distance to the new pivot
    assert np.linalg.norm(controller.eye - point) == pytest.approx(controller.distance)


def test_unproject_inverts_the_projection():
    rng = np.random.default_rng()
    camera = Camera.look_at(rng.normal(size=3) * 3, rng.normal(size=3), (0, 0, 1), 320, 200, 60.0)
    point = rng.normal(size=3)
    t = camera.world_to_camera[:3, :3] @ point + camera.world_to_camera[:3, 3]
    x, y = camera.fx * t[0] / t[2] + camera.cx, camera.fy * t[1] / t[2] + camera.cy
    np.testing.assert_allclose(camera.unproject(x, y, t[2]), point, atol=1e-9)
