"""The bench with foveated rendering: configurations foveate, quality by region, the gaze grid,
the scenes that hold subset levels, the checked-in sweep."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.gpu_readback import read_levels
from viewer.bench.configs import load_sweep, parse_config
from viewer.bench.paths import GAZE_GRID, PathFrame, path_frames
from viewer.bench.runner import REGION_METRICS, Target, region_mask
from viewer.bench.scenes import ConfigScenes
from viewer.camera import Camera
from viewer.cli import main
from viewer.features.foveation import region_fovea, subset_levels
from viewer.features.score_cache import cached_scores
from viewer.formats import save_scene
from viewer.render.fovea import fovea_mask
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.settings import FoveationSettings, RenderSettings

REPO = Path(__file__).resolve().parents[1]
W, H = 64, 36
CAMERAS = 2
SCORES = "prune.views=2,prune.view_width=32"  # quick scores


@pytest.fixture(scope="module")
def fov_bench(tmp_path_factory, gl_ctx) -> Path:
    """Four configurations on the gaze grid: none, foveation, a fixed gaze, the preset."""
    folder = tmp_path_factory.mktemp("fov_bench")
    scene = folder / "scene.ply"
    save_scene(random_scene(np.random.default_rng(8), 1200, sh_degree=1, spread=2.0), scene)
    args = ["bench", str(scene), "--out", str(folder / "out"), "--frames", str(CAMERAS)]
    args += ["--warmup", "1", "--width", str(W), "--height", str(H), "--gaze-grid"]
    args += ["--config", f"full:{SCORES}", f"fov:fov.fovea=5,fov.bands=3,3,{SCORES}"]
    args += [
        f"fixed:fov.gaze_x=0.25,fov.gaze_y=0.75,{SCORES}",
        f"balanced:preset=balanced,{SCORES}",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        assert main(args) == 0
    return folder / "out"


def rows_of(out: Path) -> dict[str, list[dict[str, str]]]:
    with (out / "frames.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    by_config: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_config.setdefault(row["config"], []).append(row)
    return by_config


def db(summary: dict) -> float:
    """Mean PSNR of a summary (inf when every frame was identical)."""
    return np.inf if summary["mean"] is None else summary["mean"]


def test_the_report_has_quality_by_region(fov_bench) -> None:
    report = json.loads((fov_bench / "report.json").read_text())
    assert report["gaze_grid"] is True and report["frames"] == 9 * CAMERAS
    configs = {c["name"]: c for c in report["configs"]}
    full, fov = configs["full"], configs["fov"]
    for config in configs.values():
        assert set(REGION_METRICS) <= set(config)
        assert 0.0 < config["fovea_ssim"]["mean"] <= 1.0 + 1e-6
    # the full render holds the levels `fov` draws (one scene): without a fovea it draws all
    for key in ("psnr", "fovea_psnr", "periphery_psnr"):
        assert db(full[key]) > 100.0
    assert full["fovea_culled_mean"] == 0 and fov["fovea_culled_mean"] > 0
    assert db(fov["fovea_psnr"]) > 60.0  # the fovea is the full render
    assert db(fov["periphery_psnr"]) < 80.0 and db(fov["psnr"]) < 80.0  # Gaussians left out
    assert fov["settings"]["fov"]["enabled"] and fov["settings"]["fov"]["fovea"] == 5.0
    balanced = configs["balanced"]  # LOD, pruning and the subsets on a scene of its own
    assert balanced["lod_drawn_mean"] > 0 and balanced["fovea_culled_mean"] > 0
    assert balanced["visible_mean"] < full["visible_mean"]


def test_the_gaze_grid_moves_the_gaze_but_not_a_fixed_one(fov_bench) -> None:
    rows = rows_of(fov_bench)
    grid = [v for y in GAZE_GRID for x in GAZE_GRID for v in (x * W, y * H)] * CAMERAS
    for name in ("full", "fov"):
        gazes = [float(r[key]) for r in rows[name] for key in ("gaze_x", "gaze_y")]
        assert gazes == pytest.approx(grid, rel=1e-5)
        assert [int(r["frame"]) for r in rows[name]] == list(range(9 * CAMERAS))
    assert {(r["gaze_x"], r["gaze_y"]) for r in rows["fixed"]} == {("16", "27")}
    for row in rows["fov"]:
        assert set(REGION_METRICS) <= set(row) and float(row["fovea_culled"]) >= 0
        assert row["fovea_psnr"] == "inf" or float(row["fovea_psnr"]) > 60.0


def test_the_gaze_of_a_frame() -> None:
    camera = Camera(60, 30, 30.0, 30.0, 30.0, 15.0)
    renderer = SimpleNamespace(backend="quads")

    def target(text: str) -> Target:
        return Target(parse_config(text), renderer, None)

    on_grid, plain = PathFrame(camera, (1 / 6, 5 / 6)), PathFrame(camera)
    centre, fixed = target("c:fov.enabled=true"), target("f:fov.gaze_x=0.1,fov.gaze_y=0.2")
    mouse = target("m:fov.gaze=mouse")
    assert centre.gaze(plain) == mouse.gaze(plain) == (30.0, 15.0)
    assert centre.gaze(on_grid) == mouse.gaze(on_grid) == pytest.approx((10.0, 25.0))
    assert fixed.gaze(plain) == fixed.gaze(on_grid) == pytest.approx((6.0, 6.0))
    inputs = centre.inputs(on_grid)
    assert inputs.fovea is not None and inputs.fovea.subsets
    assert inputs.gaze == pytest.approx((10.0, 25.0))
    assert target("off").inputs(on_grid).fovea is None
    with pytest.raises(ValueError, match="enable LOD too"):  # no cut: nothing to coarsen
        target("l:fov.source=lod")
    assert target("l:fov.source=lod,lod.tau=2").inputs(plain).fovea is not None


def test_path_frames_on_the_gaze_grid() -> None:
    cameras = [Camera(60, 30, 30.0, 30.0, 30.0, 15.0, name=f"c{i}") for i in range(2)]
    assert [f.gaze for f in path_frames(cameras)] == [None, None]
    grid = path_frames(cameras, gaze_grid=True)
    assert [f.camera.name for f in grid] == ["c0"] * 9 + ["c1"] * 9
    assert [f.gaze for f in grid[:3]] == [(1 / 6, 1 / 6), (0.5, 1 / 6), (5 / 6, 1 / 6)]
    assert grid[4].gaze == (0.5, 0.5) and grid[8].gaze == (5 / 6, 5 / 6)


def test_region_masks_are_cached_by_intrinsics_not_pose() -> None:
    fovea = region_fovea(FoveationSettings())
    camera = Camera(80, 40, 40.0, 40.0, 40.0, 20.0)
    moved = Camera(80, 40, 40.0, 40.0, 40.0, 20.0, world_to_camera=np.diag([1.0, -1, -1, 1]))
    mask = region_mask(camera, fovea, (20.0, 10.0))
    assert np.array_equal(mask, fovea_mask(camera, fovea, (20.0, 10.0)))
    assert region_mask(moved, fovea, (20.0, 10.0)) is mask and not mask.flags.writeable
    assert region_mask(camera, fovea, (60.0, 10.0)) is not mask


def test_configs_share_a_scene_unless_their_levels_differ(tmp_path, monkeypatch, gl_ctx) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scene = random_scene(np.random.default_rng(9), 400, sh_degree=0, spread=2.0)
    renderer = SplatRenderer(gl_ctx)
    camera = Camera(48, 32, 40.0, 40.0, 24.0, 16.0, world_to_camera=np.array(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4.0], [0, 0, 0, 1]]))  # fmt: skip
    scenes = ConfigScenes(renderer, scene, camera)
    full = scenes.full
    texts = ["plain", "fov-a:fov.enabled=true", "fov-b:fov.shares=1,0.5,0.3,0.1", "again",
             "fov-a2:fov.fovea=20", "pruned:prune.keep=0.5", "lod-source:fov.source=lod,lod.tau=2",
             "pruned-fov:prune.keep=0.5,fov.enabled=true"]  # fmt: skip
    configs = [parse_config(f"{text}{',' if ':' in text else ':'}{SCORES}") for text in texts]
    try:
        drawn = {c.name: scenes.of(c) for c in configs}
        assert drawn["plain"] is drawn["fov-a"] is drawn["again"] is drawn["fov-a2"] is full
        assert drawn["lod-source"] is full  # levels unused
        assert drawn["fov-b"] is not full and drawn["pruned"] is drawn["pruned-fov"]
        assert drawn["pruned"] is not full
        assert len({id(s) for s in drawn.values()}) == 3
        assert scenes.of(configs[1]) is full  # made once
        prune = configs[0].prune
        scores = cached_scores(renderer, full, scene, prune, configs[0].render.near_plane)
        a, b = (FoveationSettings().shares, (1.0, 0.5, 0.3, 0.1))
        leaves = slice(0, scene.count)  # lod-source attached the LOD tree's nodes to `full`
        assert np.array_equal(read_levels(full)[leaves], subset_levels(scores["significance"], a))
        assert np.array_equal(read_levels(drawn["fov-b"]), subset_levels(scores["significance"], b))
        assert np.array_equal(read_levels(drawn["pruned"]), read_levels(full)[leaves])
        # pruned as the window prunes: the flags hide half the Gaussians
        hidden = (drawn["pruned"].read("flags") & FLAG_PRUNED) != 0
        assert hidden.sum() == scene.count - round(0.5 * scene.count)
        # a frame without a fovea draws every Gaussian of a scene that holds levels
        bare = GpuScene.from_scene(gl_ctx, scene)
        try:
            images = [renderer.render_image(s, FrameInputs(camera), RenderSettings())
                      for s in (full, bare)]  # fmt: skip
        finally:
            bare.release()
        assert np.abs(images[0]).max() > 0
        # the same Gaussians drawn (one frame may take the GL preprocess, the other the host's:
        # `full` was just written, float rounding differs)
        np.testing.assert_allclose(images[0], images[1], rtol=0, atol=1e-6)
    finally:
        scenes.release()
        renderer.release()


def test_the_checked_in_fov_sweep_parses() -> None:
    configs = load_sweep(REPO / "benchmarks" / "fov_sweep.json")
    assert configs[0].name == "full" and not configs[0].fov.enabled
    assert any(c.fov.enabled and not c.lod.enabled and not c.prune.active for c in configs)
    balanced = {c.name: c for c in configs}["balanced"]
    assert balanced.fov.enabled and balanced.lod.enabled and balanced.prune.active


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib")
def test_the_sweep_script_writes_numbers_and_the_figure(fov_bench, tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import fov_sweep

    report = json.loads((fov_bench / "report.json").read_text())
    reports = {"a scene": report}
    centres = {"a scene": fov_sweep.centre_gaze(fov_sweep.frame_rows(fov_bench))}
    assert centres["a scene"]["full"]["ratio"] == 1.0
    assert set(centres["a scene"]) == {"full", "fov", "fixed", "balanced"}
    numbers = json.loads(json.dumps(fov_sweep.numbers(reports, centres), allow_nan=False))
    scene = numbers["scenes"]["a scene"]
    assert set(scene["configs"]) == {"full", "fov", "fixed", "balanced"}
    assert scene["configs"]["full"]["ratio_to_full"] == 1.0
    assert (
        scene["configs"]["fov"]["fovea_psnr"] is None or scene["configs"]["fov"]["fovea_psnr"] > 60
    )
    assert all(isinstance(t["met"], bool) for t in scene["targets"].values())
    assert "| balanced |" in fov_sweep.table(reports, centres)
    assert scene["configs"]["fov"]["centre_gaze"]["ratio"] > 0
    fov_sweep.plot(reports, tmp_path / "fov.png")
    assert (tmp_path / "fov.png").read_bytes()[:4] == b"\x89PNG"


def test_the_checked_in_numbers_cover_the_sweep_on_both_scenes() -> None:
    numbers = json.loads((REPO / "benchmarks" / "fov.json").read_text())
    names = {c.name for c in load_sweep(REPO / "benchmarks" / "fov_sweep.json")}
    assert set(numbers["scenes"]) == {"donut", "built-in scene"}
    assert (numbers["width"], numbers["height"]) == (1280, 720)
    for scene in numbers["scenes"].values():
        assert set(scene["configs"]) == names
        assert len(scene["targets"]) == 2
        assert all(isinstance(t["met"], bool) for t in scene["targets"].values())
