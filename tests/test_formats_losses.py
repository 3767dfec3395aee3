"""describe_losses: what each output format loses, and output format selection by name."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.formats_helpers import stored_scene
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats import describe_losses, output_format


def test_output_format_by_name() -> None:
    assert output_format("a/b/scene.PLY") == ".ply"
    assert output_format("scene.compressed.ply") == ".compressed.ply"
    assert output_format(".compressed.ply") == ".compressed.ply"
    assert output_format("scene.Compressed.Ply") == ".compressed.ply"
    assert output_format(".spz") == output_format("spz") == ".spz"
    assert output_format("x.splat") == ".splat"
    assert output_format("scene.xyz") is None and output_format("ply.d/scene") is None


def test_inria_ply_is_lossless() -> None:
    assert describe_losses(stored_scene(50, 3), "out.ply") == []


def test_cameras_are_never_written() -> None:
    camera = Camera(64, 48, 50.0, 50.0, 32.0, 24.0, np.eye(4), "cam")
    scene = dataclasses.replace(stored_scene(50, 0), cameras=(camera, camera))
    assert describe_losses(scene, ".ply") == ["the 2 camera presets are not stored in the file"]


def test_splat_drops_sh_and_quantises() -> None:
    lines = describe_losses(stored_scene(50, 3), "out.splat")
    assert lines[0].startswith("SH degree 3 -> 0: the 45 higher-order coefficients")
    assert any("colour and opacity quantised to 8 bits" in line for line in lines)
    assert any("rotations quantised to 8 bits" in line for line in lines)
    assert not any("SH degree" in line for line in describe_losses(stored_scene(50, 0), ".splat"))


def test_splat_counts_clamped_colours() -> None:
    scene = stored_scene(50, 0)
    sh = scene.sh.copy()
    sh[:3, 0, 0] = 5.0  # base colour 0.5 + C0 * 5 > 1
    lines = describe_losses(dataclasses.replace(scene, sh=sh), ".splat")
    assert any("3 Gaussians have base colours outside [0, 1], clamped" in line for line in lines)


def test_spz_quantisation() -> None:
    lines = describe_losses(stored_scene(50, 2), "out.spz")
    assert lines[0].startswith("positions rounded to 24-bit fixed point with 12 fractional bits")
    assert any("2^-12" in line for line in lines)
    assert any("log-scales quantised to steps of 1/16" in line for line in lines)
    assert any("SH above DC quantised to 5 bits (degree 1) and 4 bits" in line for line in lines)
    assert not any("version 3" in line for line in lines)
    assert any(
        "version 3" in line for line in describe_losses(stored_scene(5, 0), ".spz", spz_version=3)
    )


def test_spz_far_scene_and_clamping() -> None:
    scene = stored_scene(50, 1)
    log_scales = scene.stored_log_scales().copy()
    log_scales[:4, 0] = -12.0
    far = dataclasses.replace(
        scene,
        means=scene.means + np.float32(5000.0),
        scales=np.exp(log_scales),
        log_scales=log_scales,
        sh=np.concatenate([scene.sh[:, :1], np.full((50, 3, 3), 1.5, np.float32)], axis=1),
    )
    lines = describe_losses(far, ".spz")
    assert "10 fractional bits" in lines[0] and "fewer than the usual 12" in lines[0]
    assert any("4 Gaussians have log-scales outside" in line for line in lines)
    assert any("50 Gaussians have SH outside [-1, 1], clamped" in line for line in lines)


def test_compressed_ply_quantises_per_chunk() -> None:
    lines = describe_losses(stored_scene(600, 1), "x.compressed.ply")
    assert lines[0].startswith("Gaussians reordered along a Morton curve")
    assert any("11/10/11 bits of their chunk's range (steps up to" in line for line in lines)
    assert any("SH above DC quantised to 8 bits of [-4, 4)" in line for line in lines)


@pytest.mark.parametrize(
    ("target", "options", "problem"),
    [("out.xyz", {}, "cannot write this format"), (".spz", {"spz_version": 2}, "version 2")],
)
def test_unwritable_targets(target: str, options: dict, problem: str) -> None:
    with pytest.raises(SceneError, match=problem):
        describe_losses(stored_scene(5, 0), target, **options)
