"""`splatscope render --path`: a camera path as an H.264 video or a folder of PNG frames."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.cli import main
from viewer.formats import save_scene

W, H = 64, 48


@pytest.fixture(scope="module")
def path_file(tmp_path_factory) -> Path:
    """Three keyframes 1 s apart on the built-in scene's orbit, saved as the viewer saves them."""
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.camera_path import CameraPath
    from viewer.path_cameras import camera_path

    path = CameraPath()
    for camera in camera_path("orbit", load_scene_or_builtin(None), 128, 96, 6)[:3]:
        path = path.appended(camera, 1.0)
    file = tmp_path_factory.mktemp("path") / "path.json"
    path.save(file)
    return file


def decoded(video: Path) -> list[np.ndarray]:
    """The frames of a video as [H, W, 3] uint8 RGB, decoded by the library that wrote them."""
    import av

    with av.open(str(video)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def render_keyframe(path_file: Path, index: int, out: Path) -> None:
    """`render --camera PATH --camera-index N` at the test size."""
    args = ["render", "--camera", str(path_file), "--camera-index", str(index)]
    assert main([*args, "--width", str(W), "--height", str(H), "--out", str(out)]) == 0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def test_video_decodes_to_its_frames_and_starts_at_the_first_keyframe(tmp_path, path_file):
    from PIL import Image

    video = tmp_path / "path.mp4"
    args = ["render", "--path", str(path_file), "--frames", "8", "--width", str(W)]
    assert main([*args, "--height", str(H), "--out", str(video)]) == 0
    frames = decoded(video)
    assert len(frames) == 8 and all(f.shape == (H, W, 3) for f in frames)
    single = tmp_path / "first.png"
    render_keyframe(path_file, 0, single)
    reference = np.asarray(Image.open(single).convert("RGB"))
    # yuv420p halves the chroma resolution: at 64x48 the splats' coloured edges cost most
    assert psnr(frames[0], reference) > 28.0
    assert np.abs(frames[0].astype(int) - reference).mean() < 4.0
    assert psnr(frames[-1], reference) < psnr(frames[0], reference) - 6.0  # the path moved
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_video_rate_and_colour_tags(tmp_path, path_file):
    import av

    video = tmp_path / "slow.mp4"
    args = ["render", "--path", str(path_file), "--frames", "3", "--fps", "12.5"]
    assert main([*args, "--width", str(W), "--height", str(H), "--out", str(video)]) == 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 12.5
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.colorspace == 1  # BT.709


def test_frame_folder_holds_the_same_pngs_as_render_camera(tmp_path, path_file):
    folder = tmp_path / "frames"
    args = ["render", "--path", str(path_file), "--frames", "5", "--width", str(W)]
    assert main([*args, "--height", str(H), "--out", f"{folder}/"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"frame_{i:05d}.png" for i in range(5)]
    single = tmp_path / "key1.png"
    render_keyframe(path_file, 1, single)  # the frames are at t = 0, 0.5, 1, 1.5, 2 s
    assert (folder / "frame_00002.png").read_bytes() == single.read_bytes()
    # a second run replaces the earlier run's folder whole
    assert main([*args[:4], "2", *args[5:], "--height", str(H), "--out", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == names[:2]


def test_a_path_file_plays_at_fps_without_frames(tmp_path, path_file, capsys):
    folder = tmp_path / "played"
    args = ["render", "--path", str(path_file), "--fps", "4", "--width", "32", "--height", "24"]
    assert main([*args, "--out", f"{folder}/"]) == 0
    assert len(os.listdir(folder)) == 9  # 2 s at 4 fps, both ends
    assert "rendered 9 PNG frames" in capsys.readouterr().out


def test_orbit_video_size_from_one_side(tmp_path, capsys):
    video = tmp_path / "orbit.mp4"
    args = ["render", "--path", "orbit", "--frames", "2", "--width", "50"]
    assert main([*args, "--out", str(video)]) == 0
    frames = decoded(video)
    assert len(frames) == 2 and frames[0].shape == (28, 50, 3)  # 1280x720's aspect, made even
    assert "at 50x28" in capsys.readouterr().out


def test_one_context_and_one_upload_for_all_frames(tmp_path, path_file, monkeypatch):
    import viewer.headless
    from viewer.render.gpu_scene import GpuScene

    calls = {"context": 0, "upload": 0}
    make_context, upload = viewer.headless.create_headless_context, GpuScene.from_scene.__func__

    def counting_context():
        calls["context"] += 1
        return make_context()

    def counting_upload(cls, *args, **kwargs):
        calls["upload"] += 1
        return upload(cls, *args, **kwargs)

    monkeypatch.setattr(viewer.headless, "create_headless_context", counting_context)
    monkeypatch.setattr(GpuScene, "from_scene", classmethod(counting_upload))
    args = ["render", "--path", str(path_file), "--frames", "6", "--width", "32"]
    assert main([*args, "--height", "24", "--out", str(tmp_path / "v.mp4")]) == 0
    assert calls == {"context": 1, "upload": 1}


@pytest.mark.parametrize("mode", ["video", "folder"])
def test_a_failed_render_keeps_the_old_output(tmp_path, path_file, monkeypatch, mode):
    from viewer.headless import HeadlessRenderer

    out = tmp_path / ("v.mp4" if mode == "video" else "frames")
    if mode == "video":
        out.write_bytes(b"old video")
    else:
        out.mkdir()
        (out / "frame_00000.png").write_bytes(b"old frame")
    rendered = []
    real_render = HeadlessRenderer.render

    def failing(self, camera):
        if len(rendered) == 3:
            raise RuntimeError("the GPU fell over")
        rendered.append(camera)
        return real_render(self, camera)

    monkeypatch.setattr(HeadlessRenderer, "render", failing)
    args = ["render", "--path", str(path_file), "--frames", "6", "--width", "32"]
    with pytest.raises(RuntimeError, match="fell over"):
        main([*args, "--height", "24", "--out", str(out) + ("/" if mode == "folder" else "")])
    if mode == "video":
        assert out.read_bytes() == b"old video"
    else:
        assert os.listdir(out) == ["frame_00000.png"]
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no temporaries left


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--path", "orbit", "--out", "{tmp}/v.avi"], "with --path the output is a .mp4 video"),
        (["--path", "orbit", "--out", "{tmp}/v"], "with --path the output is a .mp4 video"),
        (["--path", "{tmp}/missing.json", "--out", "{tmp}/v.mp4"], "missing.json: no such file"),
        (["--path", "{tmp}/bad.json", "--out", "{tmp}/v.mp4"], "not a JSON camera path"),
        (["--path", "{tmp}/empty.json", "--out", "{tmp}/v.mp4"], "no keyframes"),
        (["--path", "orbit", "--out", "{tmp}/v.mp4", "--width", "65", "--height", "48"],
         "--width/--height: width 65 is odd: H.264 video (yuv420p) needs even sizes (e.g. 66x48)"),
        (["--path", "orbit", "--out", "{tmp}/v.mp4", "--height", "45"], "height 45 is odd"),
        (["--path", "orbit", "--out", "{tmp}/v.mp4", "--width", "16384", "--height", "16384"],
         "--width/--height: the H.264 encoder (libx264) refuses 16384x16384"),
        (["--path", "orbit", "--out", "{tmp}/v.mp4", "--out-npy", "{tmp}/x.npy"],
         "--out-npy and --path"),
        (["--path", "orbit", "--out", "{tmp}/v.mp4", "--camera", "{tmp}/bad.json"],
         "--camera and --path"),
        (["--path", "orbit"], "render --path needs --out"),
        (["--frames", "3", "--out", "{tmp}/x.png"], "--frames needs --path"),
        (["--fps", "24", "--out", "{tmp}/x.png"], "--fps needs --path"),
        (["--path", "orbit", "--fps", "0", "--out", "{tmp}/v.mp4"], "below the minimum"),
        (["--path", "orbit", "--frames", "0", "--out", "{tmp}/v.mp4"], "below the minimum"),
        (["{tmp}/s.ply", "--path", "cameras", "--out", "{tmp}/v.mp4"], "the scene has no cameras"),
        (["--path", "orbit", "--out", "{tmp}/nowhere/v.mp4"], "no such folder"),
        (["--path", "orbit", "--out", "{tmp}/notes/"], "holds files other than frame PNGs"),
        (["--path", "orbit", "--out", "{tmp}/bad.json/"], "is a file, expected a folder"),
        (["--path", "{tmp}/long.json", "--fps", "1000", "--out", "{tmp}/v.mp4"],
         "make 100,000,001 frames"),
    ],
)  # fmt: skip
def test_bad_path_render_is_one_line(tmp_path, capsys, args, fragment):
    (tmp_path / "bad.json").write_text("not json")
    (tmp_path / "empty.json").write_text('{"version": 1, "keyframes": []}')
    camera = {"width": 8, "height": 8, "fx": 8, "fy": 8, "cx": 4, "cy": 4,
              "world_to_camera": np.eye(4).tolist()}  # fmt: skip
    keyframes = [{"time": t, "camera": camera} for t in (0.0, 100_000.0)]
    (tmp_path / "long.json").write_text(json.dumps({"version": 1, "keyframes": keyframes}))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    save_scene(random_scene(np.random.default_rng(1), 50, sh_degree=0), tmp_path / "s.ply")
    before = sorted(os.listdir(tmp_path))
    assert main(["render", *(a.replace("{tmp}", str(tmp_path)) for a in args)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert sorted(os.listdir(tmp_path)) == before  # nothing written
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_bad_path_render_in_its_own_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "render", "--path", "spiral", "--out",
         str(tmp_path / "v.webm")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "v.webm" in result.stderr


def test_video_helpers():
    from viewer.video import check_video, frame_name, odd_side

    assert odd_side(64, 48) is None
    assert "width 63 and height 47 are odd" in str(odd_side(63, 47))
    assert frame_name(7, 8) == "frame_00007.png"
    assert frame_name(7, 1_000_000) == "frame_000007.png"
    check_video(64, 48, 29.97)
    with pytest.raises(ValueError, match="odd"):
        check_video(64, 47, 30.0)
    with pytest.raises(ValueError, match="positive"):
        check_video(64, 48, 0.0)
