"""The window's UI rate while the splat frame is slow: frames drawn whole against frames in parts.

Usage: python scripts/bench_ui_rate.py [SCENE] [--width 1280 --height 720] [--frames 60]
       [--rounds 3] [--out docs/images/ui_rate.png]

Opens the viewer's window (a private Xvfb server when `Xvfb` is installed, else $DISPLAY) on the
scene, with the panel and the timing overlay shown, and orbits the camera a little every UI frame,
as a drag does, so that every splat frame is a new one. Rounds alternate between the two ways of
drawing (the same process, the same window; medians over the rounds):
- whole: each UI frame that needs a new splat frame draws all of it (what the window did before);
- parts: the window's `FramePacer` draws a part of it per UI frame, showing the last finished one.
For each: the UI frame time (median, p90; the UI's frames per second), and the splat frames
finished per second. Writes a plot of the UI frame times when --out is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODES = ("whole", "parts")


def _own_display() -> subprocess.Popen | None:
    """Start Xvfb on a free display (when installed) and point DISPLAY at it."""
    if shutil.which("Xvfb") is None:
        return None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        os.environ["DISPLAY"] = ":" + pipe.readline().strip()
    return server


def _run(app, pacer, frames: int) -> tuple[list[float], int]:
    """`frames` UI frames orbiting a little each: (UI frame ms each, splat frames finished)."""
    app.pacer = pacer
    finished = len(app.history.frames)
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        app.drag("left", 3.0, 0.0)
        app.input.poll(0.0)
        app.frame()
        times.append((time.perf_counter() - start) * 1e3)
    while app.target.drawing:  # finish the frame in progress: the next round starts clean
        app.frame()
    return times, len(app.history.frames) - finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", default=None, help="default: the built-in scene")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=60, help="UI frames per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode")
    parser.add_argument("--out", type=Path, default=None, help="plot of the UI frame times")
    args = parser.parse_args()
    server = _own_display()
    try:
        _measure(args)
    finally:
        if server is not None:
            server.kill()


def _measure(args: argparse.Namespace) -> None:
    import glfw

    from viewer.app.app import ViewerApp
    from viewer.app.frame_pacer import FramePacer
    from viewer.app.window import Window, init_glfw
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.setting_specs import SettingsSet
    from viewer.settings import DisplayOptions

    init_glfw()
    scene = load_scene_or_builtin(args.scene)
    window = Window(args.width, args.height, "splatscope ui rate", vsync=False)
    settings = SettingsSet().replaced(DisplayOptions(vsync=False, overlay=True))
    app = ViewerApp(window, scene, load_scene_or_builtin, settings)
    pacer = FramePacer()
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        _run(app, pacer, 10)  # warm up: shaders, the pacer's estimates
        for _ in range(args.rounds):
            for mode in MODES:
                ui, splats = _run(app, pacer if mode == "parts" else None, args.frames)
                times[mode] += ui
                rates[mode].append(splats / (sum(ui) / 1e3))
    finally:
        app.release()
        glfw.terminate()
    name = scene.source if args.scene else "built-in scene"
    print(f"{name}: {scene.count:,} Gaussians, {args.width}x{args.height}, panel and overlay "
          f"shown, {args.rounds} rounds of {args.frames} UI frames per mode")  # fmt: skip
    print("mode   UI ms p50   p90    UI FPS (p50)  splat frames/s (median of rounds)")
    for mode in MODES:
        p50, p90 = np.percentile(times[mode], [50, 90])
        rate = statistics.median(rates[mode])
        print(f"{mode:<6} {p50:9.1f} {p90:6.1f} {1e3 / p50:11.1f} {rate:16.2f}")
    if args.out is not None:
        _plot(times, args.out, f"{Path(name).name}, {args.width}x{args.height}")


def _plot(times: dict[str, list[float]], out: Path, title: str) -> None:
    """UI frame times of both modes, one line each, over the UI frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from viewer.atomic_write import atomic_output

    figure, axes = plt.subplots(figsize=(7, 3))
    for mode in MODES:
        axes.plot(times[mode], label=f"{mode} frames", linewidth=1)
    axes.axhline(1e3 / 30, color="grey", linestyle="--", linewidth=1, label="30 FPS")
    axes.set(xlabel="UI frame", ylabel="ms", title=f"UI frame time while orbiting, {title}")
    axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    with atomic_output(out) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
