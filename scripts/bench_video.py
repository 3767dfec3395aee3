"""Time the video encoder apart from rendering: frames of an orbit encoded by viewer.video.

    python scripts/bench_video.py [SCENE] [--width 1280 --height 720 --frames 60]

Renders the orbit's frames first (one context, untimed), then encodes them three times to a
temporary .mp4 and prints the median frames a second of the encode alone, and the file size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from viewer.builtin_scene import load_scene_or_builtin
from viewer.headless import HeadlessRenderer
from viewer.path_cameras import camera_path
from viewer.video import CRF, PRESET, video_output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    scene = load_scene_or_builtin(args.scene)
    cameras = camera_path("orbit", scene, args.width, args.height, args.frames)
    start = time.perf_counter()
    with HeadlessRenderer(scene, (args.width, args.height)) as renderer:
        images = [renderer.render(camera) for camera in cameras]
    render_s = time.perf_counter() - start
    times = []
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "orbit.mp4"
        for _ in range(3):
            start = time.perf_counter()
            with video_output(video, args.width, args.height, 30.0) as write:
                for image in images:
                    write(image)
            times.append(time.perf_counter() - start)
        size = os.path.getsize(video)
    encode = args.frames / statistics.median(times)
    print(
        f"{scene.source} {args.width}x{args.height}, {args.frames} frames: render "
        f"{args.frames / render_s:.1f} frames/s; encode (libx264 crf {CRF}, {PRESET}) "
        f"{encode:.1f} frames/s (median of 3: {', '.join(f'{t:.2f}' for t in times)} s); "
        f"{size / 2**20:.2f} MiB ({8 * size / (args.frames / 30.0) / 1e6:.2f} Mbit/s at 30 fps)"
    )


if __name__ == "__main__":
    main()
