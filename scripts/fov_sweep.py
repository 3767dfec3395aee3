"""The README's foveation sweep: `splatscope bench --sweep benchmarks/fov_sweep.json` per scene.

One interleaved run per scene on the 3x3 gaze grid (each orbit camera rendered with the gaze at
9 points; `fov-left`'s fixed gaze stays), then the issue's targets against the full render of
the same run:
    foveation alone (`fov`)  fovea >= 45 dB at <= 0.5 x the full frame time;
    `balanced` preset        whole frame >= 35 dB at <= 0.3 x the full frame time, fovea >= 40 dB.
The same numbers over the frames with the gaze at the image centre follow (the grid's middle
point). Writes benchmarks/fov.json (the numbers) and docs/images/foveation.png: PSNR of the
fovea and of the whole frame against the frame-time ratio, a panel per scene.

Usage: python scripts/fov_sweep.py [--out bench/fov] [--frames 3] [--width 1280 --height 720]
           [--reuse] [SCENE ...]   (default: ../shared/scenes/donut.ply and the built-in scene)
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from sweep_runs import (
    DEFAULT_SCENES,
    REPO,
    bench_report,
    frame_rows,
    psnr_of,
    save_figure,
    scene_label,
)

SWEEP = REPO / "benchmarks" / "fov_sweep.json"
CEILING = 60.0  # dB: PSNRs above (identical frames too) are drawn at the top
QUALITY = ("psnr", "fovea_psnr", "periphery_psnr", "ssim", "fovea_ssim", "periphery_ssim")
GRID_POINTS, CENTRE = 9, 4  # a camera's frames on the gaze grid; the middle one, row by row


def run_bench(scene: str, out: Path, frames: int, width: int, height: int) -> dict[str, Any]:
    """The report.json of the sweep on `scene`, on the gaze grid."""
    options = ["--sweep", str(SWEEP), "--gaze-grid", "--frames", str(frames)]
    options += ["--warmup", "2", "--width", str(width), "--height", str(height)]
    return bench_report(scene, out, options)


def centre_gaze(rows: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, float]]:
    """Per configuration, over the frames with the grid's gaze at the image centre.

    Returns:
        {config: {"ratio", "psnr", "fovea_psnr"}}: the mean frame time over the full render's
        (the first configuration's), the mean PSNR of the whole frame and of the fovea.
    """

    def mean(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]  # PSNR inf: identical, left out
        return sum(finite) / len(finite) if finite else float("inf")

    middle = {
        name: [r for r in config if int(r["frame"]) % GRID_POINTS == CENTRE]
        for name, config in rows.items()
    }
    full_ms = mean([float(r["wall_ms"]) for r in next(iter(middle.values()))])
    return {
        name: {
            "ratio": mean([float(r["wall_ms"]) for r in config]) / full_ms,
            "psnr": mean([float(r["psnr"]) for r in config]),
            "fovea_psnr": mean([float(r["fovea_psnr"]) for r in config]),
        }
        for name, config in middle.items()
    }


def finite(value: Any) -> Any:
    """`value`, or None for an infinite PSNR (identical frames): JSON has no infinity."""
    return None if value == float("inf") else value


def summary(config: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one configuration kept in benchmarks/fov.json (PSNR inf: null)."""
    quality = {
        key: finite(psnr_of(config, key)) if key.endswith("psnr") else config[key]["mean"]
        for key in QUALITY
    }
    return {
        "overrides": config["overrides"],
        "frame_ms": config["frame_ms"]["mean"],
        "ratio_to_full": config["ratio_to_first"],
        **quality,
        "visible_mean": config["visible_mean"],
        "fovea_culled_mean": config["fovea_culled_mean"],
    }


def targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's two targets on one scene: the numbers and whether each is met."""
    configs = {c["name"]: c for c in report["configs"]}
    fov, balanced = configs["fov"], configs["balanced"]
    return {
        "foveation alone (fov): fovea >= 45 dB at <= 0.5x": {
            "fovea_psnr": psnr_of(fov, "fovea_psnr"),
            "ratio": fov["ratio_to_first"],
            "met": psnr_of(fov, "fovea_psnr") >= 45.0 and fov["ratio_to_first"] <= 0.5,
        },
        "balanced: whole >= 35 dB and fovea >= 40 dB at <= 0.3x": {
            "psnr": psnr_of(balanced),
            "fovea_psnr": psnr_of(balanced, "fovea_psnr"),
            "ratio": balanced["ratio_to_first"],
            "met": psnr_of(balanced) >= 35.0
            and psnr_of(balanced, "fovea_psnr") >= 40.0
            and balanced["ratio_to_first"] <= 0.3,
        },
    }


def numbers(reports: dict[str, dict[str, Any]], centres: dict[str, dict]) -> dict[str, Any]:
    """benchmarks/fov.json: the run's setup, then per scene its configurations and targets.

    Args:
        reports: the report.json of each scene's run, by scene label.
        centres: `centre_gaze` of each scene's run, by scene label.
    """
    first = next(iter(reports.values()))
    return {
        "description": "scripts/fov_sweep.py: benchmarks/fov_sweep.json on the 3x3 gaze grid, "
        "one interleaved run per scene; PSNR/SSIM (whole frame, fovea region, periphery) "
        "against the full render of each frame, null PSNR: identical; ratio_to_full: mean "
        "frame time / the full render's; centre_gaze: the same over the frames with the gaze at "
        "the image centre",
        "device": first["device"],
        "platform": first["versions"]["platform"],
        "width": first["width"],
        "height": first["height"],
        "frames": first["frames"],
        "scenes": {
            label: {
                "scene": report["scene"],
                "gaussians": report["gaussians"],
                "configs": {
                    c["name"]: {
                        **summary(c),
                        "centre_gaze": {k: finite(v) for k, v in centres[label][c["name"]].items()},
                    }
                    for c in report["configs"]
                },
                "targets": {
                    name: {key: finite(value) for key, value in target.items()}
                    for name, target in targets(report).items()
                },
            }
            for label, report in reports.items()
        },
    }


def plot(reports: dict[str, dict[str, Any]], path: Path) -> None:
    """Per scene: PSNR of the fovea (filled) and of the whole frame (open) against frame time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(reports), figsize=(6.5 * len(reports), 5.5), squeeze=False)
    for ax, (label, report) in zip(axes[0], reports.items(), strict=True):
        for i, c in enumerate(report["configs"][1:]):
            x, colour = c["ratio_to_first"], f"C{i}"
            fovea = min(psnr_of(c, "fovea_psnr"), CEILING)
            whole = min(psnr_of(c), CEILING)
            ax.plot([x, x], [whole, fovea], color=colour, lw=1, alpha=0.6)
            ax.scatter(x, fovea, color=colour, s=40, label=c["name"])
            ax.scatter(x, whole, facecolors="none", edgecolors=colour, s=40)
        ax.axhline(45, color="grey", ls=":", lw=0.8)
        ax.axhline(35, color="grey", ls="--", lw=0.8)
        ax.axvline(0.5, color="grey", ls=":", lw=0.8)
        ax.axvline(0.3, color="grey", ls="--", lw=0.8)
        full = report["configs"][0]["frame_ms"]["mean"]
        ax.set_title(f"{label}: {report['gaussians']:,} Gaussians, {report['width']}x"
                     f"{report['height']}, full {full:.0f} ms", fontsize=10)  # fmt: skip
        ax.set_xlabel("mean frame time / the full render's (interleaved run)")
        ax.set_ylabel(f"PSNR vs full render (dB; {CEILING:.0f}: identical or above)")
        ax.set_xlim(0.0, max(1.1, max(c["ratio_to_first"] for c in report["configs"]) + 0.05))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right", title="filled: fovea, open: whole frame",
                  title_fontsize=8)  # fmt: skip
    first = next(iter(reports.values()))
    fig.suptitle(f"Foveated rendering, {first['frames']} frames (3x3 gaze grid along the orbit) "
                 f"on {first['device']}; dotted: foveation target, dashed: balanced target",
                 fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.95))
    save_figure(fig, path, dpi=80)


def table(reports: dict[str, dict[str, Any]], centres: dict[str, dict]) -> str:
    """A markdown table per scene: time, ratio, PSNR (whole, fovea, periphery), centre gaze."""

    def db(value: float) -> str:
        return "identical" if value == float("inf") else f"{value:.2f}"

    lines = []
    for label, report in reports.items():
        lines.append(f"\n{label} ({report['gaussians']:,} Gaussians, {report['width']}x"
                     f"{report['height']}, {report['frames']} frames)\n")  # fmt: skip
        lines.append("| config | mean ms | x full | whole dB | fovea dB | periphery dB | SSIM | "
                     "left out | centre gaze: x full, whole dB |")  # fmt: skip
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for c in report["configs"]:
            cells = " | ".join(db(psnr_of(c, k)) for k in ("psnr", "fovea_psnr", "periphery_psnr"))
            centre = centres[label][c["name"]]
            lines.append(
                f"| {c['name']} | {c['frame_ms']['mean']:.1f} | {c['ratio_to_first']:.2f} | "
                f"{cells} | {c['ssim']['mean']:.4f} | {c['fovea_culled_mean']:,.0f} | "
                f"{centre['ratio']:.2f}, {db(centre['psnr'])} |"
            )
        for name, target in targets(report).items():
            values = ", ".join(f"{k} {v:.2f}" for k, v in target.items() if k != "met")
            lines.append(f"- {name}: {'met' if target['met'] else 'NOT met'} ({values})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=DEFAULT_SCENES)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "fov")
    parser.add_argument("--frames", type=int, default=3, help="orbit cameras (9 frames each)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "foveation.png")
    parser.add_argument("--numbers", type=Path, default=REPO / "benchmarks" / "fov.json")
    parser.add_argument("--reuse", action="store_true", help="use the reports already in --out")
    args = parser.parse_args()
    from viewer.atomic_write import atomic_write_text

    reports, centres = {}, {}
    for scene in args.scenes:
        label = scene_label(scene)
        out = args.out / label
        if args.reuse:
            reports[label] = json.loads((out / "report.json").read_text())
        else:
            reports[label] = run_bench(scene, out, args.frames, args.width, args.height)
        centres[label] = centre_gaze(frame_rows(out))
    atomic_write_text(args.numbers, json.dumps(numbers(reports, centres), indent=2) + "\n")
    plot(reports, args.plot)
    print(table(reports, centres))
    print(f"\nwrote {args.numbers} and {args.plot}")


if __name__ == "__main__":
    main()
