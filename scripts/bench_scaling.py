"""Frame time against the number of Gaussians for each raster backend, and the figure of it.

Usage: python scripts/bench_scaling.py [--counts 100000,300000,1000000,3000000]
           [--width 640 --height 360] [--frames 3] [--out docs/images/scaling.png]

For each count: a synthetic SH-3 scene (scripts/make_synthetic_scene.py) written to a temporary
folder, then one `splatscope bench` run with the quads, tiles and cpu backends interleaved frame
by frame (orbit, no quality probe). A count beyond what one GL frame holds on this device
(render.budget.frame_capacity: 2,796,202 on llvmpipe) is benched with the cpu backend alone,
which draws it from the host; the GL backends' lines stop before it. Prints the p50 frame time
per count and backend and draws them on log-log axes.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from make_synthetic_scene import synthetic_scene

from viewer.formats import save_scene
from viewer.render.budget import check_device, frame_capacity

BACKENDS = ("quads", "tiles", "cpu")
HOST_BACKENDS = ("cpu",)  # draw any number of splats from the host


def bench(
    scene: Path, out: Path, backends: tuple[str, ...], args: argparse.Namespace
) -> dict[str, float]:
    """{backend: p50 frame ms} of one bench run on `scene`, `backends` interleaved."""
    command = [sys.executable, "-m", "viewer", "bench", str(scene), "--out", str(out),
               "--frames", str(args.frames), "--warmup", "1", "--width", str(args.width),
               "--height", str(args.height), "--no-quality",
               "--config", *(f"{b}:backend={b}" for b in backends)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench_scaling: {scene.name}: {result.stderr.strip().splitlines()[-1]}")
    report = json.loads((out / "report.json").read_text())
    return {c["name"]: c["frame_ms"]["p50"] for c in report["configs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100000,300000,1000000,3000000")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="the figure (PNG)")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    capacity = frame_capacity(check_device(None, None, "bench_scaling"))
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            scene = Path(folder) / f"synthetic_{count}.ply"
            save_scene(synthetic_scene(count, seed=0), scene)
            backends = BACKENDS if count <= capacity else HOST_BACKENDS
            p50 = bench(scene, Path(folder) / f"bench_{count}", backends, args)
            scene.unlink()
            for backend in BACKENDS:
                times[backend].append(p50.get(backend, math.nan))
            row = "  ".join(f"{b} {p50.get(b, math.nan):9.1f}" for b in BACKENDS)
            print(f"{count:>9,} Gaussians  p50 ms: {row}", flush=True)
    if args.out is not None:
        plot(counts, times, capacity, args)


def plot(
    counts: list[int], times: dict[str, list[float]], capacity: int, args: argparse.Namespace
) -> None:
    """Frame time against Gaussians, one line per backend, log-log (NaN: not drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from viewer.atomic_write import atomic_output

    figure, axes = plt.subplots(figsize=(6, 3.6))
    for backend in BACKENDS:
        axes.plot(counts, times[backend], marker="o", label=backend)
    axes.set(xscale="log", yscale="log", xlabel="Gaussians (synthetic, SH 3)",
             ylabel="p50 frame ms",
             title=f"Frame time, {args.width}x{args.height}, llvmpipe, 2 cores")  # fmt: skip
    axes.grid(True, which="both", alpha=0.3)
    if max(counts) > capacity:
        axes.axvline(capacity, color="grey", linestyle=":")
        note = f"one GL frame holds at most \n{capacity:,} splats "
        place = {"xycoords": ("data", "axes fraction"), "ha": "right", "fontsize": 8}
        axes.annotate(note, (capacity, 0.03), color="grey", **place)
    axes.legend(loc="lower right")
    figure.tight_layout()
    with atomic_output(args.out) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
