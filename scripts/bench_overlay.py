"""What the timing overlay costs: viewer frames with it on and off, interleaved, in one run.

Runs the viewer in a child process on a private Xvfb (or the current display with --here).
Usage: python scripts/bench_overlay.py [--frames 40] [--width 1280 --height 720] [SCENE]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def measure(scene: str | None, frames: int, width: int, height: int) -> None:
    """Print the median frame time with the overlay off and on, and the difference."""
    from viewer.app.app import ViewerApp
    from viewer.app.window import Window, init_glfw
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.setting_specs import SettingsSet
    from viewer.settings import DisplayOptions

    init_glfw()
    window = Window(width, height, "splatscope", vsync=False)
    display = DisplayOptions(vsync=False, redraw=True)
    app = ViewerApp(
        window, load_scene_or_builtin(scene), load_scene_or_builtin, SettingsSet().replaced(display)
    )
    for _ in range(5):
        app.frame()
    while app.session.pruning.job is not None:  # the pruning scores measured after load
        app.frame()
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(frames):
        for overlay in (False, True):
            app.settings = app.settings.changed("display", overlay=overlay)
            start = time.perf_counter()
            app.frame()
            times[overlay].append((time.perf_counter() - start) * 1e3)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"{app.scene.source} at {width}x{height} on {app.renderer.device.renderer}: "
          f"median frame {off:.2f} ms without the overlay, {on:.2f} ms with it: "
          f"{on - off:.2f} ms ({100 * (on - off) / off:.1f} %)")  # fmt: skip
    app.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", help="scene file (default: the built-in scene)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--here", action="store_true", help="use $DISPLAY, not a private Xvfb")
    args = parser.parse_args()
    if args.here:
        measure(args.scene, args.frames, args.width, args.height)
        return
    from tests.app_driver import XServer

    server = XServer((args.width + 40, args.height + 40))
    try:
        subprocess.run([sys.executable, __file__, "--here", *sys.argv[1:]], env=server.env(),
                       check=True)  # fmt: skip
    finally:
        server.close()


if __name__ == "__main__":
    main()
