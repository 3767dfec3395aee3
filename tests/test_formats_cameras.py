"""INRIA cameras.json parsing and its automatic attachment to training outputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.formats_helpers import stored_scene
from viewer.errors import SceneError
from viewer.formats import load_inria_cameras, load_scene, parse_inria_cameras, save_scene
from viewer.formats.camera_files import load_camera_file


def _entry(index: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # camera-to-world, orthonormal
    return {
        "id": index,
        "img_name": f"frame_{index:04d}",
        "width": 800,
        "height": 600,
        "position": rng.normal(size=3).tolist(),
        "rotation": rotation.tolist(),
        "fx": 700.0,
        "fy": 710.0,
    }


def test_camera_matrices_invert_the_pose() -> None:
    entries = [_entry(i, seed=i) for i in range(3)]
    cameras = parse_inria_cameras(entries, "cameras.json")
    assert [c.name for c in cameras] == ["frame_0000", "frame_0001", "frame_0002"]
    for camera, entry in zip(cameras, entries, strict=True):
        rotation, position = np.array(entry["rotation"]), np.array(entry["position"])
        np.testing.assert_allclose(camera.position, position, atol=1e-12)
        np.testing.assert_allclose(camera.world_to_camera[:3, :3], rotation.T, atol=1e-12)
        # the camera's own +z axis (column 2 of camera-to-world) is straight ahead
        ahead = camera.world_to_camera @ np.append(position + rotation[:, 2], 1.0)
        np.testing.assert_allclose(ahead[:3], [0, 0, 1], atol=1e-12)
        assert (camera.cx, camera.cy, camera.fx, camera.fy) == (400.0, 300.0, 700.0, 710.0)


def test_load_camera_file_picks_an_inria_camera(tmp_path: Path) -> None:
    path = tmp_path / "cameras.json"
    path.write_text(json.dumps([_entry(i, seed=i) for i in range(2)]))
    assert load_camera_file(path, index=1).name == "frame_0001"
    assert [c.name for c in load_inria_cameras(path)] == ["frame_0000", "frame_0001"]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda e: e.pop("fx"), "camera 1 has no 'fx'"),
        (lambda e: e.update(rotation=[[1, 0], [0, 1]]), "camera 1 is malformed"),
        (lambda e: e.update(width="wide"), "camera 1 is malformed"),
        (lambda e: e.update(fy=-1.0), "camera 1 is malformed"),
        (lambda e: e.update(position=[0, float("nan"), 0]), "camera 1 is malformed"),
    ],
)
def test_malformed_entries(edit, problem: str) -> None:
    entries = [_entry(0, 0), _entry(1, 1)]
    edit(entries[1])
    with pytest.raises(SceneError, match=problem):
        parse_inria_cameras(entries, "cameras.json")


@pytest.mark.parametrize(
    ("text", "problem"), [("{not json", "not a JSON file"), ('{"a": 1}', "expected a JSON list")]
)
def test_bad_camera_files(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "cameras.json").write_text(text)
    with pytest.raises(SceneError, match=problem):
        load_inria_cameras(tmp_path / "cameras.json")


@pytest.fixture
def training_output(tmp_path: Path) -> Path:
    """An INRIA output folder with two iterations (7000: 5 Gaussians, 30000: 8) and cameras."""
    for iteration, count in ((7000, 5), (30000, 8)):
        folder = tmp_path / "point_cloud" / f"iteration_{iteration}"
        folder.mkdir(parents=True)
        save_scene(stored_scene(count, 1), folder / "point_cloud.ply")
    (tmp_path / "point_cloud" / "iteration_99999").mkdir()  # no point_cloud.ply inside
    (tmp_path / "cameras.json").write_text(json.dumps([_entry(i, seed=i) for i in range(4)]))
    return tmp_path


def test_folder_loads_the_latest_iteration_with_its_cameras(training_output: Path) -> None:
    scene = load_scene(training_output)
    assert scene.count == 8
    assert [c.name for c in scene.cameras] == [f"frame_{i:04d}" for i in range(4)]
    assert scene.source.endswith("iteration_30000/point_cloud.ply")


def test_ply_inside_a_training_output_gets_the_cameras(training_output: Path) -> None:
    scene = load_scene(training_output / "point_cloud" / "iteration_7000" / "point_cloud.ply")
    assert scene.count == 5 and len(scene.cameras) == 4


def test_broken_cameras_json_only_warns(training_output: Path) -> None:
    (training_output / "cameras.json").write_text("[{}]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_scene(training_output)
    assert scene.count == 8 and scene.cameras == ()
    assert len(caught) == 1 and "camera 0 has no" in str(caught[0].message)


def test_folder_without_point_cloud(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="not an INRIA training output"):
        load_scene(tmp_path)


def test_a_training_outputs_point_cloud_is_named_by_its_folder_and_iteration():
    from viewer.formats.inria_output import scene_name

    assert scene_name("/runs/bicycle/point_cloud/iteration_30000/point_cloud.ply") == (
        "bicycle (iteration 30000)"
    )
    assert scene_name("/scenes/garden.splat") == "garden.splat"
    assert scene_name("<built-in>") == "<built-in>"
