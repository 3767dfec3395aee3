"""Time `build_hierarchy` (the LOD merge tree) on a synthetic scene and on real ones.

The synthetic scene puts flat Gaussians on surfaces (a ground plane, spheres, a box) the way
trained scenes cover geometry; each run builds the tree from scratch and the median is printed
with the machine load (other processes skew the wall clock). --profile adds a cProfile of one
build, sorted by own time, to show where the time goes.

    python scripts/bench_lod_build.py --count 1000000 --degree 3 --runs 5 \
        --scene ../shared/scenes/donut.ply --profile
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time

import numpy as np

from viewer.features.lod_hierarchy import build_hierarchy
from viewer.scene import SH_COEFFS_FOR_DEGREE, GaussianScene


def surface_scene(count: int, degree: int, seed: int = 0) -> GaussianScene:
    """`count` flat Gaussians on a 20 x 20 ground plane, three spheres and a box (about 10 m)."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=count, p=[0.4, 0.4, 0.2])  # [N] plane, spheres, box
    points = np.empty((count, 3))
    normals = np.empty((count, 3))
    plane = kind == 0
    points[plane] = np.c_[rng.uniform(-10, 10, (plane.sum(), 2)), np.zeros(plane.sum())]
    normals[plane] = (0.0, 0.0, 1.0)
    sphere = kind == 1
    centres = np.array([[-4.0, 0.0, 1.5], [3.0, 3.0, 2.0], [2.0, -4.0, 1.0]])
    radii = np.array([1.5, 2.0, 1.0])
    which = rng.integers(0, 3, sphere.sum())
    direction = rng.normal(size=(sphere.sum(), 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    points[sphere] = centres[which] + radii[which, None] * direction
    normals[sphere] = direction
    box = kind == 2
    face = rng.integers(0, 6, box.sum())
    local = rng.uniform(-1.0, 1.0, (box.sum(), 3))
    axis = face % 3
    local[np.arange(box.sum()), axis] = np.where(face < 3, -1.0, 1.0)
    points[box] = np.array([6.0, -2.0, 1.0]) + local
    normals[box] = 0.0
    normals[box, axis] = np.where(face < 3, -1.0, 1.0)
    # roughly the mean spacing of the points over about 700 m^2 of surface
    spacing = np.sqrt(700.0 / count)
    scales = spacing * np.exp(rng.normal(0.0, 0.5, (count, 3)))
    scales[:, 2] *= 0.1  # flat along the local z axis, which the rotation turns to the normal
    return GaussianScene.from_arrays(
        points,
        scales,
        _quaternions_to(normals, rng),
        rng.beta(2.0, 1.0, count),
        rng.normal(0.0, 0.3, (count, SH_COEFFS_FOR_DEGREE[degree], 3)),
        source=f"surfaces-{count}",
    )


def _quaternions_to(normals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[n, 4] quaternions (w, x, y, z) turning +z onto each normal, then a random spin about it."""
    z = np.array([0.0, 0.0, 1.0])
    half = normals + z
    flipped = np.linalg.norm(half, axis=1) < 1e-9
    half[flipped] = (1.0, 0.0, 0.0)
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    align = np.c_[half @ z, np.cross(z, half)]  # rotation by 2 * angle(z, half)
    spin = rng.uniform(0.0, np.pi, len(normals))
    twist = np.c_[np.cos(spin), np.zeros((len(normals), 2)), np.sin(spin)]
    w1, v1 = align[:, :1], align[:, 1:]
    w2, v2 = twist[:, :1], twist[:, 1:]
    return np.c_[
        w1 * w2 - np.sum(v1 * v2, axis=1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)
    ]


def bench(scene: GaussianScene, runs: int) -> dict[str, float]:
    """Median, min and max wall-clock and CPU seconds of `runs` builds.

    CPU time is what this process used: steadier than the wall clock when other processes share
    the cores.
    """
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        tree = build_hierarchy(scene)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "wall": (statistics.median(wall), min(wall), max(wall)),
        "cpu": (statistics.median(cpu), min(cpu), max(cpu)),
        "nodes": tree.node_count,
        "levels": len(tree.cell_sizes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="synthetic Gaussians")
    parser.add_argument("--degree", type=int, default=3, choices=range(4), help="SH degree")
    parser.add_argument("--runs", type=int, default=5, help="timed builds per scene")
    parser.add_argument("--scene", action="append", default=[], help="a scene file to time too")
    parser.add_argument("--profile", action="store_true", help="cProfile one synthetic build")
    args = parser.parse_args()
    scenes = []
    if args.count > 0:
        scenes.append(surface_scene(args.count, args.degree))
    if args.scene:
        from viewer.formats import load_scene

        scenes += [load_scene(path) for path in args.scene]
    print(f"cpus {os.cpu_count()}, load average before {os.getloadavg()}")
    for scene in scenes:
        result = bench(scene, args.runs)
        wall, cpu = result["wall"], result["cpu"]
        print(
            f"{scene.source}: N {scene.count}, SH degree {scene.sh_degree}, "
            f"M {result['nodes']} ({result['nodes'] / scene.count:.2f} N), "
            f"{result['levels']} merge levels, {args.runs} runs: "
            f"wall median {wall[0]:.3f} s (min {wall[1]:.3f}, max {wall[2]:.3f}), "
            f"CPU median {cpu[0]:.3f} s (min {cpu[1]:.3f}, max {cpu[2]:.3f})"
        )
    print(f"load average after {os.getloadavg()}")
    if args.profile and scenes:
        profiler = cProfile.Profile()
        profiler.enable()
        build_hierarchy(scenes[0])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
