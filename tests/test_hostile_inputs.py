"""The command line's promise under hostile input: one line on stderr naming the file or flag and
the problem, exit code 2, no traceback, nothing written, nothing lost, and checks before work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DONUT_CAMERA, random_scene
from viewer.cli import main
from viewer.errors import EXIT_BAD_INPUT
from viewer.scene import GaussianScene

GOOD_CAMERA = {
    **DONUT_CAMERA,
    "world_to_camera": [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 3.0], [0, 0, 0, 1]],
}


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The command in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "viewer", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "EGL_PLATFORM": "surfaceless"},
    )  # fmt: skip


def assert_one_error_line(code: int, err: str, *fragments: str) -> str:
    """Exit code 2 and exactly one 'splatscope: error:' line holding every fragment."""
    lines = err.strip().splitlines()
    assert code == EXIT_BAD_INPUT, err
    assert len(lines) == 1, err
    assert lines[0].startswith("splatscope: error: "), err
    assert "usage:" not in err and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def fails(capsys: pytest.CaptureFixture, *args: str, fragments: tuple[str, ...] = ()) -> str:
    """main(args) in this process: one error line with `fragments`, nothing on stdout."""
    code = main(list(args))
    out, err = capsys.readouterr()
    assert out == ""
    return assert_one_error_line(code, err, *fragments)


@pytest.fixture
def small_scene(tmp_path) -> Path:
    """A 300-Gaussian SH-3 scene as an INRIA .ply."""
    from viewer.formats import save_scene

    path = tmp_path / "small.ply"
    save_scene(random_scene(np.random.default_rng(0), 300, sh_degree=3), path)
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- 1. one line means one line ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["render", "--width", "-5", "--out", "x.png"], ("argument --width", "-5")),
        (["render", "--width", "0", "--out", "x.png"], ("argument --width", "minimum 1")),
        (["render", "--height", "0", "--out", "x.png"], ("argument --height",)),
        (["render", "--width", "70000", "--out", "x.png"], ("--width", "maximum 65536")),
        (["render", "--width", "wide", "--out", "x.png"], ("--width", "'wide'")),
        (["bench", "--width", "0", "--out", "b"], ("argument --width", "minimum 16")),
        (["view", "--height", "0"], ("argument --height",)),
        (["render", "--sh-degree", "9", "--out", "x.png"], ("sh_degree", "[0, 3]")),
        (["view", "--keep", "2"], ("keep",)),
        (["render", "--bogus", "--out", "x.png"], ("--bogus", "splatscope render --help")),
        (["--bogus"], ("--bogus",)),
        (["render", "--up", "+W", "--out", "x.png"], ("--up", "+W")),
        (["convert", "a.ply", "b.spz", "--spz-version", "2"], ("--spz-version",)),
        (["convert", "a.ply"], ("output",)),
        (["render", "--camera-index", "1", "--out", "x.png"], ("--camera-index needs --camera",)),
        (["view", "--camera-index", "1"], ("--camera-index needs --camera",)),
        (["render"], ("--out",)),
        (["prune", "--keep", "0", "--out", "p.ply"], ("--keep 0",)),
        (["prune", "--out"], ("--out",)),
        (["info", "a.ply", "b.ply"], ("b.ply",)),
        (["rendr", "d.ply", "--out", "x.png"], ("unknown command 'rendr'", "did you mean render?")),
        (["xyzzy"], ("unknown command 'xyzzy'", "commands: view, render")),
        (["render", "d.ply", "--outl", "x.png"], ("unrecognized arguments: --outl",)),
        (["view", "--out", "x.png"], ("unrecognized arguments: --out",)),  # not --outline
        (["prune", "--threshold", "nan", "--out", "p.ply"], ("threshold", "not a finite number")),
        (["prune", "--threshold", "-1", "--out", "p.ply"], ("threshold", "outside [0.0, inf]")),
        (["prune", "--near-plane", "nan", "--out", "p.ply"], ("near_plane", "not a finite")),
        (["prune", "--near-plane", "-1", "--out", "p.ply"], ("near_plane", "outside [0.0, 10.0]")),
        (["render", "--splat-scale", "inf", "--out", "x.png"], ("splat_scale", "not a finite")),
        (["bench", "--out", "/proc/x"], ("--out /proc/x", "cannot write in the folder /proc")),
        (["convert", "a.ply", "/proc/a.ply"], ("cannot write in the folder /proc",)),
    ],
)
def test_argument_errors_are_one_line(capsys, tmp_path, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    fails(capsys, *args, fragments=fragments)
    assert not any(tmp_path.iterdir())


def test_an_argument_error_is_one_line_from_the_shell_too():
    result = run_cli("render", "--width", "-5", "--out", "x.png")
    assert_one_error_line(result.returncode, result.stderr, "--width")


def test_version_and_help(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"splatscope {version('splatscope')}"
    assert main(["convert", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert all(f in help_text for f in (".ply", ".compressed.ply", ".splat", ".spz", "--spz"))
    assert main(["prune", "--help"]) == 0
    assert ".compressed.ply" in capsys.readouterr().out


def test_the_flag_help_matches_what_the_writers_write():
    from viewer.cli import SPZ_VERSIONS, WRITABLE_SCENES
    from viewer.formats import DEFAULT_SPZ_VERSION, WRITABLE_SUFFIXES
    from viewer.formats.spz_write import WRITABLE_VERSIONS

    assert ", ".join(WRITABLE_SUFFIXES) == WRITABLE_SCENES
    assert SPZ_VERSIONS == WRITABLE_VERSIONS and SPZ_VERSIONS[-1] == DEFAULT_SPZ_VERSION


def test_info_without_a_scene_describes_the_builtin_one(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "builtin" in out and "23,561" in out


def test_a_closed_pipe_ends_quietly_with_141(small_scene):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes (`| head` done)
    try:
        for args in (["info", str(small_scene)], ["info"], ["--help"]):
            result = subprocess.run(
                [sys.executable, "-m", "viewer", *args], stdout=write_end,
                stderr=subprocess.PIPE, text=True, timeout=120,
            )  # fmt: skip
            assert result.stderr == ""
            # argparse itself swallows a failed write of --help (and exits 0)
            assert result.returncode == (0 if args == ["--help"] else 141)
    finally:
        os.close(write_end)


def test_a_broken_cameras_json_gives_one_line_not_a_warning_and_an_error(tmp_path, gl_ctx):
    folder = tmp_path / "out"
    ply = folder / "point_cloud" / "iteration_7" / "point_cloud.ply"
    ply.parent.mkdir(parents=True)
    from viewer.formats import save_scene

    save_scene(random_scene(np.random.default_rng(1), 50, sh_degree=0), ply)
    cameras = folder / "cameras.json"
    cameras.write_text('[{"id": 0, "width": 10')
    result = run_cli(
        "render", str(folder), "--camera", str(cameras), "--out", "x.png", cwd=tmp_path
    )
    assert_one_error_line(result.returncode, result.stderr, str(cameras), "not a JSON")
    result = run_cli("bench", str(folder), "--path", "cameras", "--out", "b", cwd=tmp_path)
    assert_one_error_line(result.returncode, result.stderr, str(cameras), "not a JSON")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "b").exists()
    # without --camera the scene renders, the broken file a warning (before the result)
    result = run_cli("render", str(folder), "--out", "x.png", "--width", "32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("splatscope: warning: ")


def test_prune_refuses_keeping_nothing_before_scoring(capsys, small_scene, tmp_path):
    out = tmp_path / "pruned.ply"
    line = fails(capsys, "prune", str(small_scene), "--keep", "0.001", "--out", str(out))
    assert "keeps none" in line and "300" in line
    assert not out.exists()


# -- 2. outputs checked before any work ----------------------------------------------------------


@pytest.mark.parametrize(
    "args, fragments",
    [
        (
            ["render", "missing.ply", "--out", "nodir/x.png"],
            ("--out nodir/x.png", "no such folder"),
        ),
        (["render", "missing.ply", "--out", "x.jpg"], ("--out x.jpg", ".png")),
        (["render", "missing.ply", "--out", "folder.png"], ("--out folder.png", "is a folder")),
        (["render", "missing.ply", "--out", "file.txt/x.png"], ("file.txt is not a folder",)),
        (["render", "missing.ply", "--out-npy", "nodir/x.npy"], ("--out-npy", "no such folder")),
        (["render", "missing.ply", "--out-npy", "x.dat"], ("--out-npy x.dat", ".npy")),
        (["render", "missing.ply", "--out", "fifo.png"], ("not a regular file",)),
        (["bench", "missing.ply", "--out", "file.txt"], ("--out file.txt", "is a file")),
        (["bench", "missing.ply", "--out", "file.txt/b"], ("file.txt is a file",)),
        (["convert", "missing.ply", "out.xyz"], ("output out.xyz", "cannot write '.xyz'")),
        (["convert", "missing.ply", "nodir/out.ply"], ("no such folder",)),
        (["convert", "missing.ply", "folder.png/"], ("cannot write",)),
        (["prune", "missing.ply", "--out", "out.txt"], ("--out out.txt", "writable: .ply")),
        (
            ["render", "missing.ply", "--camera", "missing.json", "--out", "x.png"],
            ("missing.json",),
        ),
    ],
)
def test_outputs_and_cameras_are_checked_before_the_scene_is_read(
    capsys, tmp_path, monkeypatch, args, fragments
):
    # the scene is missing: an error naming the output instead shows it was checked first
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file.txt").write_text("keep me")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.png")
    elif "fifo.png" in args:
        pytest.skip("no FIFOs here")
    before = sorted(p.name for p in tmp_path.iterdir())
    fails(capsys, *args, fragments=fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "file.txt").read_text() == "keep me"


def test_an_unwritable_folder_is_refused_before_work(capsys, tmp_path, monkeypatch):
    import tempfile

    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # a folder refusing files, as a read-only mount
        if Path(dir) == tmp_path:
            raise PermissionError(13, "Permission denied", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr("viewer.atomic_write.tempfile.mkstemp", mkstemp)
    fails(capsys, "render", "missing.ply", "--out", str(tmp_path / "x.png"),
          fragments=("cannot write in the folder",))  # fmt: skip
    fails(capsys, "bench", "missing.ply", "--out", str(tmp_path / "b" / "c"),
          fragments=("cannot write in the folder",))  # fmt: skip


def test_render_writes_png_and_npy_atomically(tmp_path, monkeypatch):
    from viewer import image_files

    image = np.full((4, 6, 3), 0.5, np.float32)
    png, npy = tmp_path / "x.png", tmp_path / "x"
    image_files.save_png(image, png)
    image_files.save_npy(image, npy)
    assert npy.exists() and not (tmp_path / "x.npy").exists()  # the name given, exactly
    np.testing.assert_array_equal(np.load(npy), image)
    old_png, old_npy = png.read_bytes(), npy.read_bytes()

    def half_written(self, file, *args, **kwargs):
        file.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("PIL.Image.Image.save", half_written)
    with pytest.raises(OSError):
        image_files.save_png(image * 0, png)
    monkeypatch.setattr(np, "save", lambda file, *a, **k: half_written(None, file))
    with pytest.raises(OSError):
        image_files.save_npy(image * 0, npy)
    assert png.read_bytes() == old_png and npy.read_bytes() == old_npy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "x.png"]  # no temporary files


def test_a_failed_write_is_one_line_and_keeps_the_old_file(capsys, tmp_path, monkeypatch, gl_ctx):
    out = tmp_path / "x.png"
    out.write_bytes(b"old")

    def full_disk(path, write):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("viewer.image_files.atomic_write", full_disk)
    line = fails(capsys, "render", "--out", str(out), "--width", "16", "--height", "16")
    assert str(out) in line and "No space left" in line
    assert out.read_bytes() == b"old"


# -- 3. convert and prune: never over the input, say what the format loses -----------------------


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink", "spelled differently"])
def test_convert_refuses_writing_over_its_input(capsys, small_scene, tmp_path, how):
    original = small_scene.read_bytes()
    if how == "same path":
        out = small_scene
    elif how == "hard link":
        out = tmp_path / "linked.ply"
        os.link(small_scene, out)
    elif how == "symlink":
        out = tmp_path / "alias.ply"
        out.symlink_to(small_scene)
    else:
        out = tmp_path / "." / ".." / tmp_path.name / small_scene.name
    line = fails(capsys, "convert", str(small_scene), str(out), fragments=("is the input file",))
    assert "refusing" in line
    assert small_scene.read_bytes() == original


def test_convert_refuses_the_point_cloud_of_its_training_folder(capsys, tmp_path):
    from viewer.formats import save_scene

    ply = tmp_path / "out" / "point_cloud" / "iteration_30" / "point_cloud.ply"
    ply.parent.mkdir(parents=True)
    save_scene(random_scene(np.random.default_rng(2), 20, sh_degree=0), ply)
    fails(capsys, "convert", str(tmp_path / "out"), str(ply), fragments=("is the input file",))


def test_prune_refuses_writing_over_its_input_before_scoring(capsys, small_scene, tmp_path):
    alias = tmp_path / "alias.splat"
    alias.symlink_to(small_scene)
    line = fails(capsys, "prune", str(small_scene), "--keep", "0.5", "--out", str(alias))
    assert "is the input file" in line


def test_convert_says_what_the_format_loses_then_writes(capsys, small_scene, tmp_path):
    out = tmp_path / "small.splat"
    assert main(["convert", str(small_scene), str(out)]) == 0
    captured = capsys.readouterr()
    notes = captured.err.strip().splitlines()
    assert len(notes) >= 3 and all(line.startswith("splatscope: note: ") for line in notes)
    assert any("SH degree 3 -> 0" in line for line in notes)
    assert "wrote 300 Gaussians" in captured.out and out.stat().st_size == 300 * 32
    assert main(["convert", str(small_scene), str(tmp_path / "copy.ply")]) == 0
    assert capsys.readouterr().err == ""  # INRIA .ply keeps everything


@pytest.mark.parametrize("version, magic", [(None, b"NGSP"), ("4", b"NGSP"), ("3", b"\x1f\x8b")])
def test_convert_writes_the_spz_version_asked_for(capsys, small_scene, tmp_path, version, magic):
    out = tmp_path / "small.spz"
    args = ["convert", str(small_scene), str(out)] + (["--spz-version", version] if version else [])
    assert main(args) == 0
    assert out.read_bytes()[:4].startswith(magic)
    err = capsys.readouterr().err
    assert ("version 3 (gzip)" in err) == (version == "3")


# -- 4. strange cameras and scenes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"width": 1e30}, "width must be 1 to 65536"),  # was: stack smashing, exit 134
        ({"world_to_camera": np.diag([1.0, 0.0, 1.0, 1.0]).tolist()}, "not orthonormal"),
        ({"cx": float("nan")}, "cx must be finite"),  # was: a black image and exit 0
        ({"fx": float("inf")}, "fx must be finite"),
    ],
)
def test_strange_cameras_are_one_line(tmp_path, small_scene, changes, fragment):
    camera = write_json(tmp_path / "camera.json", {**GOOD_CAMERA, **changes})
    out = tmp_path / "x.png"
    result = run_cli("render", str(small_scene), "--camera", str(camera), "--out", str(out))
    assert_one_error_line(result.returncode, result.stderr, str(camera), fragment)
    assert not out.exists()


def test_a_path_file_with_a_singular_keyframe_is_one_line(tmp_path, small_scene):
    singular = {**GOOD_CAMERA, "world_to_camera": np.diag([1.0, 0.0, 1.0, 1.0]).tolist()}
    path = write_json(
        tmp_path / "path.json",
        {"version": 1, "keyframes": [{"time": 0, "camera": GOOD_CAMERA},
                                     {"time": 1, "camera": singular}]},
    )  # fmt: skip
    result = run_cli("bench", str(small_scene), "--path", str(path), "--out", str(tmp_path / "b"))
    assert_one_error_line(result.returncode, result.stderr, str(path), "not orthonormal")
    assert not (tmp_path / "b").exists()
    result = run_cli("render", str(small_scene), "--camera", str(path), "--camera-index", "1",
                     "--out", str(tmp_path / "x.png"))  # fmt: skip
    assert_one_error_line(result.returncode, result.stderr, str(path), "not orthonormal")


def test_images_beyond_the_gl_limits_are_one_line(capsys, tmp_path, small_scene, gl_ctx):
    from viewer.render.context import DeviceInfo

    limit = DeviceInfo.of(gl_ctx).max_image_size
    if limit is None or limit[0] >= 65536:
        pytest.skip("this device renders every size a camera may have")
    wide = limit[0] + 1
    camera = write_json(tmp_path / "wide.json", {**GOOD_CAMERA, "width": wide, "cx": wide / 2})
    out = tmp_path / "x.png"
    fails(capsys, "render", str(small_scene), "--camera", str(camera), "--out", str(out),
          fragments=(str(camera), "GL_MAX_TEXTURE_SIZE"))  # fmt: skip
    fails(capsys, "render", str(small_scene), "--width", str(wide), "--out", str(out),
          fragments=("--width/--height", "larger than this GL device"))  # fmt: skip
    fails(capsys, "bench", str(small_scene), "--width", str(wide), "--out", str(tmp_path / "b"),
          fragments=("--width/--height",))  # fmt: skip
    assert not out.exists() and not (tmp_path / "b").exists()


def scene_file(tmp_path: Path, name: str, means: np.ndarray, scale: float = 0.05) -> Path:
    from viewer.formats import save_scene

    n = means.shape[0]
    scene = GaussianScene.from_arrays(
        means, np.full((n, 3), scale), np.tile([1.0, 0, 0, 0], (n, 1)), np.full(n, 0.95),
        np.full((n, 1, 3), 1.8),
    )  # fmt: skip
    path = tmp_path / name
    save_scene(scene, path)
    return path


def test_a_scene_reaching_3e38_is_one_line(tmp_path):
    rng = np.random.default_rng(3)
    huge = scene_file(tmp_path, "huge.ply", rng.uniform(-3e38, 3e38, (64, 3)))
    result = run_cli("render", str(huge), "--out", str(tmp_path / "x.png"))
    assert_one_error_line(result.returncode, result.stderr, str(huge), "float32")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("kind", ["one Gaussian", "all at one point"])
def test_degenerate_scenes_render_the_splat(capsys, tmp_path, gl_ctx, kind):
    means = np.array([[2.0, 1.0, -3.0]]) if kind == "one Gaussian" else np.zeros((30, 3))
    path = scene_file(tmp_path, "degenerate.ply", means)
    npy = tmp_path / "x.npy"
    assert (
        main(["render", str(path), "--out-npy", str(npy), "--width", "48", "--height", "32"]) == 0
    )
    image = np.load(npy)
    assert image.shape == (32, 48, 3) and (image.max(axis=2) > 0.3).mean() > 0.01


# -- names with control characters or bytes that are not UTF-8 -----------------------------------


def test_names_are_quoted_as_ls_does():
    from viewer.errors import quoted, visible

    assert quoted("plain name é.ply") == "plain name é.ply"
    assert quoted("a\nb\x1b[31m.ply") == "$'a\\nb\\E[31m.ply'"
    assert quoted("tab\there's\\") == "$'tab\\there\\'s\\\\'"
    assert quoted(os.fsdecode(b"bad\xff.ply")) == "$'bad\\377.ply'"
    assert visible("x\ny") == "x\\ny"


@pytest.mark.parametrize("name", ["a\nb.ply", "esc\x1b[31m.ply", "tab\t.ply"])
def test_an_error_naming_a_strange_file_is_one_quoted_line(capsys, tmp_path, name):
    line = fails(capsys, "info", str(tmp_path / name), fragments=("no such file",))
    assert "\x1b" not in line and "\t" not in line
    assert "$'" in line


def test_a_bench_of_a_scene_whose_name_is_not_utf8_finishes(capsys, tmp_path, small_scene):
    scene = tmp_path / os.fsdecode(b"bad\xff.ply")
    small_scene.rename(scene)
    out = tmp_path / os.fsdecode(b"out\xfe")
    args = ["--frames", "2", "--warmup", "0", "--width", "32", "--height", "32", "--no-quality"]
    assert main(["bench", str(scene), "--out", str(out), *args]) == 0
    printed = capsys.readouterr().out
    assert "/bad\\377.ply': 300 Gaussians" in printed and "/out\\376'" in printed
    assert (out / "frame_times.png").stat().st_size > 0


def test_a_bench_folder_whose_report_is_a_folder_is_refused_before_work(capsys, tmp_path):
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    fails(capsys, "bench", "--out", str(tmp_path / "out"), fragments=("report.json",))


def test_info_with_stdout_closed_is_one_line():
    result = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m viewer info >&-"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert_one_error_line(result.returncode, result.stderr, "standard output is closed")


# -- 5. sizes: the GL device and the memory, checked before any work ------------------------------


def _device(gl_ctx):
    from viewer.render.context import DeviceInfo

    return DeviceInfo.of(gl_ctx)


def test_a_float_target_the_device_refuses_is_one_line_before_the_scene_is_read(
    capsys, tmp_path, gl_ctx
):
    # llvmpipe's limits allow 16384 x 16384, but not its 4 GiB float target (a traceback in
    # the framebuffer after the scene was read, before); with less than 19 GB free the memory
    # check comes first
    device = _device(gl_ctx)
    if not device.is_software or device.max_image_size != (16384, 16384):
        pytest.skip("the refused target is llvmpipe's")
    out = tmp_path / "x.png"
    args = ["--width", "16384", "--height", "16384", "--out", str(out)]
    line = fails(capsys, "render", str(tmp_path / "missing.ply"), *args,
                 fragments=("--width/--height",))  # fmt: skip
    assert "refuses a 4.0 GiB float target" in line or "of memory to render" in line
    assert not out.exists()


def test_make_dataset_checks_the_image_size_before_the_scene(capsys, tmp_path, gl_ctx):
    limit = _device(gl_ctx).max_image_size
    if limit is None or limit[0] >= 65536:
        pytest.skip("this device renders every size a camera may have")
    out = tmp_path / "data"
    fails(capsys, "make-dataset", str(tmp_path / "missing.ply"), "--views", "2", "--width",
          str(limit[0] + 1), "--height", "8", "--out", str(out),
          fragments=("--width/--height", "larger than this GL device"))  # fmt: skip
    assert not out.exists()


def test_the_image_size_limit_counts_the_framebuffer_limits():
    from viewer.render.context import DeviceInfo

    device = DeviceInfo("gpu", "v", "4.6", 1 << 30, 65535, 32768, (32768, 32768), (16384, 8192))
    assert device.max_image_size == (16384, 8192)


def test_a_scene_larger_than_a_frame_holds_is_one_line_before_it_is_read(
    capsys, tmp_path, small_scene, monkeypatch, gl_ctx
):
    import dataclasses

    from viewer.render.context import DeviceInfo

    real = DeviceInfo.of
    small = classmethod(lambda cls, ctx: dataclasses.replace(real(ctx), max_ssbo_bytes=48 * 100))
    monkeypatch.setattr(DeviceInfo, "of", small)  # one frame draws 100 splats
    out = tmp_path / "x.png"
    bench = ["bench", "--out", str(tmp_path / "b"), "--frames", "1", "--warmup", "0", "--width",
             "16", "--height", "16", "--no-quality", "--config", "c:backend=cpu",
             "q:backend=quads"]  # fmt: skip
    render = ["render", "--width", "16", "--out", str(out)]
    # what only the GL passes draw: another backend, a mode with its own raster
    video = ["render", "--path", "orbit", "--frames", "2", "--width", "16", "--height", "16",
             "--out", str(tmp_path / "v.mp4"), "--backend", "quads"]  # fmt: skip
    for command in ([*render, "--backend", "quads"], [*render, "--mode", "points"], bench,
                    video):  # fmt: skip
        fails(capsys, command[0], str(small_scene), *command[1:],
              fragments=(str(small_scene), "declares 300 points", "draws in one frame (100:",
                         "GL_MAX_SHADER_STORAGE_BLOCK_SIZE",
                         "the cpu backend draws more"))  # fmt: skip
    assert not out.exists() and not (tmp_path / "b").exists()
    assert not (tmp_path / "v.mp4").exists()


def test_the_cpu_backend_draws_more_than_a_gl_frame_holds(
    capsys, tmp_path, small_scene, monkeypatch, gl_ctx
):
    """Its frames are made on the host: a scene beyond the GL frame's splats is drawn whole,
    and measured whole for pruning's view scores (each run measures them: a cache of its own)."""
    import dataclasses

    from viewer.render.context import DeviceInfo

    size = ["--width", "48", "--height", "32", "--backend", "cpu"]
    lod = ["--lod.enabled", "true", "--lod.cut", "budget", "--lod.budget", "200"]
    pruned = ["--prune.keep", "0.5", "--prune.score", "significance"]
    # 200 nodes of the LOD tree, and 150 Gaussians kept: more than 100 too
    variants = {"all": [], "lod": lod, "pruned": pruned}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name, flags in variants.items():
        out = tmp_path / f"{name}.npy"
        assert main(["render", str(small_scene), *size, *flags, "--out-npy", str(out)]) == 0
    real = DeviceInfo.of
    small = classmethod(lambda cls, ctx: dataclasses.replace(real(ctx), max_ssbo_bytes=48 * 100))
    monkeypatch.setattr(DeviceInfo, "of", small)  # one GL frame draws 100 splats of the 300
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache_limited"))
    for name, flags in variants.items():
        out = tmp_path / f"{name}_limited.npy"
        assert main(["render", str(small_scene), *size, *flags, "--out-npy", str(out)]) == 0
        np.testing.assert_array_equal(np.load(out), np.load(tmp_path / f"{name}.npy"))
    frames = tmp_path / "frames"
    video = ["render", str(small_scene), "--path", "orbit", "--frames", "2", "--width", "16",
             "--height", "16", "--backend", "cpu", "--out", f"{frames}/"]  # fmt: skip
    assert main(video) == 0 and len(list(frames.glob("*.png"))) == 2
    bench = ["bench", str(small_scene), "--out", str(tmp_path / "b"), "--frames", "2",
             "--warmup", "0", "--width", "32", "--height", "32",
             "--config", "c:backend=cpu"]  # fmt: skip
    assert main(bench) == 0
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["configs"][0]["visible_mean"] > 100  # more splats than one GL frame holds
    capsys.readouterr()


def test_the_memory_check_counts_the_mapped_file(tmp_path, monkeypatch):
    from viewer.errors import SceneError
    from viewer.formats import limits, load_scene, save_scene

    for name in ("scene.ply", "scene.splat"):
        path = tmp_path / name
        save_scene(random_scene(np.random.default_rng(5), 2000, sh_degree=0), path)
        decoded = limits.decoded_bytes(2000, 1)
        monkeypatch.setattr(limits, "available_memory", lambda: decoded + 1000)  # noqa: B023
        with pytest.raises(SceneError, match="declares 2,000 points"):
            load_scene(path)


def test_a_planned_use_is_checked_with_the_load(tmp_path, monkeypatch):
    from viewer.errors import SceneError
    from viewer.formats import limits, load_scene, save_scene

    path = tmp_path / "scene.spz"
    save_scene(random_scene(np.random.default_rng(6), 1000, sh_degree=1), path)
    use = limits.SceneUse("to do something big", lambda count, sh: count * 10**6)
    monkeypatch.setattr(limits, "available_memory", lambda: 10**8)
    load_scene(path)  # the load alone fits
    with limits.planned_use(use), pytest.raises(SceneError) as error:
        load_scene(path)
    assert "1.0 GB to do something big), more than the 0.1 GB" in str(error.value)
    load_scene(path)  # the use ended with its block
    limited = limits.SceneUse("x", lambda count, sh: 0, max_points=999, limit="the limit (999)")
    with limits.planned_use(limited), pytest.raises(SceneError, match="more than the limit"):
        load_scene(path)


def test_render_counts_the_gpu_upload_before_reading_the_scene(
    capsys, tmp_path, small_scene, monkeypatch, gl_ctx
):
    from viewer.formats import limits

    if not _device(gl_ctx).is_software:
        pytest.skip("the GL buffers are host memory on a software device only")
    load = limits.decoded_bytes(300, 16) + small_scene.stat().st_size
    monkeypatch.setattr(limits, "available_memory", lambda: load + 1000)  # the load alone fits
    out = tmp_path / "x.png"
    fails(capsys, "render", str(small_scene), "--width", "16", "--height", "16", "--out",
          str(out), fragments=(str(small_scene), "to render on llvmpipe"))  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize(
    "flag, value, fragment",
    [("--frames", "1000000000", "maximum 100000"), ("--warmup", "1000000000", "maximum 10000")],
)
def test_bench_frames_and_warmup_have_a_stated_maximum(capsys, tmp_path, flag, value, fragment):
    fails(capsys, "bench", "--out", str(tmp_path / "b"), flag, value,
          fragments=(f"argument {flag}", fragment))  # fmt: skip
    assert main(["bench", "--help"]) == 0
    assert "at most 100,000" in capsys.readouterr().out


def test_bench_shows_progress_while_it_warms_up(capsys, tmp_path, small_scene, gl_ctx):
    args = ["--frames", "1", "--warmup", "3", "--width", "32", "--height", "32", "--no-quality"]
    assert main(["bench", str(small_scene), "--out", str(tmp_path / "b"), *args]) == 0
    err = capsys.readouterr().err
    assert "bench warmup 3/3 frames" in err, err


# -- 6. special files: every reader through viewer.input_files ------------------------------------


@pytest.fixture
def alarm():
    """Fail (instead of hanging) when the test blocks for 20 s, e.g. opening a FIFO."""
    import signal

    def hung(*_):
        raise TimeoutError("blocked: a FIFO was opened")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_open_input_refuses_special_files_and_returns_a_regular_one(tmp_path, alarm):
    from viewer.errors import SceneError
    from viewer.input_files import input_named_by, open_input

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "folder").mkdir()
    for name, problem in (("fifo", "a FIFO"), ("zero", "a character device"),
                          ("folder", "is a directory"), ("missing", "no such file")):  # fmt: skip
        with pytest.raises(SceneError, match=problem):
            open_input(tmp_path / name)
    (tmp_path / "file").write_bytes(b"data")
    with open_input(tmp_path / "file") as file:
        assert file.read() == b"data"
    assert input_named_by(tmp_path / "file") is not None  # remembered as an input
    (tmp_path / "cache").write_bytes(b"data")
    open_input(tmp_path / "cache", remember=False).close()
    assert input_named_by(tmp_path / "cache") is None


def test_the_caches_skip_a_special_file_in_their_place(tmp_path, alarm):
    from viewer.features.lod_cache import load_tree
    from viewer.features.score_cache import load_scores

    os.mkfifo(tmp_path / "scores.npz")
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    assert load_scores([tmp_path / "scores.npz", tmp_path / "zero.npz"], "key") is None
    scene = random_scene(np.random.default_rng(7), 10, sh_degree=0)
    assert load_tree(tmp_path / "scores.npz", "key", scene) is None


@pytest.mark.parametrize("kind", ["fifo", "devzero", "folder"])
@pytest.mark.parametrize(
    "data, name",
    [("nerf", "points3d.ply"), ("nerf", "train/r_1.png"), ("colmap", "sparse/0/points3D.bin"),
     ("colmap", "images/r_2.png"), ("colmap", "sparse/0/cameras.bin")],
)  # fmt: skip
def test_a_special_file_in_a_dataset_is_one_line_not_ignored(
    capsys, tmp_path, data, name, kind, alarm
):
    # a points3d.ply or COLMAP points3D.bin that is no regular file was silently ignored
    # (is_file() False), a model file made no dataset, an image was opened by PIL (a FIFO blocked)
    from tests.hostile_corpus import colmap_dataset, make_special, nerf_dataset

    root = tmp_path / data
    nerf_dataset(root) if data == "nerf" else colmap_dataset(root, binary=True)
    make_special(root / name, kind)
    out = tmp_path / "out"
    fails(capsys, "train", str(root), "--out", str(out), "--iterations", "1",
          fragments=(str(root / name),))  # fmt: skip
    assert not out.exists()


def test_view_without_a_display_names_a_missing_scene_first(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    missing = tmp_path / "missing.ply"
    for args, fragments in (
        ([str(missing)], (str(missing), "no such file")),
        ([], ("no display to open a window on", "splatscope render")),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "viewer", "view", *args],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        assert_one_error_line(result.returncode, result.stderr, *fragments)
