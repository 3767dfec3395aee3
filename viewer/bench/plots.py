"""Bench plots: frame time along the path, mean time per pass, and quality against FPS.

Drawn with matplotlib off-screen, with no pyplot state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from viewer.atomic_write import atomic_write
from viewer.bench.folder import FRAME_TIMES_PLOT, PASSES_PLOT, QUALITY_PLOT
from viewer.bench.runner import BenchResult
from viewer.errors import quoted

FIGSIZE = (8.0, 4.5)
DPI = 120


def _figure(report: dict[str, Any], title: str) -> tuple[Figure, Axes]:
    """A figure with one plot, titled with the run's scene, size, path and device."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.subplots()
    scene = quoted(Path(report["scene"]).name)
    ax.set_title(
        f"{title}\n{scene} ({report['gaussians']} Gaussians), "
        f"{report['width']}x{report['height']}, {report['frames']} frames ({report['path']}), "
        f"{report['device']}",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    return fig, ax


def frame_times(result: BenchResult, report: dict[str, Any], path: Path) -> None:
    """Wall time of every frame along the camera path, one line per configuration."""
    fig, ax = _figure(report, "Frame time along the camera path")
    for run in result.runs:
        frames = [r.frame for r in run.records]
        ax.plot(frames, [r.wall_ms for r in run.records], marker=".", label=run.config.name)
    ax.set_xlabel("frame")
    ax.set_ylabel("frame time (ms, ctx.finish to ctx.finish)")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    _save(fig, path)


def passes(report: dict[str, Any], path: Path) -> bool:
    """Stacked bars of the mean time per pass of each configuration; False if no clock trusted."""
    configs = [c for c in report["configs"] if c["passes_ms"]]
    if not configs:
        return False
    fig, ax = _figure(report, "Mean time per pass")
    labels = [c["name"] for c in configs]
    bottom = [0.0] * len(configs)
    for name in report["passes"]:
        heights = [c["passes_ms"].get(name, 0.0) for c in configs]
        ax.bar(labels, heights, bottom=bottom, label=name)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    frame_ms = [c["frame_ms"]["mean"] for c in configs]
    ax.scatter(labels, frame_ms, marker="_", s=600, color="black", label="frame (wall)", zorder=3)
    ax.set_ylabel(f"ms ({configs[0]['clock']})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)
    return True


def quality_fps(report: dict[str, Any], path: Path) -> bool:
    """Mean PSNR against FPS per configuration; False if quality was not measured.

    Configurations identical to the reference in every frame are drawn on a line above the others.
    """
    configs = [c for c in report["configs"] if c["psnr"] is not None]
    if not configs:
        return False
    finite = [c["psnr"]["mean"] for c in configs if c["psnr"]["mean"] is not None]
    ceiling = max(finite, default=40.0) + 5.0
    fig, ax = _figure(report, "Quality against speed")
    for c in configs:
        mean = c["psnr"]["mean"]
        y = ceiling if mean is None else mean
        ax.scatter(c["fps"], y, s=40)
        label = c["name"] + (" (identical)" if mean is None else "")
        ax.annotate(label, (c["fps"], y), xytext=(5, 5), textcoords="offset points")
    ax.axhline(ceiling, color="grey", lw=0.5, ls="--")
    ax.set_xlabel("FPS (from the mean frame time)")
    ax.set_ylabel("mean PSNR against full quality (dB)")
    _save(fig, path)
    return True


def write_plots(out: Path, result: BenchResult, report: dict[str, Any]) -> list[Path]:
    """Draw every plot that has data into `out`; return the files written."""
    written = [out / FRAME_TIMES_PLOT]
    frame_times(result, report, written[0])
    for name, draw in ((PASSES_PLOT, passes), (QUALITY_PLOT, quality_fps)):
        if draw(report, out / name):
            written.append(out / name)
    return written


def _save(fig: Figure, path: Path) -> None:
    """Write the figure as a PNG, atomically."""
    atomic_write(path, lambda file: fig.savefig(file, format="png"))
