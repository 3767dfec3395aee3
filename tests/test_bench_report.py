"""A tiny real bench through the CLI: report.json against its documented schema, frames.csv rows."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.cli import main
from viewer.formats import save_scene

FRAMES = 3
NUMBER = (int, float)
SUMMARY_KEYS = {"mean", "p50", "p90", "p99", "max"}
TOP = {
    "schema_version": int,
    "scene": str,
    "gaussians": int,
    "sh_degree": int,
    "path": str,
    "gaze_grid": bool,
    "width": int,
    "height": int,
    "frames": int,
    "warmup": int,
    "clock": str,
    "device": str,
    "gl": dict,
    "versions": dict,
    "command": list,
    "peak_rss_bytes": int,
    "first_frame_ms": NUMBER,
    "passes": list,
    "reference": dict,
    "configs": list,
}
CONFIG = {
    "name": str,
    "overrides": dict,
    "settings": dict,
    "backend": str,
    "sort": str,
    "clock": str,
    "clock_trusted": bool,
    "frame_ms": dict,
    "fps": NUMBER,
    "ratio_to_first": NUMBER,
    "passes_ms": dict,
    "visible_mean": NUMBER,
    "drawn_mean": NUMBER,
    "dropped_total": int,
    "gpu_bytes": int,
    "psnr": dict,
    "ssim": dict,
    "fovea_psnr": dict,
    "fovea_ssim": dict,
    "periphery_psnr": dict,
    "periphery_ssim": dict,
    "worst_frame": (dict, type(None)),
    "render_scale_mean": NUMBER,
    "lod_drawn_mean": type(None),
    "temporal_change": NUMBER,
    "fovea_culled_mean": NUMBER,
    "pairs_mean": type(None),  # quads: none
    "saturated_mean": type(None),  # measured by the cpu backend only
    "saturation_depth_mean": type(None),
    "stream": type(None),
}


@pytest.fixture(scope="module")
def bench(tmp_path_factory, gl_ctx) -> tuple[Path, str]:
    """Runs `splatscope bench` once: 2 configs, 3 frames at 64x36 on 300 random Gaussians."""
    folder = tmp_path_factory.mktemp("bench")
    scene = folder / "scene.ply"
    save_scene(random_scene(np.random.default_rng(3), 300, sh_degree=1), scene)
    args = ["bench", str(scene), "--out", str(folder / "out"), "--frames", str(FRAMES)]
    args += ["--warmup", "1", "--width", "64", "--height", "36"]
    args += ["--config", "full:backend=quads", "lite:backend=quads,sh_degree=0,splat_scale=0.7"]
    code = main(args)
    assert code == 0
    return folder / "out", str(scene)


def check_types(document: dict, expected: dict) -> None:
    assert set(document) == set(expected)
    for key, kind in expected.items():
        assert isinstance(document[key], kind), f"{key}: {type(document[key]).__name__}"


def test_report_follows_the_schema(bench) -> None:
    out, scene = bench
    report = json.loads((out / "report.json").read_text())
    check_types(report, TOP)
    assert (report["scene"], report["width"], report["height"]) == (scene, 64, 36)
    assert (report["frames"], report["gaussians"], report["path"]) == (FRAMES, 300, "orbit")
    assert {"python", "splatscope", "numpy", "torch", "moderngl"} <= set(report["versions"])
    assert set(report["gl"]) == {"renderer", "vendor", "version"}
    assert report["device"] == report["gl"]["renderer"]
    assert report["command"][:3] == ["splatscope", "bench", scene]
    assert report["reference"]["render"]["sh_degree"] == 3
    full, lite = report["configs"]
    for config in (full, lite):
        check_types(config, CONFIG)
        assert set(config["frame_ms"]) == SUMMARY_KEYS
        assert set(config["passes_ms"]) == set(report["passes"])
        assert set(config["settings"]) == {"render", "raster", "prune", "lod", "fov", "stream"}
        assert config["frame_ms"]["max"] >= config["frame_ms"]["p50"] > 0
        assert config["fps"] == pytest.approx(1e3 / config["frame_ms"]["mean"])
    assert (full["name"], lite["name"]) == ("full", "lite")
    assert full["ratio_to_first"] == 1.0
    assert lite["settings"]["render"]["splat_scale"] == 0.7
    assert lite["psnr"]["mean"] < 60.0 and lite["ssim"]["min"] < 1.0
    assert report["gaze_grid"] is False
    for config in (full, lite):  # no foveation: the region of the default settings at the centre
        assert config["fovea_culled_mean"] == 0
        for region in ("fovea", "periphery"):
            assert set(config[f"{region}_psnr"]) == {"mean", "min", "identical_frames"}
            assert set(config[f"{region}_ssim"]) == {"mean", "min"}
    assert lite["fovea_psnr"]["mean"] != lite["periphery_psnr"]["mean"]


def test_the_cpu_backend_reports_its_pairs_and_where_pixels_saturate(tmp_path, gl_ctx) -> None:
    from tests.test_raster_cpu import wall_and_behind

    scene = tmp_path / "wall.ply"
    save_scene(wall_and_behind(), scene)
    args = ["bench", str(scene), "--out", str(tmp_path / "out"), "--frames", "2", "--warmup", "0"]
    args += ["--width", "48", "--height", "32", "--no-quality", "--config", "cpu:backend=cpu"]
    assert main(args) == 0
    config = json.loads((tmp_path / "out" / "report.json").read_text())["configs"][0]
    assert config["pairs_mean"] == config["drawn_mean"] > 0
    assert 0 < config["saturated_mean"] <= 1
    assert config["saturation_depth_mean"] >= 1  # the stopping splat counts
    with (tmp_path / "out" / "frames.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    saturated = np.mean([float(r["saturated"]) for r in rows])
    assert saturated == pytest.approx(config["saturated_mean"], rel=1e-5)  # 6 digits in the CSV
    assert all(float(r["saturation_depth"]) >= 1 for r in rows)


def test_worst_frame_images_are_written(bench) -> None:
    out, _ = bench
    lite = json.loads((out / "report.json").read_text())["configs"][1]
    worst = lite["worst_frame"]
    assert 0 <= worst["frame"] < FRAMES and worst["psnr"] == lite["psnr"]["min"]
    for key in ("image", "reference"):
        assert (out / worst[key]).stat().st_size > 0


def test_frames_csv_has_a_row_per_config_and_frame(bench) -> None:
    out, _ = bench
    with (out / "frames.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * FRAMES
    assert [(r["config"], r["frame"]) for r in rows] == [
        (c, str(i)) for c in ("full", "lite") for i in range(FRAMES)
    ]
    for row in rows:
        assert float(row["wall_ms"]) > 0 and int(row["visible"]) >= 0
        assert float(row["gpu_ms"]) == pytest.approx(
            sum(float(row[k]) for k in row if k.endswith("_ms") and k not in ("wall_ms", "gpu_ms")),
            rel=1e-4,
        )
        assert 0.0 < float(row["ssim"]) <= 1.0 + 1e-6
        assert (float(row["gaze_x"]), float(row["gaze_y"])) == (32.0, 18.0)  # the centre
        for region in ("fovea", "periphery"):
            assert 0.0 < float(row[f"{region}_ssim"]) <= 1.0 + 1e-6


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_plots_are_written(bench) -> None:
    out, _ = bench
    for name in ("frame_times.png", "passes.png", "quality_fps.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
