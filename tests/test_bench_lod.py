"""The bench with level of detail: the tau, budget and frame-rate target configurations, their
LOD columns and the temporal-change figure; the checked-in LOD sweep parses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.bench.configs import load_sweep
from viewer.cli import main
from viewer.formats import save_scene

REPO = Path(__file__).resolve().parents[1]
FRAMES = 4


@pytest.fixture(scope="module")
def lod_bench(tmp_path_factory, gl_ctx) -> Path:
    """A tiny bench of four configurations: no LOD, tau, budget and a frame-rate target."""
    folder = tmp_path_factory.mktemp("lod_bench")
    scene = folder / "scene.ply"
    save_scene(random_scene(np.random.default_rng(5), 1500, sh_degree=1, spread=2.0), scene)
    args = ["bench", str(scene), "--out", str(folder / "out"), "--frames", str(FRAMES)]
    args += ["--warmup", "3", "--width", "480", "--height", "320"]
    args += ["--config", "full", "tau:lod.tau=20", "budget:lod.budget=300"]
    args += ["fast:lod.target_fps=240,lod.min_scale=0.5"]  # beyond 2 cores at 480x320: scaled
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        assert main(args) == 0
    assert len(list((folder / "cache" / "splatscope" / "lod").glob("*.npz"))) == 1
    return folder / "out"


def test_lod_configs_report_their_cut(lod_bench) -> None:
    configs = {c["name"]: c for c in json.loads((lod_bench / "report.json").read_text())["configs"]}
    full, tau, budget, fast = (configs[n] for n in ("full", "tau", "budget", "fast"))
    assert full["lod_drawn_mean"] is None and full["render_scale_mean"] == 1.0
    assert full["settings"]["lod"]["enabled"] is False
    assert tau["settings"]["lod"]["cut"] == "tau" and 0 < tau["lod_drawn_mean"] < 1500
    assert budget["settings"]["lod"]["cut"] == "budget" and budget["lod_drawn_mean"] <= 300
    assert fast["settings"]["lod"]["cut"] == "target_fps"
    assert 0.5 <= fast["render_scale_mean"] < 1.0
    for config in configs.values():
        assert isinstance(config["temporal_change"], float)
    assert abs(full["temporal_change"]) < 1e-3  # the full render against itself
    assert full["psnr"]["mean"] is None or budget["psnr"]["mean"] < full["psnr"]["mean"]


def test_frames_csv_has_the_lod_columns(lod_bench) -> None:
    with (lod_bench / "frames.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 * FRAMES
    for row in rows:
        scale, drawn = float(row["render_scale"]), int(row["lod_drawn"])
        if row["config"] == "full":
            assert scale == 1.0 and drawn == 0 and row["lod_tau"] == ""
        else:
            assert drawn > 0 and float(row["lod_tau"]) > 0
        assert (row["change"] == "") == (row["frame"] == "0")


def test_the_checked_in_lod_sweep_parses() -> None:
    configs = load_sweep(REPO / "benchmarks" / "lod.json")
    cuts = {c.lod.cut for c in configs if c.lod.enabled}
    assert cuts == {"tau", "budget", "target_fps"} and not configs[0].lod.enabled


def test_render_draws_the_cut_and_the_level_heat_map(tmp_path, monkeypatch, gl_ctx) -> None:
    from PIL import Image

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scene = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(6), 800, sh_degree=1, spread=2.0), scene)
    size = ["--width", "64", "--height", "48"]
    images = {}
    for name, flags in (
        ("full", []),
        ("budget", ["--lod.budget", "100"]),
        ("levels", ["--lod.budget", "100", "--mode", "heatmap", "--heatmap", "lod_level"]),
    ):
        out = tmp_path / f"{name}.png"
        assert main(["render", str(scene), "--out", str(out), *size, *flags]) == 0
        images[name] = np.asarray(Image.open(out), np.float64)
    assert np.abs(images["budget"] - images["full"]).mean() > 0.5  # coarser
    assert np.abs(images["levels"] - images["budget"]).mean() > 5  # false colour
