"""Experiment (design log): does the accumulation target's format change the frame time?

Renders donut.ply (or SCENE) at 1280x720 with the quads backend and the CPU sort into RGBA32F,
RGBA16F and RGBA8 accumulation targets, interleaved frame by frame, and prints the medians.

Usage: python scripts/bench_accum_format.py [SCENE] [--frames 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("EGL_PLATFORM", "surfaceless")

from viewer.camera import Camera
from viewer.formats import load_scene
from viewer.render.accum_target import AccumTarget
from viewer.render.context import create_headless_context
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

DONUT = Path(__file__).resolve().parents[2] / "shared" / "scenes" / "donut.ply"
DONUT_TOP = [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.3], [0, 0, 0, 1]]
FORMATS = {"RGBA32F": "f4", "RGBA16F": "f2", "RGBA8": "f1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", default=str(DONUT))
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    ctx = create_headless_context()
    scene = GpuScene.from_scene(ctx, load_scene(args.scene))
    inputs = FrameInputs(Camera(1280, 720, 640.0, 640.0, 640.0, 360.0, DONUT_TOP))
    renderers = {}
    for name, dtype in FORMATS.items():
        renderer = SplatRenderer(ctx, RasterSettings(backend="quads", sort="cpu"))
        renderer.accum = AccumTarget(ctx, dtype)
        renderers[name] = renderer
    output = AccumTarget(ctx)
    output.ensure_size(1280, 720)
    times: dict[str, list[float]] = {name: [] for name in FORMATS}
    for frame in range(args.frames + 2):
        for name, renderer in renderers.items():
            ctx.finish()
            start = time.perf_counter()
            renderer.render(scene, inputs, RenderSettings(), output.framebuffer)
            ctx.finish()
            if frame >= 2:  # warm-up
                times[name].append((time.perf_counter() - start) * 1e3)
    print(f"{args.scene} at 1280x720, quads + CPU sort, {ctx.info['GL_RENDERER']}")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.0f} ms over {len(values)} frames")


if __name__ == "__main__":
    main()
