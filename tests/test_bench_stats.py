"""Bench statistics on synthetic timings: percentiles, FPS, ratios, pass means, quality."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewer.bench.configs import parse_config
from viewer.bench.report import (
    BenchSetup,
    build_report,
    pass_names,
    psnr_summary,
    quality_summary,
    summary_table,
)
from viewer.bench.runner import BenchResult, ConfigRun, FrameRecord
from viewer.render.context import DeviceInfo

SOFTWARE = DeviceInfo("llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa", "4.5", 1 << 27, 65535)
GPU = DeviceInfo("NVIDIA H100 80GB HBM3/PCIe/SSE2", "NVIDIA Corporation", "4.6", 1 << 31, 65535)
SETUP = BenchSetup("s.ply", 10, 3, "orbit", 64, 36, 100, 0, "auto", True, ("splatscope", "bench"))


def records(name: str, wall_ms: np.ndarray, psnr: float = 30.0) -> list[FrameRecord]:
    return [
        FrameRecord(
            name,
            i,
            float(ms),
            {"preprocess": 1.0, "sort": 2.0 + i % 2, "raster": float(ms) - 5.0},
            visible=100 + i,
            drawn=200,
            psnr=psnr,
            ssim=0.9,
        )
        for i, ms in enumerate(wall_ms)
    ]


def result(device: DeviceInfo = SOFTWARE, clock: str = "finish+wall") -> BenchResult:
    shuffled = np.random.default_rng(0).permutation(np.arange(1, 101, dtype=np.float64))
    runs = [
        ConfigRun(parse_config(name), records(name, ms, psnr), "quads", "cpu", clock, 1234, None)
        for name, ms, psnr in (("base", shuffled / 2, math.inf), ("slow", shuffled, 30.0))
    ]
    return BenchResult(runs, device, 5 << 20)


def test_frame_time_percentiles_fps_and_ratio() -> None:
    base, slow = build_report(SETUP, result())["configs"]
    assert slow["frame_ms"] == pytest.approx(
        {"mean": 50.5, "p50": 50.5, "p90": 90.1, "p99": 99.01, "max": 100.0}
    )
    assert base["frame_ms"]["p90"] == pytest.approx(45.05)
    assert slow["fps"] == pytest.approx(1000 / 50.5)
    assert (base["ratio_to_first"], slow["ratio_to_first"]) == pytest.approx((1.0, 2.0))
    assert slow["passes_ms"] == pytest.approx({"preprocess": 1.0, "sort": 2.5, "raster": 45.5})
    assert slow["visible_mean"] == pytest.approx(149.5) and slow["drawn_mean"] == 200.0
    assert slow["gpu_bytes"] == 1234


def test_quality_summaries() -> None:
    assert psnr_summary([30.0, math.inf, 40.0]) == {
        "mean": 35.0,
        "min": 30.0,
        "identical_frames": 1,
    }
    assert psnr_summary([math.inf] * 3) == {"mean": None, "min": None, "identical_frames": 3}
    assert psnr_summary([math.nan, math.nan]) is None
    assert quality_summary([0.5, 0.7]) == pytest.approx({"mean": 0.6, "min": 0.5})
    base, slow = build_report(SETUP, result())["configs"]
    assert base["psnr"]["mean"] is None and slow["psnr"]["min"] == 30.0
    assert slow["ssim"] == pytest.approx({"mean": 0.9, "min": 0.9})


@pytest.mark.parametrize(
    ("device", "clock", "trusted"),
    [(SOFTWARE, "gl-timer", False), (SOFTWARE, "finish+wall", True), (GPU, "gl-timer", True)],
)
def test_pass_times_only_from_a_trusted_clock(device, clock: str, trusted: bool) -> None:
    for config in build_report(SETUP, result(device, clock))["configs"]:
        assert config["clock_trusted"] is trusted
        assert (config["passes_ms"] is not None) is trusted


def test_pass_order_merges_the_backends() -> None:
    quads = FrameRecord("q", 0, 1.0, dict.fromkeys(["preprocess", "sort", "raster", "resolve"], 1))
    tiles = FrameRecord("t", 0, 1.0, dict.fromkeys(["preprocess", "sort", "bin", "raster"], 1.0))
    assert pass_names([quads, tiles]) == ["preprocess", "sort", "bin", "raster", "resolve"]


def test_summary_table_has_a_row_per_config() -> None:
    table = summary_table(build_report(SETUP, result()))
    lines = table.splitlines()
    assert len(lines) == 4 and "orbit" in lines[0]
    assert lines[2].split()[:3] == ["base", "quads", "25.25"]
    assert "identical" in lines[2] and "30.00" in lines[3] and "2.000" in lines[3]
