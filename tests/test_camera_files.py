"""Cameras the renderer can use (Camera validation), camera files of the three kinds
(single camera, INRIA cameras.json, the viewer's camera path files), `view --camera`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DONUT_CAMERA
from viewer.camera import MAX_IMAGE_SIDE, Camera
from viewer.camera_path import CameraPath
from viewer.errors import SceneError
from viewer.formats.camera_files import load_camera_file, save_camera_file
from viewer.render.context import DeviceInfo, ImageSizeError


def camera_json(**changes) -> dict:
    return {**DONUT_CAMERA, **changes}


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# -- Camera validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"width": 1e30}, "width must be 1 to 65536"),
        ({"width": MAX_IMAGE_SIDE + 1}, "width must be 1 to 65536"),
        ({"height": 0}, "height must be 1 to 65536"),
        ({"width": -5}, "width must be 1 to 65536"),
        ({"width": 48.5}, "whole number"),
        ({"width": float("nan")}, "width must be 1 to 65536"),
        ({"width": "48"}, "width must be a number"),
        ({"width": True}, "width must be a number"),
        ({"fx": float("inf")}, "fx must be finite"),
        ({"fy": 0.0}, "fy must be positive"),
        ({"fx": -3.0}, "fx must be positive"),
        ({"cx": float("nan")}, "cx must be finite"),
        ({"cy": None}, "cy must be a number"),
        ({"world_to_camera": np.eye(3).tolist()}, "4x4"),
        ({"world_to_camera": [[1, 0], [0, 1, 2]]}, "4x4"),
        ({"world_to_camera": np.diag([1.0, 0.0, 1.0, 1.0]).tolist()}, "not orthonormal"),
        ({"world_to_camera": np.diag([2.0, 2.0, 2.0, 1.0]).tolist()}, "not orthonormal"),
        ({"world_to_camera": np.diag([-1.0, 1.0, 1.0, 1.0]).tolist()}, "mirror"),
        ({"world_to_camera": [[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}, "orthon"),
        ({"world_to_camera": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]}, "last row"),
        ({"world_to_camera": np.full((4, 4), np.inf).tolist()}, "finite"),
    ],
)
def test_unusable_cameras_are_refused_naming_the_field(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        Camera.from_dict(camera_json(**changes))


def test_usable_cameras_are_normalised():
    camera = Camera.from_dict(camera_json(width=48.0, height=np.int64(36), fx=24))
    assert (camera.width, camera.height) == (48, 36)
    assert type(camera.width) is int and type(camera.fx) is float
    rounded = np.round(Camera.look_at((1, 2, 3), (0, 0, 0)).world_to_camera, 4)
    Camera(48, 36, 24.0, 24.0, 24.0, 18.0, rounded)  # 4 decimals still read as a rotation


def test_missing_fields_are_named():
    with pytest.raises(ValueError, match="no 'fy', 'world_to_camera'"):
        Camera.from_dict({"width": 4, "height": 4, "fx": 1.0})
    with pytest.raises(ValueError, match="JSON object"):
        Camera.from_dict([1, 2])


def test_resizing_past_the_limit_is_refused():
    with pytest.raises(ValueError, match="width"):
        Camera.from_dict(DONUT_CAMERA).resized(MAX_IMAGE_SIDE * 2, 36)


# -- the GL device's limits ----------------------------------------------------------------------


def test_device_limits_bound_the_image_size():
    device = DeviceInfo("gpu", "v", "4.6", 1 << 30, 65535, 100, (80, 120))
    assert device.max_image_size == (80, 100)
    device.check_image_size(80, 100)
    for size in ((81, 10), (10, 101)):
        with pytest.raises(ImageSizeError, match="GL_MAX_TEXTURE_SIZE 100"):
            device.check_image_size(*size)
    DeviceInfo("old", "v", "4.6", 1 << 30, 65535).check_image_size(10**6, 10**6)  # unknown


def test_the_context_reports_its_limits(gl_ctx):
    device = DeviceInfo.of(gl_ctx)
    assert device.max_texture_size >= 1024 and min(device.max_viewport) >= 1024


# -- camera files --------------------------------------------------------------------------------


def test_a_single_camera_file(tmp_path):
    camera = load_camera_file(write(tmp_path / "c.json", DONUT_CAMERA))
    assert (camera.width, camera.fx) == (48, 24.0)
    with pytest.raises(SceneError, match="single camera"):
        load_camera_file(tmp_path / "c.json", 1)


def test_a_saved_camera_reads_back_the_same(tmp_path):
    camera = Camera.look_at((0.4, -0.3, 0.25), (0, 0, 0), (0, 0, 1), 640, 360, 42.0)
    path = tmp_path / "view.json"
    write(path, "an older file")
    save_camera_file(path, camera)
    read = load_camera_file(path)
    assert (read.width, read.height) == (640, 360)
    np.testing.assert_allclose([read.fx, read.fy, read.cx, read.cy],
                               [camera.fx, camera.fy, camera.cx, camera.cy])  # fmt: skip
    np.testing.assert_allclose(read.world_to_camera, camera.world_to_camera)
    assert [p.name for p in tmp_path.iterdir()] == ["view.json"]  # no temporary file left


def test_an_inria_cameras_json_entry(tmp_path):
    entries = [
        {"id": i, "img_name": f"img{i}", "width": 40 + i, "height": 30, "fx": 20.0, "fy": 20.0,
         "position": [0.0, 0.0, float(i)], "rotation": np.eye(3).tolist()}
        for i in range(3)
    ]  # fmt: skip
    path = write(tmp_path / "cameras.json", entries)
    assert load_camera_file(path).width == 40
    assert load_camera_file(path, 2).width == 42
    assert load_camera_file(path, -1).width == 42
    with pytest.raises(SceneError, match=r"index 3 is out of range: the file has 3 cameras"):
        load_camera_file(path, 3)
    entries[1]["rotation"] = np.diag([1.0, 1.0, 0.0]).tolist()
    with pytest.raises(SceneError, match="camera 1 is malformed"):
        load_camera_file(write(path, entries), 0)


def test_a_camera_path_file_keyframe(tmp_path):
    first = Camera.from_dict(DONUT_CAMERA)
    second = Camera.look_at((0, -1, 0.5), (0, 0, 0), (0, 0, 1), 64, 48, name="k1")
    path = tmp_path / "path.json"
    CameraPath().appended(first, 1.0).appended(second, 2.0).save(path)
    assert load_camera_file(path).width == 48
    chosen = load_camera_file(path, 1)
    assert chosen.width == 64
    np.testing.assert_allclose(chosen.world_to_camera, second.world_to_camera)
    with pytest.raises(SceneError, match="the file has 2 keyframes"):
        load_camera_file(path, 2)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('"hello"', "not a camera file: expected"),
        ("{not json", "not a JSON camera file"),
        ("[" * 100_000, "not a JSON camera file"),
        ('{"version": 9, "keyframes": []}', "not a camera path file of version 1"),
        ('{"version": 1, "keyframes": [{"time": 0, "camera": {"width": 4}}]}', "bad keyframe"),
        ('{"version": 1, "keyframes": []}', "holds no keyframes"),
        ("[]", "holds no cameras"),
        (json.dumps(camera_json(width=1e30)), "width must be 1 to 65536"),
        (json.dumps(camera_json(cx=math.nan)), "cx must be finite"),
    ],
)
def test_anything_else_is_one_line_naming_the_file(tmp_path, content, fragment):
    path = write(tmp_path / "bad.json", content)
    with pytest.raises(SceneError, match=fragment) as caught:
        load_camera_file(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_missing_folders_and_fifos_are_refused(tmp_path):
    with pytest.raises(SceneError, match="no such file"):
        load_camera_file(tmp_path / "nope.json")
    with pytest.raises(SceneError, match="directory"):
        load_camera_file(tmp_path)
    fifo = tmp_path / "fifo.json"
    os_mkfifo = getattr(__import__("os"), "mkfifo", None)
    if os_mkfifo is not None:
        os_mkfifo(fifo)
        with pytest.raises(SceneError, match="FIFO"):
            load_camera_file(fifo)


# -- view --camera: the window opens at the camera -----------------------------------------------

VIEW_SCRIPT = """
import json, sys
import numpy as np
from viewer.app import app as app_module

seen = {}

def run(self):  # instead of the event loop: note where the view is, then close
    w, h = self.window.framebuffer_size
    seen["eye"] = self.camera(w, h).position.tolist()
    seen["home"] = self.controller.home.position.tolist()
    seen["up"] = self.controller.up_axis
    self.release()

app_module.ViewerApp.run = run
from viewer.cli import main

code = main(sys.argv[1:])
print(json.dumps({"code": code, **seen}))
"""


@pytest.mark.window
def test_view_opens_at_the_camera_of_a_camera_file(tmp_path):
    from tests.app_driver import XServer, missing_tools

    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())}")
    camera = Camera.look_at((0.4, -0.3, 0.25), (0, 0, 0), (0, 0, 1), 64, 48, 40.0)
    path = tmp_path / "path.json"
    CameraPath().appended(Camera.from_dict(DONUT_CAMERA), 1.0).appended(camera, 1.0).save(path)
    server = XServer()
    try:
        args = ["view", "--camera", str(path), "--camera-index", "1", "--up", "-Y"]
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(VIEW_SCRIPT), *args, "--width", "160",
             "--height", "120"],
            env=server.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0 and seen["up"] == "-Y", result.stderr
    np.testing.assert_allclose(seen["eye"], camera.position, atol=1e-9)
    np.testing.assert_allclose(seen["home"], camera.position, atol=1e-9)


def test_view_checks_the_camera_file_before_the_display(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    bad = write(tmp_path / "bad.json", camera_json(fx=-1))
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "view", "--camera", str(bad)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "fx must be positive" in lines[0]
