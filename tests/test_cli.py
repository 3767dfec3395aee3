"""The `splatscope` command: headless render, info, convert, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DONUT_CAMERA, random_scene, scene_path
from viewer.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The command in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "viewer", *args], capture_output=True, text=True, timeout=300
    )


def test_render_png_and_npy_match_reference(tmp_path):
    from viewer.camera import Camera
    from viewer.formats import load_scene
    from viewer.reference import render_scene_reference
    from viewer.settings import RenderSettings

    donut = scene_path("donut.ply")
    camera_file = tmp_path / "camera.json"
    camera_file.write_text(json.dumps(DONUT_CAMERA))
    out, npy = tmp_path / "out.png", tmp_path / "out.npy"
    result = run_cli(
        "render", str(donut), "--camera", str(camera_file), "--out", str(out),
        "--out-npy", str(npy), "--background", "1,1,1", "--backend", "tiles", "--sort", "gpu",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = np.load(npy)
    assert image.shape == (36, 48, 3) and image.dtype == np.float32
    reference = render_scene_reference(
        load_scene(donut), Camera.from_dict(DONUT_CAMERA), RenderSettings(background=(1, 1, 1))
    )
    assert 10 * np.log10(1 / np.mean((image - reference) ** 2)) >= 40
    from PIL import Image

    assert Image.open(out).size == (48, 36)


def test_info_and_convert_round_trip(tmp_path, capsys):
    donut = scene_path("donut.ply")
    assert main(["info", str(donut)]) == 0
    printed = capsys.readouterr().out
    assert "45,624" in printed and "sh degree    0" in printed
    out = tmp_path / "donut.splat"
    assert main(["convert", str(donut), str(out)]) == 0
    assert out.stat().st_size == 45_624 * 32


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["info", "missing.ply"], "missing.ply"),
        (["render", "missing.ply", "--out", "x.png"], "missing.ply"),
        (["convert", "missing.ply", "out.splat"], "missing.ply"),
        (["info", "{bad}"], "bad.ply"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n")
    args = [a.replace("{bad}", str(bad)) for a in args]
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_bad_setting_value_exit_2():
    result = run_cli("render", "x.ply", "--sh-degree", "7", "--out", "x.png")
    assert result.returncode == 2
    assert "sh_degree" in result.stderr and "Traceback" not in result.stderr


def test_render_takes_a_keyframe_of_a_camera_path_file(tmp_path):
    from viewer.camera import Camera
    from viewer.camera_path import CameraPath

    donut = scene_path("donut.ply")
    first = Camera.from_dict(DONUT_CAMERA)
    second = Camera.look_at((0.25, -0.25, 0.2), (0, 0, 0.03), (0, 0, 1), 40, 30)
    path = tmp_path / "path.json"
    CameraPath().appended(first, 1.0).appended(second, 1.0).save(path)
    single = tmp_path / "second.json"
    single.write_text(json.dumps(second.to_dict()))
    images = []
    for camera_args in (["--camera", str(path), "--camera-index", "1"], ["--camera", str(single)]):
        npy = tmp_path / f"view{len(images)}.npy"
        assert main(["render", str(donut), *camera_args, "--out-npy", str(npy)]) == 0
        images.append(np.load(npy))
    assert images[0].shape == (30, 40, 3) and images[0].max() > 0.2
    np.testing.assert_allclose(images[0], images[1], atol=2e-3)  # sort ties may differ


def test_render_frames_the_scene_with_the_up_axis_given(tmp_path):
    from viewer.formats import load_scene
    from viewer.framing import default_camera
    from viewer.headless import render_scene

    donut = scene_path("donut.ply")
    npy = tmp_path / "side.npy"
    args = ["render", str(donut), "--up", "-Y", "--width", "40", "--height", "30"]
    assert main([*args, "--out-npy", str(npy)]) == 0
    camera = default_camera(load_scene(donut), 40, 30, "-Y")
    np.testing.assert_allclose(np.load(npy), render_scene(load_scene(donut), camera), atol=2e-3)


def test_render_takes_the_pruning_settings_and_presets_as_view_does(tmp_path, monkeypatch):
    """`render --keep`, `render --preset` (the viewer's flags): the image is the session's."""
    from viewer.formats import save_scene

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("EGL_PLATFORM", "surfaceless")
    scene = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(4), 400, sh_degree=1), scene)
    size = ["--width", "48", "--height", "32"]
    images = {}
    for name, flags in {
        "full": [],
        "pruned": ["--keep", "0.3", "--prune.views", "2"],
        "preset": ["--preset", "balanced", "--prune.views", "2"],
    }.items():
        out = tmp_path / f"{name}.npy"
        assert main(["render", str(scene), "--out-npy", str(out), *size, *flags]) == 0
        images[name] = np.load(out)
    assert np.abs(images["pruned"] - images["full"]).max() > 0.05
    assert np.abs(images["preset"] - images["full"]).max() > 0.0


def test_sog_and_glb_through_convert_and_info(tmp_path, capsys):
    donut = scene_path("donut.ply")
    sog, glb, folder = tmp_path / "donut.sog", tmp_path / "donut.glb", tmp_path / "unbundled"
    assert main(["convert", str(donut), str(sog)]) == 0
    printed = capsys.readouterr().err
    assert "Morton curve" in printed and "256-entry codebook" in printed
    assert main(["convert", str(sog), str(glb)]) == 0
    assert "scales stored linear" in capsys.readouterr().err
    folder.mkdir()
    assert main(["convert", str(glb), str(folder / "meta.json")]) == 0
    assert main(["convert", str(folder), str(tmp_path / "back.ply")]) == 0
    for path, kind in [
        (sog, "PlayCanvas SOG v2 (bundled .sog)"),
        (glb, "glTF 2.0 binary (.glb, KHR_gaussian_splatting)"),
        (folder, "PlayCanvas SOG v2 (meta.json folder)"),
    ]:
        capsys.readouterr()
        assert main(["info", str(path)]) == 0
        printed = capsys.readouterr().out
        assert kind in printed and "45,624" in printed


@pytest.mark.parametrize("name", ["bad.sog", "bad.glb", "meta.json"])
def test_bad_sog_and_glb_are_one_line_and_exit_2(tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(b"PK\x03\x04 not a zip" if name == "bad.sog" else b"glTF\x02\0\0\0" + bytes(9))
    if name == "meta.json":
        bad.write_text('{"version": 2, "count": 10}')
    result = run_cli("info", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]


def test_a_flag_may_be_spelt_as_its_settings_key():
    """`--fov.periphery_scale` (how bench configs name it) is `--fov.periphery-scale`."""
    from viewer.cli import parse_arguments

    args = parse_arguments(["render", "--fov.periphery_scale", "0.5", "--out=/tmp/a_b.png"])
    assert getattr(args, "fov.periphery_scale") == 0.5 and args.out == "/tmp/a_b.png"
    args = parse_arguments(["render", "--lod.target_fps=24", "--out", "x_y.png"])
    assert getattr(args, "lod.target_fps") == 24.0 and args.out == "x_y.png"
