"""Training cameras and SfM points read to show over a scene (viewer.formats.context_files)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from tests.conftest import random_scene
from tests.hostile_corpus import _points as write_points_ply
from tests.train_helpers import write_colmap
from viewer.camera import Camera
from viewer.cli import main
from viewer.errors import EXIT_BAD_INPUT, SceneError
from viewer.formats import load_scene, save_scene
from viewer.formats.cameras_json import write_inria_cameras
from viewer.formats.context_files import MAX_POINTS, display_points, load_context


def _ring(count: int = 5, width: int = 64, height: int = 48) -> list[Camera]:
    return [
        Camera.look_at((3.0 * np.cos(a), 3.0 * np.sin(a), 1.0), (0.0, 0.0, 0.0), width=width,
                       height=height, name=f"view_{i}")
        for i, a in enumerate(np.linspace(0.0, 2.0 * np.pi, count, endpoint=False))
    ]  # fmt: skip


def _same_cameras(read: tuple[Camera, ...], written: list[Camera]) -> None:
    assert len(read) == len(written)
    for got, want in zip(read, written, strict=True):
        np.testing.assert_allclose(got.world_to_camera, want.world_to_camera, atol=1e-9)
        assert (got.width, got.height) == (want.width, want.height)
        np.testing.assert_allclose((got.fx, got.fy, got.cx, got.cy),
                                   (want.fx, want.fy, want.cx, want.cy))  # fmt: skip


@pytest.mark.parametrize("binary", [True, False])
def test_a_colmap_model_gives_its_cameras_and_points(tmp_path, binary):
    cameras = _ring()
    images = [np.zeros((48, 64, 3), np.uint8)] * len(cameras)
    xyz = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    write_colmap(tmp_path, cameras, images, (xyz, np.zeros((30, 3), np.uint8)), binary)
    suffix = ".bin" if binary else ".txt"
    for path in (
        tmp_path,
        tmp_path / "sparse" / "0",
        tmp_path / "sparse" / "0" / f"images{suffix}",
    ):
        context = load_context(path)
        _same_cameras(context.cameras, cameras)
        assert [c.name for c in context.cameras] == [f"view_{i}.png" for i in range(5)]
        np.testing.assert_allclose(context.points, xyz, rtol=1e-6)


def test_a_distorted_colmap_camera_still_shows_as_its_pinhole(tmp_path):
    cameras = _ring(2)
    c = cameras[0]
    write_colmap(tmp_path, cameras, [np.zeros((48, 64, 3), np.uint8)] * 2, None, model="OPENCV",
                 params=(c.fx, c.fy, c.cx, c.cy, 0.1, 0.0, 0.0, 0.0))  # fmt: skip
    context = load_context(tmp_path)
    assert len(context.cameras) == 2 and context.points is None
    assert context.cameras[0].fx == pytest.approx(c.fx)


def _transforms_frames(cameras: list[Camera]) -> list[dict]:
    frames = []
    for camera in cameras:
        c2w = camera.camera_to_world.copy()
        c2w[:3, 1:3] *= -1.0  # OpenCV -> OpenGL axes
        frames.append({"file_path": f"images/{camera.name}", "transform_matrix": c2w.tolist()})
    return frames


def test_transforms_cameras_need_no_images_when_w_and_h_are_given(tmp_path):
    cameras = _ring()
    c = cameras[0]
    meta = {"fl_x": c.fx, "fl_y": c.fy, "cx": c.cx, "cy": c.cy, "w": 64, "h": 48}
    path = tmp_path / "transforms.json"
    path.write_text(json.dumps({**meta, "frames": _transforms_frames(cameras)}))
    for given in (path, tmp_path):
        _same_cameras(load_context(given).cameras, cameras)


def test_transforms_sizes_come_from_the_first_image_header(tmp_path):
    cameras = _ring(3)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "images" / "view_0.png")  # the others are absent
    document = {"camera_angle_x": 2 * np.arctan(32.0 / cameras[0].fx),
                "frames": _transforms_frames(cameras)}  # fmt: skip
    (tmp_path / "transforms.json").write_text(json.dumps(document))
    _same_cameras(load_context(tmp_path).cameras, cameras)


def test_a_nerf_synthetic_folder_gives_both_splits_and_its_points(tmp_path):
    cameras = _ring(4)
    meta = {"fl_x": cameras[0].fx, "w": 64, "h": 48}
    for name, part in (("train", cameras[:3]), ("test", cameras[3:])):
        document = {**meta, "frames": _transforms_frames(part)}
        (tmp_path / f"transforms_{name}.json").write_text(json.dumps(document))
    xyz = np.random.default_rng(1).normal(size=(20, 3))
    write_points_ply(tmp_path / "points3d.ply", xyz)
    context = load_context(tmp_path)
    _same_cameras(context.cameras, cameras)
    np.testing.assert_allclose(context.points, xyz, rtol=1e-6)


def test_a_training_output_brings_its_cameras_and_input_points(tmp_path):
    ply = tmp_path / "point_cloud" / "iteration_7" / "point_cloud.ply"
    ply.parent.mkdir(parents=True)
    save_scene(random_scene(np.random.default_rng(0), 50), ply)
    write_inria_cameras(tmp_path / "cameras.json", _ring())
    xyz = np.random.default_rng(2).normal(size=(10, 3))
    write_points_ply(tmp_path / "input.ply", xyz)
    scene = load_scene(tmp_path)
    assert len(scene.cameras) == 5
    np.testing.assert_allclose(scene.points, xyz, rtol=1e-6)
    np.testing.assert_allclose(load_context(tmp_path).points, xyz, rtol=1e-6)
    (tmp_path / "input.ply").write_bytes(b"ply\nformat ascii 1.0\n")
    with pytest.warns(UserWarning, match="input.ply.*without its SfM points"):
        scene = load_scene(tmp_path)
    assert scene.points is None and len(scene.cameras) == 5


def test_display_points_are_finite_and_bounded():
    xyz = np.random.default_rng(3).normal(size=(MAX_POINTS + 500, 3))
    xyz[7] = np.nan
    kept = display_points(xyz)
    assert kept.shape == (MAX_POINTS, 3) and kept.dtype == np.float32
    assert np.isfinite(kept).all()
    np.testing.assert_array_equal(kept, display_points(xyz))  # the same on every load


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "c.json").write_text("{broken"), "not a cameras file"),
        (lambda d: (d / "c.json").write_text('{"width": 4}'), "neither a list of cameras"),
        (lambda d: (d / "c.json").write_text('[{"id": 0}]'), "camera 0 has no"),
        (lambda d: (d / "c.json").write_text('{"w": 4, "h": 4, "frames": [{"file_path": "a"}]}'),
         "no fl_x|neither fl_x"),
        (lambda d: (d / "c.json").mkdir(), "holds no cameras"),
        (lambda d: None, "no such file"),
    ],
)  # fmt: skip
def test_bad_cameras_given_to_view_end_with_one_line_and_exit_2(tmp_path, capsys, make, message):
    make(tmp_path)
    with pytest.raises(SceneError, match=message):
        load_context(tmp_path / "c.json")
    with warnings.catch_warnings():
        assert main(["view", "--cameras", str(tmp_path / "c.json")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.json" in err and "Traceback" not in err
    assert err.startswith("splatscope: error:")


def test_a_broken_colmap_file_is_named(tmp_path):
    cameras = _ring(2)
    write_colmap(tmp_path, cameras, [np.zeros((48, 64, 3), np.uint8)] * 2, None)
    images = tmp_path / "sparse" / "0" / "images.bin"
    images.write_bytes(images.read_bytes()[:40])
    with pytest.raises(SceneError, match=r"images\.bin: declares 2 records"):
        load_context(tmp_path)
