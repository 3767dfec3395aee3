"""The README's pictures of the viewer: the app, render modes, LOD levels, foveation, context.

The app runs under Xvfb, driven by real input events (the context picture, of the training
cameras, axes and grid: set up by a script in the app's process); the gallery is rendered
headless.

Usage: python scripts/screenshots.py [--out docs/images] [--only modes|app|lod|fovea|context]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.app_driver import Viewer, XServer, changed, settled  # noqa: E402
from viewer.builtin_scene import default_camera, load_builtin_scene  # noqa: E402
from viewer.headless import render_scene  # noqa: E402
from viewer.image_files import to_rgb8  # noqa: E402
from viewer.settings import RENDER_MODES, RasterSettings, RenderSettings  # noqa: E402


def app_screenshot(path: Path, size: tuple[int, int] = (1280, 720)) -> None:
    """The viewer on the built-in scene: panel, timing overlay, a picked Gaussian."""
    server = XServer((size[0] + 40, size[1] + 40))
    with tempfile.TemporaryDirectory() as cwd:
        viewer = Viewer(server, ["--width", str(size[0]), "--height", str(size[1])], Path(cwd))
        try:
            x, y, w, h = viewer.wait_for_window()

            def window(screen):
                return screen[y : y + h, x : x + w]

            first = settled(server, window)
            server.move(x + w // 2 + 130, y + h // 2 + 80)  # the golden sphere
            server.xdotool("click", "1")
            server.key("t")
            changed(server, window, first, 0.01)
            time.sleep(2.0)  # a couple of seconds of frame times in the graph
            Image.fromarray(settled(server, window)).save(path)
        finally:
            viewer.stop()
            server.close()


def lod_screenshot(path: Path, size: tuple[int, int] = (1280, 720)) -> None:
    """The level heat map of a budget cut, the panel scrolled to its LOD section."""
    server = XServer((size[0] + 40, size[1] + 40))
    with tempfile.TemporaryDirectory() as cwd:
        args = ["--width", str(size[0]), "--height", str(size[1]), "--lod.budget", "6000",
                "--mode", "heatmap", "--heatmap", "lod_level"]  # fmt: skip
        viewer = Viewer(server, args, Path(cwd))
        try:
            x, y, w, h = viewer.wait_for_window()

            def window(screen):
                return screen[y : y + h, x : x + w]

            settled(server, window, 120.0)  # the tree is built (or read) and cut
            server.scroll((x + 150, y + h // 2), -60)  # the panel, down to its LOD section
            server.move(x + w - 20, y + h - 20)  # no tooltip
            time.sleep(1.0)
            Image.fromarray(settled(server, window)).save(path)
        finally:
            viewer.stop()
            server.close()


def fovea_screenshot(path: Path, size: tuple[int, int] = (1280, 720)) -> None:
    """Foveation around the mouse pointer, its borders drawn, the panel's region readout."""
    server = XServer((size[0] + 40, size[1] + 40))
    with tempfile.TemporaryDirectory() as cwd:
        args = ["--width", str(size[0]), "--height", str(size[1]), "--fov.gaze", "mouse",
                "--fov.outline", "on", "--fov.fovea", "6", "--fov.bands", "5,5"]  # fmt: skip
        viewer = Viewer(server, args, Path(cwd))
        try:
            x, y, w, h = viewer.wait_for_window()

            def window(screen):
                return screen[y : y + h, x : x + w]

            gaze = (x + 760, y + 420)  # the golden sphere
            server.move(*gaze)
            settled(server, window, 60.0)  # the significance scores are measured or read
            server.scroll((x + 150, y + h // 2), -30)  # the panel, down to its Foveation section
            server.move(x + 44, y + 600)  # its Compare button
            server.xdotool("click", "1")
            time.sleep(20.0)  # two renders and six timed frames on a software rasterizer
            server.scroll((x + 150, y + h // 2), -10)  # the readout below the buttons
            server.move(*gaze)
            time.sleep(2.0)
            Image.fromarray(settled(server, window)).save(path)
        finally:
            viewer.stop()
            server.close()


CONTEXT_SCRIPT = """
import dataclasses
import sys
import time
import glfw
import numpy as np
from PIL import ImageGrab
from viewer.app.app import ViewerApp
from viewer.app.window import Window, init_glfw
from viewer.builtin_scene import load_builtin_scene, load_scene_or_builtin
from viewer.camera import Camera
from viewer.setting_specs import SettingsSet
from viewer.settings import DisplayOptions

from imgui_bundle import imgui

width, height, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
checkbox = imgui.checkbox


def scrolled_to(label, value):  # the panel shows its Display section's switches
    if label.startswith("frustums##"):
        imgui.set_scroll_here_y(0.6)
    return checkbox(label, value)


imgui.checkbox = scrolled_to
ring = [Camera.look_at((2.6 * np.cos(a), 2.6 * np.sin(a), 1.2), (0.0, 0.0, 0.3), width=1600,
                       height=1200, name=f"view_{i:02d}.png")
        for i, a in enumerate(np.linspace(-2.2, 1.6, 12))]  # a training capture's arc
scene = dataclasses.replace(load_builtin_scene(), cameras=tuple(ring))
init_glfw()
window = Window(width, height, "splatscope", vsync=False)
display = DisplayOptions(vsync=False, frustums=True, axes=True, grid=True)
app = ViewerApp(window, scene, load_scene_or_builtin, SettingsSet().replaced(display), up="+Z")
app.perform("go_to_camera", 4)  # drawn as the current camera
app.controller.go_to(Camera.look_at((4.4, -5.4, 3.9), (-0.9, -0.4, 0.2)), duration=0.0)
end = time.monotonic() + 3.0
while time.monotonic() < end:
    app.input.poll(0.05)
    app.frame()
left, top = glfw.get_window_pos(window.handle)
grab = ImageGrab.grab(xdisplay=sys.argv[4]).crop((left, top, left + width, top + height))
grab.convert("RGB").save(out)
app.release()
"""


def context_screenshot(path: Path, size: tuple[int, int] = (1280, 720)) -> None:
    """The built-in scene with an arc of training cameras as frustums, the axes and the grid."""
    server = XServer((size[0] + 40, size[1] + 40))
    try:
        subprocess.run(
            [sys.executable, "-c", CONTEXT_SCRIPT, str(size[0]), str(size[1]), str(path),
             server.display],
            env={**server.env(), "PYTHONPATH": str(REPO)}, check=True, timeout=300, cwd=REPO,
        )  # fmt: skip
    finally:
        server.close()


def mode_gallery(path: Path, width: int = 400, height: int = 225) -> None:
    """Every render mode of the built-in scene, two per row, each labelled."""
    from PIL import ImageDraw

    scene = load_builtin_scene()
    camera = default_camera(width, height)
    tiles = []
    for mode in RENDER_MODES:
        settings = RenderSettings(mode=mode, heatmap="size")
        image = Image.fromarray(to_rgb8(render_scene(scene, camera, settings, RasterSettings())))
        label = f"{mode} (size)" if mode == "heatmap" else mode
        ImageDraw.Draw(image).text((8, 6), label, fill=(255, 255, 255))
        tiles.append(np.asarray(image))
    rows = [np.concatenate(tiles[i : i + 2], axis=1) for i in range(0, len(tiles), 2)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument(
        "--only", choices=("modes", "app", "lod", "fovea", "context"), help="make one picture only"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shots = {
        "modes": (mode_gallery, "render_modes.png"),
        "app": (app_screenshot, "app.png"),
        "lod": (lod_screenshot, "lod_levels.png"),
        "fovea": (fovea_screenshot, "foveation_app.png"),
        "context": (context_screenshot, "context.png"),
    }
    for name, (make, file) in shots.items():
        if args.only in (None, name):
            make(args.out / file)
            print(f"wrote {args.out / file}")


if __name__ == "__main__":
    main()
