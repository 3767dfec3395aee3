"""All GPU checks in one run: GPU sort vs numpy and per-pass frame times, as a markdown table.

The frame times are of both raster backends and both sorts at 1920x1080 on synthetic 1M and 6M
Gaussian scenes.

Usage: python scripts/gpu_check.py [--sizes 1000000 6000000] [--frames 30]
       python scripts/gpu_check.py --scene ../shared/scenes/donut.ply --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from viewer.camera import Camera
from viewer.render.context import DeviceInfo, create_headless_context
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.render.sort import sort_pairs
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

PASSES = ("preprocess", "sort", "bin", "raster", "resolve")
DONUT_TOP = np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.3], [0, 0, 0, 1]], float)


def synthetic_scene(count: int, seed: int = 0) -> GaussianScene:
    """`count` random Gaussians in a unit-radius ball, SH degree 3."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(count, 3)).astype(np.float32)
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1.0)
    scales = np.exp(rng.normal(np.log(0.004), 0.5, size=(count, 3))).astype(np.float32)
    rotations = rng.normal(size=(count, 4)).astype(np.float32)
    opacities = rng.uniform(0.05, 1.0, size=count).astype(np.float32)
    sh = (rng.normal(size=(count, 16, 3)) * 0.3).astype(np.float32)
    return GaussianScene.from_arrays(
        means, scales, rotations, opacities, sh, source=f"synthetic-{count}"
    )


def check_sort(ctx) -> str:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**32, size=1_000_003, dtype=np.uint32)
    values = np.arange(keys.size, dtype=np.uint32)
    sorted_keys, sorted_values = sort_pairs(ctx, keys, values, "gpu")
    order = np.argsort(keys, kind="stable")
    ok = np.array_equal(sorted_keys, keys[order]) and np.array_equal(sorted_values, order)
    return f"GPU radix sort of 1,000,003 random 32-bit pairs equals numpy stable argsort: {ok}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 6_000_000])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--scene", help="a scene file instead of the synthetic sizes")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--clock", default="gl-timer", help="gl-timer or finish+wall")
    args = parser.parse_args()
    ctx = create_headless_context()
    device = DeviceInfo.of(ctx)
    print(f"device: {device.renderer} | {device.vendor} | {device.version}")
    print(check_sort(ctx))
    width, height = args.width, args.height
    camera = Camera.look_at((0.0, -2.6, 0.8), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), width, height, 50.0)
    scenes = [synthetic_scene(count) for count in args.sizes]
    if args.scene:
        from viewer.formats import load_scene

        scenes = [load_scene(args.scene)]
        camera = Camera(width, height, width / 2, width / 2, width / 2, height / 2, DONUT_TOP)
    rows = []
    for scene in scenes:
        count = scene.count
        gpu_scene = GpuScene.from_scene(ctx, scene)
        for backend in ("quads", "tiles"):
            for sort in ("gpu", "cpu"):
                renderer = SplatRenderer(
                    ctx, RasterSettings(backend=backend, sort=sort), "gl-timer"
                )
                out = ctx.framebuffer(color_attachments=[ctx.texture((1920, 1080), 4, dtype="f4")])
                stats, walls = [], []
                for i in range(args.warmup + args.frames):
                    ctx.finish()
                    start = time.perf_counter()
                    s = renderer.render(gpu_scene, FrameInputs(camera), RenderSettings(), out)
                    ctx.finish()
                    if i >= args.warmup:
                        walls.append((time.perf_counter() - start) * 1e3)
                        if s is not None and s.frame >= args.warmup:
                            stats.append(s)
                passes = {}
                for s in stats:
                    for k, v in s.pass_ms.items():
                        passes.setdefault(k, []).append(v)
                med = {k: float(np.median(v)) for k, v in passes.items()}
                rows.append(
                    (
                        count,
                        backend,
                        sort,
                        float(np.median(walls)),
                        med,
                        stats[-1].visible,
                        stats[-1].pairs,
                    )
                )
                print(rows[-1], flush=True)
                out.release()
                renderer.release()
        gpu_scene.release()
    print()
    print(f"{width}x{height}, clock {args.clock}, medians of {args.frames} frames")
    print(
        "| Gaussians | backend | sort | frame ms (p50, finish) | FPS | preprocess | sort | bin "
        "| raster | resolve | visible | pairs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for count, backend, sort, wall, med, visible, pairs in rows:
        cells = [f"{med[k]:.2f}" if k in med else "-" for k in PASSES]
        print(
            f"| {count:,} | {backend} | {sort} | {wall:.2f} | {1000 / wall:.0f} | "
            + " | ".join(cells)
            + f" | {visible:,} | {pairs:,} |"
        )


if __name__ == "__main__":
    main()
