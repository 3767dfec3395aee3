"""Camera paths (viewer.path_cameras): orbit and spiral look at the centre, the views, files."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.framing import guess_up_axis
from viewer.path_cameras import SPIRAL_TURNS, camera_path

W, H = 160, 90


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(7)
    base = random_scene(rng, 500, sh_degree=0)
    return dataclasses.replace(base, means=base.means + np.float32([3.0, -1.0, 2.0]))


def center_of(scene) -> np.ndarray:
    lo, hi = scene.robust_bounds()
    return (lo.astype(np.float64) + hi) / 2.0


def in_camera(camera: Camera, point: np.ndarray) -> np.ndarray:
    return camera.world_to_camera[:3, :3] @ point + camera.world_to_camera[:3, 3]


def assert_looks_at(camera: Camera, point: np.ndarray) -> None:
    x, y, z = in_camera(camera, point)
    assert z > 0 and abs(x) < 1e-9 * z + 1e-9 and abs(y) < 1e-9 * z + 1e-9


def azimuths(cameras: list[Camera], center: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Unwrapped angle of each camera about the up axis through the centre."""
    side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    front = np.cross(side, up)
    offsets = [c.position - center for c in cameras]
    return np.unwrap([math.atan2(o @ front, o @ side) for o in offsets])


def test_orbit_circles_the_centre_looking_at_it(scene) -> None:
    cameras = camera_path("orbit", scene, W, H, 12)
    center, up = center_of(scene), guess_up_axis(scene)
    assert len(cameras) == 12
    heights, distances = [], []
    for camera in cameras:
        assert (camera.width, camera.height) == (W, H)
        assert_looks_at(camera, center)
        assert -camera.world_to_camera[1, :3] @ up > 0  # world up points up on screen
        heights.append((camera.position - center) @ up)
        distances.append(np.linalg.norm(camera.position - center))
    assert np.ptp(heights) < 1e-9 and np.ptp(distances) < 1e-9 and heights[0] > 0
    steps = np.diff(azimuths(cameras, center, up))
    assert np.allclose(np.abs(steps), 2 * math.pi / 12)


def test_orbit_turns_about_the_up_axis_of_the_scene_cameras(scene) -> None:
    y_up = Camera.look_at((0, 1, -5), (0, 1, 0), (0, 1, 0), W, H)  # training views with +y up
    with_views = dataclasses.replace(scene, cameras=(y_up,))
    assert guess_up_axis(with_views).tolist() == [0.0, 1.0, 0.0]
    cameras = camera_path("orbit", with_views, W, H, 8)
    heights = [(c.position - center_of(scene))[1] for c in cameras]
    assert np.ptp(heights) < 1e-9


def test_spiral_descends_and_closes_in_looking_at_the_centre(scene) -> None:
    cameras = camera_path("spiral", scene, W, H, 20)
    center, up = center_of(scene), guess_up_axis(scene)
    for camera in cameras:
        assert_looks_at(camera, center)
    offsets = [c.position - center for c in cameras]
    distances = np.array([np.linalg.norm(o) for o in offsets])
    elevations = np.array([math.asin(o @ up / np.linalg.norm(o)) for o in offsets])
    assert (np.diff(distances) < 0).all() and (np.diff(elevations) < 0).all()
    turned = azimuths(cameras, center, up)
    assert abs(turned[-1] - turned[0]) == pytest.approx(2 * math.pi * SPIRAL_TURNS)


def test_paths_are_deterministic(scene) -> None:
    for kind in ("orbit", "spiral"):
        a, b = camera_path(kind, scene, W, H, 5), camera_path(kind, scene, W, H, 5)
        assert all(
            np.array_equal(x.world_to_camera, y.world_to_camera) for x, y in zip(a, b, strict=True)
        )


def test_cameras_path_uses_the_scene_cameras_resized(scene) -> None:
    views = tuple(
        Camera.look_at((i, 0, -5), (0, 0, 0), (0, 0, 1), 640, 480, 40.0, f"view{i}")
        for i in range(3)
    )
    cameras = camera_path("cameras", dataclasses.replace(scene, cameras=views), W, H, 6)
    assert [c.name for c in cameras] == ["view0", "view0", "view1", "view1", "view2", "view2"]
    for camera in cameras:
        view = views[int(camera.name[-1])]
        assert np.allclose(camera.world_to_camera, view.world_to_camera)
        assert (camera.width, camera.height) == (W, H)
        assert camera.fov_y_degrees == pytest.approx(view.fov_y_degrees)


def test_cameras_path_needs_cameras(scene) -> None:
    with pytest.raises(SceneError, match="no cameras"):
        camera_path("cameras", scene, W, H, 4)


def write_path(path: Path, keyframes: list[tuple[float, Camera]]) -> Path:
    frames = [{"time": t, "camera": c.to_dict()} for t, c in keyframes]
    path.write_text(json.dumps({"version": 1, "keyframes": frames}))
    return path


def test_path_file_interpolates_between_keyframes(tmp_path: Path) -> None:
    start = Camera.look_at((0, 0, -5), (0, 0, 0), (0, -1, 0), 320, 180, 60.0)
    turned = Camera.look_at((4, 0, -5), (4 + 5, 0, -5), (0, -1, 0), 320, 180, 60.0)
    file = write_path(tmp_path / "path.json", [(1.0, start), (3.0, turned)])
    first, middle, last = camera_path(str(file), None, W, H, 3)
    assert np.allclose(first.world_to_camera, start.world_to_camera)
    assert np.allclose(last.world_to_camera, turned.world_to_camera)
    assert np.allclose(middle.position, (2, 0, -5))
    forward = middle.world_to_camera[2, :3]  # 45 degrees between +z and +x
    assert np.allclose(forward, np.array([1.0, 0.0, 1.0]) / math.sqrt(2))
    assert (middle.width, middle.height) == (W, H)
    assert middle.fov_y_degrees == pytest.approx(60.0)


def test_path_file_passes_through_every_keyframe(tmp_path: Path) -> None:
    keys = [Camera.look_at((x, 0, -5), (0, 0, 0), (0, -1, 0), 320, 180, 50.0) for x in (0, 2, 3)]
    file = write_path(tmp_path / "three.json", [(0.0, keys[0]), (1.0, keys[1]), (2.0, keys[2])])
    cameras = camera_path(str(file), None, W, H, 5)  # t = 0, 0.5, 1, 1.5, 2
    for camera, key in zip(cameras[::2], keys, strict=True):
        assert np.allclose(camera.world_to_camera, key.world_to_camera)
    assert [c.name for c in cameras] == [f"path {i}" for i in range(5)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON camera path"),
        ('{"version": 2, "keyframes": []}', "version 1"),
        ('{"version": 1, "keyframes": []}', "no keyframes"),
        ('{"version": 1, "keyframes": [{"time": 0}]}', "bad keyframe"),
    ],
)
def test_bad_path_files(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "bad.json"
    file.write_text(content)
    with pytest.raises(SceneError, match=message):
        camera_path(str(file), None, W, H, 3)


def test_keyframes_must_be_in_time_order(tmp_path: Path) -> None:
    camera = Camera.look_at((0, 0, -5), (0, 0, 0), (0, -1, 0), W, H)
    file = write_path(tmp_path / "back.json", [(2.0, camera), (1.0, camera)])
    with pytest.raises(SceneError, match="non-decreasing"):
        camera_path(str(file), None, W, H, 3)


def test_missing_path_file_and_zero_frames(scene) -> None:
    with pytest.raises(SceneError, match="no such file"):
        camera_path("circle", scene, W, H, 3)
    with pytest.raises(ValueError, match="at least one frame"):
        camera_path("orbit", scene, W, H, 0)


def test_a_path_file_played_in_real_time(tmp_path: Path) -> None:
    from viewer.path_cameras import load_path_file, played, played_frames, sampled

    keys = [Camera.look_at((x, 0, -5), (0, 0, 0), (0, -1, 0), 320, 180, 50.0) for x in (0, 2)]
    file = write_path(tmp_path / "two.json", [(1.0, keys[0]), (2.5, keys[1])])
    recorded = load_path_file(file)
    assert played_frames(recorded, 4.0) == 7  # 1.5 s: t = 1, 1.25, ..., 2.5
    cameras = played(recorded, W, H, 4.0)
    assert len(cameras) == 7 and cameras[-1].name == "path 6"
    assert np.allclose(cameras[-1].world_to_camera, keys[1].world_to_camera)
    assert np.allclose(cameras[2].world_to_camera, recorded.camera(1.5, W, H).world_to_camera)
    assert played_frames(recorded, 3.0) == 5  # 4.5 frames' time: the last keyframe is cut
    assert len(sampled(recorded, W, H, 1)) == 1
    with pytest.raises(ValueError, match="positive"):
        played(recorded, W, H, 0.0)
