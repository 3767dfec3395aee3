"""Benchmark load_scene on a generated INRIA .ply (default: 1M Gaussians, SH degree 3).

Writes the file to a temporary folder, loads it a few times and prints each time and the median.
Usage: python scripts/bench_load.py [--count N] [--degree D] [--runs R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from viewer.formats import load_scene, save_scene
from viewer.scene import SH_COEFFS_FOR_DEGREE, GaussianScene


def random_scene(count: int, degree: int, seed: int = 0) -> GaussianScene:
    """`count` random Gaussians with SH of `degree` and, like trained files, raw quaternions."""
    rng = np.random.default_rng(seed)
    return GaussianScene(
        means=rng.normal(size=(count, 3)).astype(np.float32),
        scales=np.exp(rng.normal(-4.0, 1.0, size=(count, 3))).astype(np.float32),
        rotations=rng.normal(size=(count, 4)).astype(np.float32),  # not normalised
        opacities=rng.uniform(0.01, 0.99, size=count).astype(np.float32),
        sh=rng.normal(0.0, 0.3, size=(count, SH_COEFFS_FOR_DEGREE[degree], 3)).astype(np.float32),
        source="bench_load",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="Gaussians in the file")
    parser.add_argument("--degree", type=int, default=3, choices=range(4), help="SH degree")
    parser.add_argument("--runs", type=int, default=5, help="timed loads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.ply"
        save_scene(random_scene(args.count, args.degree), path)
        size_mb = path.stat().st_size / 1e6
        print(f"{path.name}: {args.count} Gaussians, SH degree {args.degree}, {size_mb:.0f} MB")
        load_scene(path)  # warm the page cache: the benchmark measures parsing, not the disk
        times = []
        for run in range(args.runs):
            start = time.perf_counter()
            scene = load_scene(path)
            times.append(time.perf_counter() - start)
            print(f"run {run}: {times[-1]:.3f} s ({scene.count} Gaussians)")
    print(f"median load time: {statistics.median(times):.3f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
