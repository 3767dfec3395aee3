"""The README's level-of-detail sweep: `splatscope bench --sweep benchmarks/lod.json` per scene.

Each scene's run adds `budget-25`, a budget of a quarter of its Gaussians, so that the issue's
targets are measured in the same interleaved run as the full render:
    tau 1 px          >= 40 dB against the full render;
    budget 25 %       >= 30 dB at <= 0.4 x the full frame time.
A second, smaller run per scene follows a smooth orbit (a 12 degree arc of the same orbit in
`--frames` steps, as a camera path file) at half the resolution, tau and budget cuts with and
without blending: its temporal change (the mean absolute frame-to-frame change of each
configuration's images minus that of the full render) is where popping shows.
Then one figure, a column per scene: quality against speed (mean PSNR over the path against
FPS), quality along the path, and the temporal change on the smooth orbit.

Usage: python scripts/lod_sweep.py [--out bench/lod] [--frames 40] [--width 1280 --height 720]
           [SCENE ...]   (default: ../shared/scenes/donut.ply and the built-in scene)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sweep_runs import (
    DEFAULT_SCENES,
    REPO,
    bench_report,
    frame_rows,
    psnr_of,
    save_figure,
    scene_label,
)

ALONG_PATH = ("tau-1", "tau-4", "tau-16", "budget-25", "target-30fps")
CEILING = 60.0  # dB: PSNRs above are drawn at the top of the plots
ARC_KEYFRAMES = 9  # the smooth orbit: keyframes 1.5 degrees apart (of a 240-frame orbit)
STABILITY = {  # configurations of the smooth-orbit run, with blending and without
    "tau-4": "lod.tau=4", "tau-4-hard": "lod.tau=4,lod.blend=false",
    "tau-16": "lod.tau=16", "tau-16-hard": "lod.tau=16,lod.blend=false",
}  # fmt: skip


def scene_count(scene: str) -> int:
    """Gaussians in `scene` ("builtin": the built-in scene)."""
    from viewer.builtin_scene import load_scene_or_builtin

    return load_scene_or_builtin(None if scene == "builtin" else scene).count


def run_bench(scene: str, out: Path, frames: int, width: int, height: int) -> dict:
    """The report.json of the sweep (and budget-25) on `scene`."""
    options = ["--sweep", str(REPO / "benchmarks" / "lod.json")]
    options += ["--config", f"budget-25:lod.budget={scene_count(scene) // 4}"]
    options += ["--frames", str(frames), "--width", str(width), "--height", str(height)]
    return bench_report(scene, out, options)


def smooth_orbit(scene: str, path: Path, width: int, height: int) -> None:
    """A camera path file: a short arc of the bench's orbit, keyframes 1 s apart."""
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.camera_path import CameraPath
    from viewer.path_cameras import camera_path

    loaded = load_scene_or_builtin(None if scene == "builtin" else scene)
    arc = CameraPath()
    for camera in camera_path("orbit", loaded, width, height, 240)[:ARC_KEYFRAMES]:
        arc = arc.appended(camera, 1.0)
    arc.save(path)


def run_stability(scene: str, out: Path, frames: int, width: int, height: int) -> dict:
    """The report.json of the smooth-orbit run on `scene`."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "smooth_orbit.json"
    smooth_orbit(scene, path, width, height)
    budget = scene_count(scene) // 4
    configs = ["full", *(f"{name}:{keys}" for name, keys in STABILITY.items())]
    configs += [
        f"budget-25:lod.budget={budget}",
        f"budget-25-hard:lod.budget={budget},lod.blend=false",
    ]
    options = ["--path", str(path), "--config", *configs]
    options += ["--frames", str(frames), "--width", str(width), "--height", str(height)]
    return bench_report(scene, out, options)


def per_frame(out: Path) -> dict[str, list[float]]:
    """PSNR of every frame per configuration, from frames.csv (inf where identical)."""
    return {
        name: [float(row["psnr"] or "nan") for row in rows]
        for name, rows in frame_rows(out).items()
    }


def targets(report: dict) -> list[str]:
    """The issue's targets on one scene, each a line saying met or not, with the numbers."""
    configs = {c["name"]: c for c in report["configs"]}
    tau, budget = configs["tau-1"], configs["budget-25"]
    lines = [
        f"tau 1 px: {psnr_of(tau):.2f} dB (target >= 40): "
        + ("met" if psnr_of(tau) >= 40 else "NOT met"),
        f"budget 25 % ({budget['settings']['lod']['budget']:,} splats): "
        f"{psnr_of(budget):.2f} dB (target >= 30), {budget['ratio_to_first']:.2f} x the full "
        f"frame time (target <= 0.4): "
        + ("met" if psnr_of(budget) >= 30 and budget["ratio_to_first"] <= 0.4 else "NOT met"),
    ]
    target = configs.get("target-30fps")
    if target is not None:
        lines.append(
            f"target 30 FPS: {target['fps']:.1f} FPS along the orbit (goal >= 15), render "
            f"scale {target['render_scale_mean']:.2f}, {target['lod_drawn_mean']:,.0f} drawn, "
            f"{psnr_of(target):.2f} dB while moving"
        )
    return lines


def plot(results: dict[str, tuple[dict, dict[str, list[float]], dict]], path: Path) -> None:
    """Quality against FPS, PSNR along the path, temporal change: a column per scene."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = len(results)
    fig, axes = plt.subplots(3, columns, figsize=(6.5 * columns, 12), squeeze=False)
    for column, (label, (report, frames, stability)) in enumerate(results.items()):
        configs = [c for c in report["configs"] if c["name"] != "full"]
        full = report["configs"][0]
        top = CEILING
        ax = axes[0][column]
        above = [c for c in configs if psnr_of(c) > top]
        for c in configs:
            y = min(psnr_of(c), top)
            ax.scatter(c["fps"], y, s=30)
            if c not in above:
                ax.annotate(c["name"], (c["fps"], y), xytext=(4, 3), textcoords="offset points",
                            fontsize=8)  # fmt: skip
        if above:
            names = ", ".join(f"{c['name']} ({psnr_of(c):.0f} dB)" for c in above)
            ax.annotate(names, (above[0]["fps"], top), xytext=(4, -12),
                        textcoords="offset points", fontsize=7)  # fmt: skip
        ax.axvline(full["fps"], color="grey", ls="--", lw=0.8, label=f"full: {full['fps']:.1f} FPS")
        ax.set_xlabel("FPS (mean frame time, interleaved run)")
        ax.set_ylabel(f"mean PSNR vs full render (dB, above {top:.0f} at the top)")
        size = f"{report['width']}x{report['height']}"
        ax.set_title(f"{label}: {report['gaussians']:,} Gaussians, {size}, "
                     f"{report['frames']} frames (orbit)")  # fmt: skip
        ax.legend(fontsize=8)
        ax = axes[1][column]
        for name in ALONG_PATH:
            if name in frames:
                ax.plot([min(v, top) for v in frames[name]], label=name)
        ax.set_xlabel("frame along the orbit")
        ax.set_ylabel(f"PSNR vs full render (dB, above {top:.0f} at the top)")
        ax.legend(fontsize=8)
        ax = axes[2][column]
        smooth = [c for c in stability["configs"] if c["name"] != "full"]
        names = [c["name"] for c in smooth]
        change = [255 * (c["temporal_change"] or 0.0) for c in smooth]
        ax.bar(names, change, color=["C3" if "hard" in n else "C0" for n in names])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(f"smooth orbit ({stability['frames']} frames over 12 degrees, "
                     f"{stability['width']}x{stability['height']}): blended (blue), hard (red)",
                     fontsize=9)  # fmt: skip
        ax.set_ylabel("frame-to-frame change minus the full render's (1/255)")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        for axis in axes[:, column]:
            axis.grid(alpha=0.3)
    fig.suptitle(f"Level of detail on {next(iter(results.values()))[0]['device']}")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.97))
    save_figure(fig, path, dpi=80)


def table(results: dict[str, tuple[dict, dict[str, list[float]], dict]]) -> str:
    """A markdown table per scene: speed, quality, drawn splats, render scale, change."""
    lines = []
    for label, (report, _, stability) in results.items():
        size = f"{report['width']}x{report['height']}"
        lines.append(f"\n{label} ({report['gaussians']:,} Gaussians, {size}, "
                     f"{report['frames']} frames along the orbit)\n")  # fmt: skip
        lines.append("| config | mean ms | FPS | x full | PSNR dB | SSIM | drawn | scale | "
                     "change /255 |")  # fmt: skip
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for c in report["configs"]:
            psnr = psnr_of(c)
            shown = "identical" if psnr == float("inf") else f"{psnr:.2f}"
            drawn = c["lod_drawn_mean"] or c["visible_mean"]
            change = 255 * (c["temporal_change"] or 0.0)
            lines.append(
                f"| {c['name']} | {c['frame_ms']['mean']:.1f} | {c['fps']:.1f} | "
                f"{c['ratio_to_first']:.2f} | {shown} | {c['ssim']['mean']:.4f} | {drawn:,.0f} | "
                f"{c['render_scale_mean']:.2f} | {change:+.3f} |"
            )
        lines += ["", *(f"- {line}" for line in targets(report))]
        changes = ", ".join(
            f"{c['name']} {255 * (c['temporal_change'] or 0.0):+.3f}"
            for c in stability["configs"][1:]
        )
        lines += ["", f"Smooth orbit, change /255 against the full render: {changes}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=DEFAULT_SCENES)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "lod")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "lod_sweep.png")
    parser.add_argument("--reuse", action="store_true", help="plot the reports already in --out")
    args = parser.parse_args()
    results = {}
    for scene in args.scenes:
        label = scene_label(scene)
        out = args.out / label
        smooth = args.out / f"{label} smooth"
        if args.reuse:
            report = json.loads((out / "report.json").read_text())
            stability = json.loads((smooth / "report.json").read_text())
        else:
            report = run_bench(scene, out, args.frames, args.width, args.height)
            size = (args.width // 2, args.height // 2)
            stability = run_stability(scene, smooth, args.frames, *size)
        results[label] = (report, per_frame(out), stability)
    plot(results, args.plot)
    print(table(results))
    print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
