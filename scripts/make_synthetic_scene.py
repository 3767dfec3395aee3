"""Write a synthetic SH-3 scene of N small Gaussians (the cpu backend's large-scene benchmark).

Usage: python scripts/make_synthetic_scene.py OUT.ply [--count 1000000] [--seed 0]

The Gaussians lie in a shell around the origin (radius 1, 5 % thick), a few pixels wide at the
bench's orbit from 640x360 up: many small, overlapping splats, as in a trained scene.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from viewer.formats import save_scene
from viewer.scene import GaussianScene

C0 = 0.28209479177387814


def synthetic_scene(count: int, seed: int) -> GaussianScene:
    """`count` Gaussians of SH degree 3 in a shell around the origin."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    means = directions * rng.normal(1.0, 0.05, size=(count, 1))
    scales = np.exp(rng.normal(np.log(0.006), 0.4, size=(count, 3)))
    rgb = 0.5 + 0.4 * directions  # colour follows the direction: the image has structure
    sh = rng.normal(scale=0.1, size=(count, 16, 3))
    sh[:, 0, :] = (rgb - 0.5) / C0
    return GaussianScene.from_arrays(
        means, scales, rng.normal(size=(count, 4)), rng.uniform(0.2, 1.0, size=count), sh,
        source="synthetic",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    save_scene(synthetic_scene(args.count, args.seed), args.out)
    print(f"wrote {args.count} Gaussians to {args.out}")


if __name__ == "__main__":
    main()
