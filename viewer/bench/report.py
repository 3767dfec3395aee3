"""Bench outputs: report.json, frames.csv, worst-frame PNGs and the summary table.

The schema of report.json is in docs/bench_report_schema.md.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from viewer.atomic_write import atomic_write_text
from viewer.bench.folder import FRAMES, REPORT, WORST_DIR
from viewer.bench.runner import REGION_METRICS, BenchResult, ConfigRun, FrameRecord, WorstFrame
from viewer.errors import quoted
from viewer.image_files import save_png
from viewer.render.timers import CLOCK_GL_TIMER
from viewer.settings import RenderSettings
from viewer.stats import summarize

SCHEMA_VERSION = 1
PACKAGES = ("splatscope", "numpy", "torch", "moderngl")


@dataclass(frozen=True)
class BenchSetup:
    """What was asked for: everything needed to run the same bench again."""

    scene: str
    gaussians: int
    sh_degree: int
    path: str
    width: int
    height: int
    frames: int
    warmup: int
    clock: str
    quality: bool
    command: tuple[str, ...]
    gaze_grid: bool = False


def versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape the numbers."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def pass_names(records: list[FrameRecord]) -> list[str]:
    """Every pass name, in frame order (a pass only some frames ran follows its predecessor)."""
    names: list[str] = []
    for record in records:
        previous = -1
        for name in record.pass_ms:
            if name not in names:
                names.insert(previous + 1, name)
            previous = names.index(name)
    return names


def quality_summary(values: list[float]) -> dict[str, float | None] | None:
    """{"mean", "min"} of the finite per-frame values; None if none was measured (all NaN).

    Both are None when no value is finite.
    """
    array = np.asarray(values, np.float64)
    if array.size == 0 or np.isnan(array).all():
        return None
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return {"mean": None, "min": None}
    return {"mean": float(finite.mean()), "min": float(finite.min())}


def psnr_summary(values: list[float]) -> dict[str, Any] | None:
    """quality_summary plus "identical_frames": frames equal to the reference (PSNR inf).

    Mean and min leave those frames out.
    """
    summary = quality_summary(values)
    if summary is None:
        return None
    return {**summary, "identical_frames": int(np.isinf(values).sum())}


def region_summaries(records: list[FrameRecord]) -> dict[str, dict[str, Any] | None]:
    """The fovea's and the periphery's PSNR (`psnr_summary`) and SSIM (`quality_summary`)."""
    return {
        name: (psnr_summary if name.endswith("psnr") else quality_summary)(
            [getattr(r, name) for r in records]
        )
        for name in REGION_METRICS
    }


def config_report(run: ConfigRun, first_mean_ms: float, trusted: bool) -> dict[str, Any]:
    """The report entry of one configuration."""
    records = run.records
    frame_ms = summarize(r.wall_ms for r in records)
    names = pass_names(records)
    passes = {n: float(np.mean([r.pass_ms.get(n, 0.0) for r in records])) for n in names}
    binned = run.backend in ("tiles", "cpu")
    pairs = float(np.mean([r.drawn for r in records])) if binned else None
    return {
        "name": run.config.name,
        "overrides": run.config.overrides,
        "settings": run.config.to_json(),
        "backend": run.backend,
        "sort": run.sort,
        "clock": run.clock,
        "clock_trusted": trusted,
        "frame_ms": frame_ms,
        "fps": 1e3 / frame_ms["mean"],
        "ratio_to_first": frame_ms["mean"] / first_mean_ms,
        "passes_ms": passes if trusted else None,
        "visible_mean": float(np.mean([r.visible for r in records])),
        "drawn_mean": float(np.mean([r.drawn for r in records])),
        "pairs_mean": pairs,
        "dropped_total": int(sum(r.dropped for r in records)),
        "gpu_bytes": run.gpu_bytes,
        "psnr": psnr_summary([r.psnr for r in records]),
        "ssim": quality_summary([r.ssim for r in records]),
        **region_summaries(records),
        "worst_frame": _worst_entry(run),
        "render_scale_mean": float(np.mean([r.render_scale for r in records])),
        "lod_drawn_mean": _mean_or_none([r.lod_drawn for r in records if r.lod_drawn]),
        "temporal_change": _mean_or_none([r.change for r in records]),
        "fovea_culled_mean": float(np.mean([r.fovea_culled for r in records])),
        "saturated_mean": _mean_or_none([r.saturated for r in records]),
        "saturation_depth_mean": _mean_or_none([r.saturation_depth for r in records]),
        "stream": _stream_entry(run),
    }


def _stream_entry(run: ConfigRun) -> dict[str, Any] | None:
    """A streamed scene's numbers: frames drawn while refining, reads, memory at the end."""
    facts = run.stream
    if facts is None:
        return None
    return {
        "refining_frames": sum(1 for r in run.records if r.waiting),
        "waiting_mean": float(np.mean([r.waiting for r in run.records])),
        "drawn": facts.drawn,
        "by_level": list(facts.by_level),
        "loads": facts.loads,
        "evictions": facts.evictions,
        "swaps": facts.swaps,
        "gpu_bytes": facts.gpu_bytes,
        "gpu_budget_bytes": facts.gpu_budget,
        "host_bytes": facts.host_bytes,
        "host_budget_bytes": facts.host_budget,
        "failures": list(facts.failures),
    }


def _mean_or_none(values: list[float]) -> float | None:
    """The mean of the finite values, None when there is none."""
    array = np.asarray(values, np.float64)
    finite = array[np.isfinite(array)]
    return float(finite.mean()) if finite.size else None


def build_report(setup: BenchSetup, result: BenchResult) -> dict[str, Any]:
    """The whole report.json document."""
    device = result.device
    first = result.runs[0]
    first_mean = float(np.mean([r.wall_ms for r in first.records]))
    configs = [
        config_report(run, first_mean, run.clock != CLOCK_GL_TIMER or not device.is_software)
        for run in result.runs
    ]
    reference = {
        "render": dataclasses.asdict(RenderSettings()),
        "raster": dataclasses.asdict(first.config.raster),
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "scene": setup.scene,
        "gaussians": setup.gaussians,
        "sh_degree": setup.sh_degree,
        "path": setup.path,
        "gaze_grid": setup.gaze_grid,
        "width": setup.width,
        "height": setup.height,
        "frames": setup.frames,
        "warmup": setup.warmup,
        "clock": setup.clock,
        "device": device.renderer,
        "gl": {"renderer": device.renderer, "vendor": device.vendor, "version": device.version},
        "versions": versions(),
        "command": list(setup.command),
        "peak_rss_bytes": result.peak_rss_bytes,
        "first_frame_ms": result.first_frame_ms,
        "passes": pass_names([r for run in result.runs for r in run.records]),
        "reference": reference if setup.quality else None,
        "configs": configs,
    }


def write_outputs(out: Path, setup: BenchSetup, result: BenchResult) -> dict[str, Any]:
    """Write report.json, frames.csv and worst-frame PNG pairs into `out`; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    for run in result.runs:
        worst = run.worst
        if worst is not None and math.isfinite(worst.psnr):
            image, reference = _worst_paths(run, worst)
            (out / WORST_DIR).mkdir(exist_ok=True)
            save_png(worst.image, out / image)
            save_png(worst.reference, out / reference)
    report = build_report(setup, result)
    atomic_write_text(out / REPORT, json.dumps(report, indent=2, allow_nan=False) + "\n")
    write_frames_csv(out / FRAMES, result)
    return report


def write_frames_csv(path: Path, result: BenchResult) -> None:
    """One row per configuration and frame; pass columns are `<pass>_ms` (blank if not run)."""
    records = [r for run in result.runs for r in run.records]
    names = pass_names(records)
    columns = ["config", "frame", "wall_ms", "gpu_ms", *[f"{n}_ms" for n in names]]
    columns += ["visible", "drawn", "dropped", "psnr", "ssim", *REGION_METRICS]
    columns += ["render_scale", "lod_drawn", "lod_tau", "change"]
    columns += ["gaze_x", "gaze_y", "fovea_culled", "saturated", "saturation_depth"]
    columns += ["waiting"]
    stream = io.StringIO(newline="")
    writer = csv.writer(stream)
    writer.writerow(columns)
    for r in records:
        passes = [_cell(r.pass_ms[n]) if n in r.pass_ms else "" for n in names]
        times = [_cell(r.wall_ms), _cell(sum(r.pass_ms.values())), *passes]
        quality = [_cell(r.psnr), _cell(r.ssim), *(_cell(getattr(r, n)) for n in REGION_METRICS)]
        lod = [_cell(r.render_scale), r.lod_drawn, _cell(r.lod_tau), _cell(r.change)]
        fovea = [_cell(r.gaze[0]), _cell(r.gaze[1]), r.fovea_culled]
        fovea += [_cell(r.saturated), _cell(r.saturation_depth)]
        fovea += [r.waiting]
        counts = [r.visible, r.drawn, r.dropped]
        writer.writerow([r.config, r.frame, *times, *counts, *quality, *lod, *fovea])
    atomic_write_text(path, stream.getvalue())


def summary_table(report: dict[str, Any]) -> str:
    """A plain-text table of the configurations, one row each."""
    header: tuple[str, ...] = ("config", "backend", "mean ms", "p50", "p90", "p99", "max", "FPS")
    header += ("x first", "visible", "PSNR dB", "SSIM", "fovea dB", "periph dB", "pop /255")
    rows = [header]
    for c in report["configs"]:
        ms = c["frame_ms"]
        rows.append(
            (
                c["name"],
                c["backend"],
                *(f"{ms[k]:.2f}" for k in ("mean", "p50", "p90", "p99", "max")),
                f"{c['fps']:.1f}",
                f"{c['ratio_to_first']:.3f}",
                f"{c['visible_mean']:.0f}",
                _quality_cell(c["psnr"], "{:.2f}"),
                _quality_cell(c["ssim"], "{:.4f}"),
                _quality_cell(c["fovea_psnr"], "{:.2f}"),
                _quality_cell(c["periphery_psnr"], "{:.2f}"),
                "-" if c["temporal_change"] is None else f"{255 * c['temporal_change']:+.3f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    title = (
        f"{quoted(report['scene'])}: {report['gaussians']} Gaussians, "
        f"{report['width']}x{report['height']}, {report['frames']} frames along "
        f"{report['path']}{' (3x3 gaze grid)' if report['gaze_grid'] else ''}, {report['device']}"
    )
    return "\n".join([title, *lines])


def _quality_cell(summary: dict[str, Any] | None, fmt: str) -> str:
    if summary is None:
        return "-"
    if summary["mean"] is None:
        return "identical"
    return fmt.format(summary["mean"])


def _worst_paths(run: ConfigRun, worst: WorstFrame) -> tuple[str, str]:
    stem = f"{WORST_DIR}/{run.config.name}_frame{worst.frame:04d}"
    return f"{stem}_render.png", f"{stem}_reference.png"


def _worst_entry(run: ConfigRun) -> dict[str, Any] | None:
    worst = run.worst
    if worst is None or not math.isfinite(worst.psnr):
        return None
    image, reference = _worst_paths(run, worst)
    return {
        "frame": worst.frame,
        "psnr": worst.psnr,
        "ssim": worst.ssim,
        "image": image,
        "reference": reference,
    }


def _cell(value: float) -> str:
    """A CSV number: 'inf' for identical images, blank when not measured."""
    if math.isnan(value):
        return ""
    return "inf" if math.isinf(value) else f"{value:.6g}"
