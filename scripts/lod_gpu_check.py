"""The LOD target of a GPU machine: a 6M-Gaussian scene cut to a 1M budget against a 1M scene.

Both scenes are synthetic surfaces (scripts/bench_lod_build.py's generator: flat Gaussians on a
ground plane, spheres and a box, SH degree 3). The 6M scene's tree is built on the CPU (cached
in the user cache folder), then frames are timed interleaved at 1920x1080 along an orbit with
the tiles backend and the GPU sort: the 1M scene whole, the 6M scene whole and the 6M scene
under `LodCut(budget=1M)`, each between two glFinish. Target: the budgeted 6M frame within
1.5x the 1M frame. Also printed: the cut's own time and the splats it drew.

Usage (on a GPU machine; on llvmpipe use small counts to try it):
    python scripts/lod_gpu_check.py [--big 6000000] [--small 1000000] [--budget 1000000]
        [--frames 30] [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np

from viewer.features.lod_cache import TerminalProgress, cached_hierarchy
from viewer.features.lod_gpu import attach_hierarchy
from viewer.path_cameras import camera_path
from viewer.render.context import DeviceInfo, create_headless_context
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings


def surface_scene(count: int, degree: int = 3):
    """bench_lod_build.py's synthetic surfaces of `count` Gaussians."""
    path = Path(__file__).with_name("bench_lod_build.py")
    spec = importlib.util.spec_from_file_location("bench_lod_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.surface_scene(count, degree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=6_000_000)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--budget", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--backend", default="tiles", choices=("auto", "quads", "tiles"))
    parser.add_argument("--sort", default="gpu", choices=("auto", "gpu", "cpu"))
    args = parser.parse_args()

    start = time.perf_counter()
    big, small = surface_scene(args.big), surface_scene(args.small, 3)
    print(f"scenes made in {time.perf_counter() - start:.1f} s")
    tree, cached = cached_hierarchy(big, TerminalProgress(f"LOD tree of {args.big:,}"))
    origin = "from the cache" if cached else "built"
    print(f"tree: {tree.node_count - tree.leaf_count:,} merged nodes ({origin})")
    ctx = create_headless_context()
    device = DeviceInfo.of(ctx)
    renderer = SplatRenderer(ctx, RasterSettings(backend=args.backend, sort=args.sort))
    image = renderer.image
    image.ensure_size(args.width, args.height)
    big_gpu = GpuScene.from_scene(ctx, big, renderer.device)
    attach_hierarchy(big_gpu, tree)
    small_gpu = GpuScene.from_scene(ctx, small, renderer.device)
    cameras = camera_path("orbit", small, args.width, args.height, args.frames)
    runs = {
        f"{args.small:,} whole": (small_gpu, None),
        f"{args.big:,} whole": (big_gpu, None),
        f"{args.big:,} budget {args.budget:,}": (big_gpu, LodCut(budget=args.budget)),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    stats: dict[str, list] = {name: [] for name in runs}
    for k, camera in enumerate([*cameras[: args.warmup], *cameras]):
        for name, (scene, cut) in runs.items():
            ctx.finish()
            t = time.perf_counter()
            frame = renderer.render(scene, FrameInputs(camera, lod=cut), RenderSettings(),
                                    image.framebuffer)  # fmt: skip
            ctx.finish()
            if k >= args.warmup:
                times[name].append((time.perf_counter() - t) * 1e3)
                if frame is not None:
                    stats[name].append(frame)
    print(f"\n{device.renderer}, {args.width}x{args.height}, {args.backend} raster, "
          f"{renderer.sort_kind} sort, {args.frames} orbit frames (interleaved)\n")  # fmt: skip
    print("| scene | frame ms (median) | p90 | LOD cut ms | drawn |")
    print("|---|---|---|---|---|")
    for name in runs:
        median = statistics.median(times[name])
        p90 = float(np.percentile(times[name], 90))
        cut_ms = np.mean([s.pass_ms.get("lod", 0.0) for s in stats[name]]) if stats[name] else 0
        drawn = np.mean([s.lod_drawn or s.total for s in stats[name]]) if stats[name] else 0
        print(f"| {name} | {median:.2f} | {p90:.2f} | {cut_ms:.2f} | {drawn:,.0f} |")
    names = list(runs)
    ratio = statistics.median(times[names[2]]) / statistics.median(times[names[0]])
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(
        f"\nbudgeted {args.big:,} / whole {args.small:,}: {ratio:.2f}x (target <= 1.5x): {verdict}"
    )
    for scene in (big_gpu, small_gpu):
        scene.release()
    renderer.release()
    ctx.release()


if __name__ == "__main__":
    main()
