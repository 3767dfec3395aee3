"""The README's pruning sweep: `splatscope bench --sweep benchmarks/prune.json` on each scene.

Then one figure of PSNR and FPS against the share of Gaussians kept, per score.

Usage: python scripts/prune_sweep.py [--out bench/prune] [--frames 24] [--width 320 --height 180]
           [SCENE ...]   (default: ../shared/scenes/donut.ply and the built-in scene)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENES = [str(REPO.parent / "shared" / "scenes" / "donut.ply"), "builtin"]
SCORES = ("opacity", "volume", "significance", "efficiency")


def run_bench(scene: str, out: Path, frames: int, width: int, height: int) -> dict:
    """The report.json of the sweep on `scene` ("builtin": the built-in scene)."""
    command = [sys.executable, "-m", "viewer", "bench"] + ([] if scene == "builtin" else [scene])
    sweep = str(REPO / "benchmarks" / "prune.json")
    command += ["--out", str(out), "--sweep", sweep, "--frames", str(frames),
                "--width", str(width), "--height", str(height)]  # fmt: skip
    subprocess.run(command, check=True)
    return json.loads((out / "report.json").read_text())


def curves(report: dict) -> dict[str, list[tuple[float, float, float]]]:
    """Per score: (kept share, mean PSNR, FPS) from 100 % down, the full render first."""
    configs = {c["name"]: c for c in report["configs"]}
    full = configs["full"]
    out = {}
    for score in SCORES:
        points = [(1.0, float("inf"), full["fps"])]
        for name, config in configs.items():
            if name.startswith(score + "-"):
                keep = config["settings"]["prune"]["keep"]
                points.append((keep, config["psnr"]["mean"], config["fps"]))
        out[score] = sorted(points, reverse=True)
    return out


def plot(results: dict[str, dict], path: Path) -> None:
    """PSNR (top) and FPS (bottom) against the kept share, one column per scene."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 7), squeeze=False)
    for column, (label, report) in enumerate(results.items()):
        for score, points in curves(report).items():
            keep = [100 * p[0] for p in points[1:]]
            axes[0][column].plot(keep, [p[1] for p in points[1:]], "o-", label=score)
            axes[1][column].plot([100 * p[0] for p in points], [p[2] for p in points], "o-",
                                 label=score)  # fmt: skip
        axes[0][column].set_title(f"{label}: {report['gaussians']:,} Gaussians, "
                                  f"{report['width']}x{report['height']}")  # fmt: skip
        axes[0][column].set_ylabel("PSNR vs full render (dB)")
        axes[1][column].set_ylabel("FPS")
        for ax in axes[:, column]:
            ax.set_xlabel("Gaussians kept (%)")
            ax.invert_xaxis()
            ax.grid(alpha=0.3)
            ax.legend()
    fig.suptitle(f"Pruning sweep on {next(iter(results.values()))['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def table(results: dict[str, dict]) -> str:
    """A markdown table: mean PSNR (FPS) per score and kept share, per scene."""
    lines = []
    for label, report in results.items():
        per_score = curves(report)
        keeps = [p[0] for p in per_score[SCORES[0]][1:]]
        lines.append(f"\n{label} (full render: {per_score[SCORES[0]][0][2]:.1f} FPS)\n")
        lines.append("| score | " + " | ".join(f"keep {100 * k:.0f} %" for k in keeps) + " |")
        lines.append("|---" * (len(keeps) + 1) + "|")
        for score, points in per_score.items():
            cells = [f"{p[1]:.1f} dB, {p[2]:.1f} FPS" for p in points[1:]]
            lines.append(f"| {score} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", default=DEFAULT_SCENES)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "prune")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "images" / "prune_sweep.png")
    args = parser.parse_args()
    results = {}
    for scene in args.scenes:
        label = Path(scene).stem if scene != "builtin" else "built-in scene"
        results[label] = run_bench(scene, args.out / label, args.frames, args.width, args.height)
    plot(results, args.plot)
    print(table(results))
    print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
