"""Camera paths: keyframes, smooth interpolation through them, and the JSON path file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from viewer.camera import Camera
from viewer.camera_path import PATH_FILE_VERSION, CameraPath, Keyframe
from viewer.errors import SceneError


def ring_path(count: int = 5, step: float = 1.5) -> CameraPath:
    """Cameras on a circle looking at the origin, `step` seconds apart."""
    path = CameraPath()
    for i in range(count):
        angle = 2 * math.pi * i / count
        eye = [3 * math.cos(angle), 3 * math.sin(angle), 1.0 + 0.2 * i]
        camera = Camera.look_at(eye, [0, 0, 0], [0, 0, 1], 320, 240, 40.0 + 5 * i)
        path = path.appended(camera, step)
    return path


def test_appended_keyframes_are_spaced_by_the_step():
    path = ring_path(4, 2.0)
    assert [k.time for k in path.keyframes] == [0.0, 2.0, 4.0, 6.0]
    assert path.duration == 6.0


def test_playback_passes_through_every_keyframe():
    path = ring_path()
    for key in path.keyframes:
        camera = path.camera(key.time, 320, 240)
        np.testing.assert_allclose(camera.world_to_camera, key.camera.world_to_camera, atol=1e-9)
        assert camera.fov_y_degrees == pytest.approx(key.camera.fov_y_degrees)


def test_playback_is_clamped_to_the_path():
    path = ring_path()
    first, last = path.keyframes[0].camera, path.keyframes[-1].camera
    np.testing.assert_allclose(path.camera(-5.0, 320, 240).world_to_camera, first.world_to_camera,
                               atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(path.camera(1e6, 320, 240).world_to_camera, last.world_to_camera,
                               atol=1e-9)  # fmt: skip


def test_playback_is_smooth_no_jumps_in_position_or_velocity():
    path = ring_path()
    times = np.linspace(0.0, path.duration, 601)
    eyes = np.array([path.camera(t, 320, 240).position for t in times])
    velocity = np.diff(eyes, axis=0) / np.diff(times)[:, None]
    acceleration = np.diff(velocity, axis=0) / np.diff(times)[1:, None]
    speed_change = np.linalg.norm(np.diff(velocity, axis=0), axis=1)
    # C1: velocity changes by small amounts everywhere, also across keyframes
    assert speed_change.max() < 0.05 * np.linalg.norm(velocity, axis=1).max()
    assert np.isfinite(acceleration).all()


def test_rotations_stay_orthonormal_and_turn_gradually():
    path = ring_path()
    previous = None
    for t in np.linspace(0.0, path.duration, 200):
        r = path.camera(t, 320, 240).world_to_camera[:3, :3]
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        if previous is not None:
            cos = (np.trace(r @ previous.T) - 1.0) / 2.0
            assert math.degrees(math.acos(min(1.0, cos))) < 5.0
        previous = r


def test_rotations_take_the_short_way_round():
    a = Camera.look_at([0, -3, 0], [0, 0, 0], [0, 0, 1], 320, 240)
    b = Camera.look_at([3, 0, 0], [0, 0, 0], [0, 0, 1], 320, 240)
    path = CameraPath((Keyframe(0.0, a), Keyframe(1.0, b)))
    middle = path.camera(0.5, 320, 240)
    forward = middle.camera_to_world[:3, 2]
    # halfway between looking along +y and along -x, not swinging the long way round
    np.testing.assert_allclose(forward, np.array([-1.0, 1.0, 0.0]) / math.sqrt(2), atol=0.05)


def test_one_keyframe_and_keyframes_at_the_same_time():
    a = Camera.look_at([0, -3, 0], [0, 0, 0], [0, 0, 1], 320, 240)
    b = Camera.look_at([3, 0, 0], [0, 0, 0], [0, 0, 1], 320, 240)
    single = CameraPath((Keyframe(1.0, a),))
    np.testing.assert_allclose(single.camera(7.0, 320, 240).world_to_camera, a.world_to_camera,
                               atol=1e-9)  # fmt: skip
    jump = CameraPath((Keyframe(0.0, a), Keyframe(1.0, a), Keyframe(1.0, b), Keyframe(2.0, b)))
    np.testing.assert_allclose(jump.camera(1.0, 320, 240).world_to_camera, b.world_to_camera,
                               atol=1e-9)  # fmt: skip
    with pytest.raises(ValueError, match="no keyframes"):
        CameraPath().pose(0.0)


def test_times_must_not_decrease():
    a = Camera.look_at([0, -3, 0], [0, 0, 0], [0, 0, 1], 320, 240)
    with pytest.raises(ValueError, match="non-decreasing"):
        CameraPath((Keyframe(1.0, a), Keyframe(0.5, a)))


def test_file_round_trip(tmp_path):
    path = ring_path()
    file = tmp_path / "path.json"
    path.save(file)
    data = json.loads(file.read_text())
    assert data["version"] == PATH_FILE_VERSION
    assert set(data["keyframes"][0]) == {"time", "camera"}
    assert set(data["keyframes"][0]["camera"]) == {
        "width", "height", "fx", "fy", "cx", "cy", "world_to_camera",
    }  # fmt: skip
    loaded = CameraPath.load(file)
    for a, b in zip(loaded.keyframes, path.keyframes, strict=True):
        assert a.time == b.time
        np.testing.assert_array_equal(a.camera.world_to_camera, b.camera.world_to_camera)
        assert (a.camera.fx, a.camera.cy) == (b.camera.fx, b.camera.cy)


def test_the_bench_reads_the_same_file(tmp_path):
    from viewer.path_cameras import path_file

    path = ring_path()
    file = tmp_path / "path.json"
    path.save(file)
    cameras = path_file(file, 320, 240, len(path.keyframes))
    for camera, key in zip(cameras, path.keyframes, strict=True):
        np.testing.assert_allclose(camera.world_to_camera, key.camera.world_to_camera, atol=1e-6)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not a JSON camera path"),
        ('{"version": 2, "keyframes": []}', "version 1"),
        ("[1, 2]", "version 1"),
        ('{"version": 1, "keyframes": [{"time": 0}]}', "bad keyframe"),
        ('{"version": 1, "keyframes": [{"time": "x", "camera": {}}]}', "bad keyframe"),
        (
            '{"version": 1, "keyframes": [{"time": 0, "camera": {"width": 4, "height": 4, '
            '"fx": 1, "fy": 1, "world_to_camera": [[1, 0], [0, 1]]}}]}',
            "bad keyframe",
        ),
    ],
)
def test_bad_files_raise_scene_errors_naming_the_file(tmp_path, text, problem):
    file = tmp_path / "bad.json"
    file.write_text(text)
    with pytest.raises(SceneError, match=problem) as info:
        CameraPath.load(file)
    assert "bad.json" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SceneError, match="no such file"):
        CameraPath.load(tmp_path / "nope.json")


def test_the_window_player_records_plays_to_the_end_and_round_trips(tmp_path):
    from viewer.app.path_player import PathPlayer

    player = PathPlayer()
    keys = ring_path().keyframes
    player.add(keys[0].camera, 1.0)
    assert "two keyframes" in player.play() and not player.playing
    assert player.add(keys[1].camera, 2.0) == "keyframe 2 at 2.0 s"
    assert player.play() == "" and player.playing
    assert player.camera(32, 24) is not None
    assert player.advance(1.0) is None and player.playing
    end = player.advance(5.0)  # past the end: stops at the last pose
    assert end is not None and not player.playing and player.camera(32, 24) is None
    np.testing.assert_allclose(end.eye, player.path.pose(player.path.duration).eye)
    file = tmp_path / "path.json"
    assert player.save(str(file)) == f"saved 2 keyframes to {file}"
    player.clear()
    assert player.load(str(file)) == f"loaded 2 keyframes from {file}"
    assert player.save(str(file))  # a path loaded in the window can be saved back
    with pytest.raises(SceneError):
        player.load(str(tmp_path / "missing.json"))
