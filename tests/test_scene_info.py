"""`splatscope info` (format and version, rounded values) and the notes on flags without effect."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.formats_helpers import spz_bytes, stored_scene
from viewer.cli import main
from viewer.formats import load_scene, save_scene
from viewer.scene_info import describe, number, vector


@pytest.fixture(scope="module")
def scene():
    return stored_scene(300, degree=1, seed=3)


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("s.ply", {}, "INRIA 3DGS .ply"),
        ("s.compressed.ply", {}, "SuperSplat compressed .ply"),
        ("s.splat", {}, "antimatter15 .splat"),
        ("s.spz", {"spz_version": 3}, "Niantic .spz v3 (gzip)"),
        ("s.spz", {"spz_version": 4}, "Niantic .spz v4 (NGSP, zstd)"),
    ],
)
def test_info_names_the_format_and_version(tmp_path, capsys, scene, name, options, expected):
    path = tmp_path / name
    save_scene(scene, path, **options)
    assert load_scene(path).file_format == expected
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    size = path.stat().st_size
    shown = f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} B"
    assert lines[1] == f"format       {expected}, {shown}"


def test_info_names_spz_version_2(tmp_path, scene):
    path = tmp_path / "old.spz"
    path.write_bytes(spz_bytes(scene, version=2))
    assert load_scene(path).file_format == "Niantic .spz v2 (gzip)"


def test_info_of_the_builtin_scene_and_a_scene_in_memory(capsys, scene):
    assert main(["info"]) == 0
    assert "format       INRIA 3DGS .ply (the built-in scene" in capsys.readouterr().out
    assert "format       in memory (no file)" in describe(scene)


def test_values_are_rounded_to_short_decimals(scene):
    assert number(np.float32(1.925)) == "1.925"  # not 1.9249999523162842
    assert number(np.float32(-0.0)) == "0" and number(3.70712e-9) == "3.707e-09"
    assert vector(np.float32([-1.925, 0.0, 0.97729999])) == "(-1.925, 0, 0.9773)"
    for decimal in re.findall(r"\d+\.\d+", describe(scene)):  # mantissas of every value
        assert len(decimal.replace(".", "").lstrip("0")) <= 4, decimal
    assert "(1 coefficient per channel)" in describe(stored_scene(5, degree=0))


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if "warning:" in line]


def test_render_says_an_sh_degree_above_the_scenes_has_no_effect(tmp_path, capsys):
    ply = tmp_path / "flat.ply"
    save_scene(stored_scene(200, degree=1, seed=1), ply)
    base = ["render", str(ply), "--width", "16", "--height", "12", "--out-npy"]
    assert main([*base, str(tmp_path / "a.npy"), "--sh-degree", "3"]) == 0
    notes = warnings_of(capsys.readouterr().err)
    assert notes == [
        f"splatscope: warning: --sh-degree 3 has no effect: {ply} has SH degree 1, so it renders "
        "at degree 1"
    ]
    for i, flags in enumerate(([], ["--sh-degree", "1"], ["--sh-degree", "0"])):
        assert main([*base, str(tmp_path / f"b{i}.npy"), *flags]) == 0
        assert warnings_of(capsys.readouterr().err) == []
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b1.npy"))


def test_a_path_render_says_so_too(tmp_path, capsys):
    ply = tmp_path / "flat.ply"
    save_scene(stored_scene(200, degree=0, seed=1), ply)
    args = ["render", str(ply), "--path", "orbit", "--frames", "1", "--width", "16"]
    assert main([*args, "--out", f"{tmp_path}/f/", "--render.sh-degree", "2"]) == 0
    assert len(warnings_of(capsys.readouterr().err)) == 1


def test_convert_says_spz_version_has_no_effect_on_other_formats(tmp_path, capsys, scene):
    source = tmp_path / "in.ply"
    save_scene(scene, source)
    assert main(["convert", str(source), str(tmp_path / "out.splat"), "--spz-version", "3"]) == 0
    err = capsys.readouterr().err
    assert warnings_of(err) == [
        f"splatscope: warning: --spz-version 3 has no effect: {tmp_path / 'out.splat'} is not an "
        ".spz file (the name picks the format)"
    ]
    for version in ("3", "4"):
        out = tmp_path / f"out{version}.spz"
        assert main(["convert", str(source), str(out), "--spz-version", version]) == 0
        assert warnings_of(capsys.readouterr().err) == []
        assert load_scene(out).file_format.startswith(f"Niantic .spz v{version}")
    assert main(["convert", str(source), str(tmp_path / "default.spz")]) == 0
    assert load_scene(tmp_path / "default.spz").file_format.startswith("Niantic .spz v4")


def test_render_says_the_fovea_outline_is_the_window_s_only(tmp_path, capsys):
    ply = tmp_path / "flat.ply"
    save_scene(stored_scene(200, degree=1, seed=1), ply)
    base = ["render", str(ply), "--width", "16", "--height", "12", "--out-npy"]
    assert main([*base, str(tmp_path / "a.npy"), "--fov.outline", "true"]) == 0
    assert warnings_of(capsys.readouterr().err) == [
        "splatscope: warning: --fov.outline has no effect in render: the level borders are drawn "
        "over the window's view only, not into images"
    ]
    assert main([*base, str(tmp_path / "b.npy"), "--fov.enabled", "true"]) == 0
    assert warnings_of(capsys.readouterr().err) == []


def test_render_says_a_frame_rate_target_is_the_window_s_and_the_bench_s(tmp_path, capsys):
    ply = tmp_path / "flat.ply"
    save_scene(stored_scene(200, degree=1, seed=1), ply)
    base = ["render", str(ply), "--width", "16", "--height", "12", "--out-npy"]
    assert main([*base, str(tmp_path / "a.npy"), "--lod.target-fps", "30"]) == 0
    assert warnings_of(capsys.readouterr().err) == [
        "splatscope: warning: --lod.target-fps 30 has no effect in render: one image is drawn at "
        "full detail (the window and the bench hold a frame rate)"
    ]
    assert main([*base, str(tmp_path / "b.npy"), "--lod.budget", "100"]) == 0
    assert warnings_of(capsys.readouterr().err) == []


def test_render_names_the_backend_that_drew_and_why_auto_chose_it(tmp_path, capsys):
    from viewer.render.context import DeviceInfo, create_headless_context
    from viewer.render.raster import choose_backend

    ctx = create_headless_context()
    auto = choose_backend("auto", DeviceInfo.of(ctx))
    ctx.release()
    ply = tmp_path / "flat.ply"
    save_scene(stored_scene(200, degree=1, seed=1), ply)
    base = ["render", str(ply), "--width", "16", "--height", "12", "--out-npy"]
    assert main([*base, str(tmp_path / "a.npy")]) == 0
    assert f"with the {auto} backend (auto: " in capsys.readouterr().out
    assert main([*base, str(tmp_path / "b.npy"), "--backend", "quads"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("with the quads backend")
