"""Out-of-core viewing measured: a large streamed SOG against a 1M-Gaussian one, same budgets.

Usage: python scripts/bench_streaming.py BIG/lod-meta.json SMALL/lod-meta.json
           [--width 1280 --height 720] [--frames 24] [--warmup 8] [--rounds 2] [--path orbit]
           [--set stream.gpu_budget_mb=512 ...]

Runs `splatscope bench` on each scene in its own process (so that each peak RSS is its own),
the two alternating for `--rounds` rounds, with the default stream budgets unless `--set`
overrides them, no quality probe, `--warmup` untimed frames first (they stream too). Prints per
scene the medians over rounds of the time from reading the scene to its first finished frame,
the frame time (p50 along the path, and p50 of the frames drawn with no leaf waiting for its
chunk: the steady state, where both scenes draw what the budget allows), the frames drawn while
some leaf waited, the Gaussians drawn at the end and the peak RSS, and the ratios of the frame
times.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def bench(scene: Path, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The numbers of one `splatscope bench` run on `scene`."""
    config = "stream" + (":" + ",".join(args.set) if args.set else "")
    command = [sys.executable, "-m", "viewer", "bench", str(scene), "--out", str(out),
               "--frames", str(args.frames), "--warmup", str(args.warmup), "--width",
               str(args.width), "--height", str(args.height), "--no-quality", "--path", args.path,
               "--config", config]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench_streaming: {scene}: {result.stderr.strip().splitlines()[-1]}")
    report = json.loads((out / "report.json").read_text())
    run = report["configs"][0]
    with (out / "frames.csv").open() as frames:
        steady = [float(row["wall_ms"]) for row in csv.DictReader(frames) if row["waiting"] == "0"]
    return {
        "gaussians": report["gaussians"],
        "first_frame_ms": report["first_frame_ms"],
        "frame_p50_ms": run["frame_ms"]["p50"],
        "steady_p50_ms": statistics.median(steady) if steady else math.nan,
        "refining_frames": run["stream"]["refining_frames"],
        "drawn": run["stream"]["drawn"],
        "peak_rss_mb": report["peak_rss_bytes"] / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("big", type=Path)
    parser.add_argument("small", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--path", default="orbit")
    parser.add_argument("--set", nargs="*", default=[], help="stream settings, key=value")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"big": [], "small": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for name in ("big", "small"):
                out = Path(folder) / f"{name}_{round_}"
                runs[name].append(bench(getattr(args, name), out, args))
                print(name, round_, runs[name][-1], flush=True)
    medians = {
        name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
        for name, rs in runs.items()
    }
    print(f"{args.width}x{args.height}, {args.frames} frames along {args.path}, {args.rounds} "
          f"rounds, settings {args.set or 'default'}")  # fmt: skip
    print("scene   Gaussians   first frame ms   frame p50 ms   steady p50 ms   refining frames"
          "   drawn   RSS MB")  # fmt: skip
    for name, m in medians.items():
        print(f"{name:6} {m['gaussians']:>11,.0f} {m['first_frame_ms']:>16.0f} "
              f"{m['frame_p50_ms']:>14.1f} {m['steady_p50_ms']:>15.1f} "
              f"{m['refining_frames']:>17.0f} {m['drawn']:>9,.0f} "
              f"{m['peak_rss_mb']:>8.0f}")  # fmt: skip
    for key in ("frame_p50_ms", "steady_p50_ms"):
        ratio = medians["big"][key] / medians["small"][key]
        print(f"{key} big / small: {ratio:.2f}")


if __name__ == "__main__":
    main()
