"""The viewer used as a person would: a real window under Xvfb, real mouse and key events.

Each test starts its own X server and runs the viewer in a child process (this process never
makes a GL context). Pixels are compared before and after each input; no timings are asserted.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app_driver import (
    Viewer,
    XServer,
    changed,
    changed_fraction,
    missing_tools,
    settled,
    wait_until,
)
from tests.conftest import random_scene
from viewer.camera_path import CameraPath
from viewer.formats import save_scene

pytestmark = [
    pytest.mark.window,
    pytest.mark.skipif(
        bool(missing_tools()),
        reason=f"window tests need {', '.join(missing_tools())} (apt-get install xvfb xdotool)",
    ),
]

WIDTH, HEIGHT = 640, 360
VIEW_X = 420  # right of the panel: only splats there


@pytest.fixture
def server():
    server = XServer()
    yield server
    server.close()


def screenshots(directory: Path) -> list[Path]:
    return sorted(directory.glob("splatscope-*.png"))


def open_png(directory: Path, index: int) -> Image.Image:
    """Screenshot `index` once it reads as a whole PNG (the writer may still be flushing it)."""

    def readable():
        try:
            image = Image.open(screenshots(directory)[index])
            image.load()
            return image
        except (OSError, IndexError):
            return None

    return wait_until(readable, 30, "a readable screenshot")


def viewer_size(server: XServer, window_id: str) -> tuple[int, int]:
    values = dict(
        line.split("=")
        for line in server.xdotool("getwindowgeometry", "--shell", window_id).split()
    )
    return int(values["WIDTH"]), int(values["HEIGHT"])


def test_mouse_keys_resize_and_screenshot(server, tmp_path):
    viewer = Viewer(server, ["--width", str(WIDTH), "--height", str(HEIGHT)], tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window()
        assert (w, h) == (WIDTH, HEIGHT)

        def window(screen):
            return screen[y : y + h, x : x + w]

        def view(image):
            return image[:, VIEW_X:]

        start = settled(server, window)
        assert len(np.unique(view(start).reshape(-1, 3), axis=0)) > 100, "no splats drawn"
        panel = start[10:100, 10:360]
        assert len(np.unique(panel.reshape(-1, 3), axis=0)) > 5, "no panel drawn"

        def view_of(screen):
            return view(window(screen))

        # left drag over the view orbits, scrolling zooms, right drag pans: the splats move
        server.drag(1, (x + 520, y + 250), (x + 600, y + 270))
        orbited = changed(server, view_of, view(start), 0.2)
        server.scroll((x + 540, y + 200), 3)
        zoomed = changed(server, view_of, orbited, 0.2)
        server.drag(3, (x + 540, y + 200), (x + 500, y + 150))
        changed(server, view_of, zoomed, 0.2)
        panned = settled(server, window)

        # P saves the splats without the UI, at the window's size
        server.key("p")
        shot = np.asarray(open_png(tmp_path, 0).convert("RGB"))
        assert shot.shape == (HEIGHT, WIDTH, 3)
        assert changed_fraction(view(shot), view(panned)) < 0.01, "screenshot differs from view"
        assert changed_fraction(shot[10:100, 10:360], panned[10:100, 10:360]) > 0.2, "UI in shot"

        # T shows the timing overlay in the top right corner, F1 the help in the middle
        server.key("t")
        changed(server, lambda screen: window(screen)[5:60, -200:], panned[5:60, -200:], 0.05)
        overlay = settled(server, window)
        server.key("F1")
        middle = (slice(h // 2 - 40, h // 2 + 40), slice(w // 2 - 100, w // 2 + 100))
        changed(server, lambda screen: window(screen)[middle], overlay[middle], 0.1)
        server.key("F1", "t")

        # the window resizes: the next screenshot has the new size
        window_id = server.xdotool("search", "--name", "splatscope - ").split()[0]
        server.xdotool("windowsize", window_id, "560", "300")
        wait_until(lambda: viewer_size(server, window_id) == (560, 300), 20, "the resize")
        settled(server, lambda screen: screen[:300, :560])
        server.key("F12")
        wait_until(lambda: len(screenshots(tmp_path)) == 2, 30, "a second screenshot")
        resized = open_png(tmp_path, -1)
        assert resized.size == (560, 300)

        server.key("Escape")
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()


APP_PRELUDE = """
import time
import numpy as np
from viewer.app.app import ViewerApp
from viewer.app.window import Window, init_glfw
from viewer.builtin_scene import load_scene_or_builtin
from viewer.setting_specs import SettingsSet
from viewer.settings import DisplayOptions, RenderSettings

init_glfw()
window = Window(320, 200, "splatscope", vsync=False)
scene = load_scene_or_builtin(None)
app = ViewerApp(window, scene, load_scene_or_builtin,
                SettingsSet().replaced(DisplayOptions(vsync=False)))
app.frame()
deadline = time.monotonic() + 60


def frames_until_loaded():
    while app.loader.busy and time.monotonic() < deadline:
        app.frame()
    app.frame()
"""


def run_app_script(server: XServer, body: str, cwd: Path) -> str:
    """Run `body` after APP_PRELUDE (an app on the built-in scene) on `server`; its stdout."""
    env = {**server.env(), "XDG_CACHE_HOME": str(cwd / "cache")}  # a private score cache
    result = subprocess.run(
        [sys.executable, "-c", APP_PRELUDE + textwrap.dedent(body) + "app.release()\n"],
        env=env, capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_failed_load_keeps_the_scene_and_shows_the_error(server, tmp_path):
    bad = tmp_path / "broken.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\n")
    good = tmp_path / "small.ply"
    save_scene(random_scene(np.random.default_rng(0), 300), good)
    out = run_app_script(
        server,
        f"""
        app.drop([{str(bad)!r}])
        frames_until_loaded()
        print("error:", app.error)
        print("same scene:", app.scene is scene, app.gpu_scene.count == scene.count)
        app.open({str(good)!r})
        frames_until_loaded()
        print("error after good load:", repr(app.error))
        print("loaded:", app.scene.count, app.gpu_scene.count)
        """,
        tmp_path,
    )
    assert "error: could not open" in out and "broken.ply" in out
    assert "same scene: True True" in out
    assert "error after good load: ''" in out
    assert "loaded: 300 300" in out


def test_crop_box_hides_gaussians_and_a_path_plays_back(server, tmp_path):
    out = run_app_script(
        server,
        """
        import dataclasses
        import glfw
        from viewer.app.inspection import CropBox
        # the app's clock, stepped below: playback moves on by the time between frames, and one
        # frame may take longer than the whole path on a loaded machine (software GL)
        clock = [glfw.get_time()]
        glfw.get_time = lambda: clock[0]
        print("visible before:", app.history.latest.visible)
        box = CropBox(True, (-0.5, -0.5, -0.1), (0.5, 0.5, 0.1))
        app._apply(app.settings, box)
        app.frame()
        inside = int(np.all((scene.means >= box.lo) & (scene.means <= box.hi), axis=1).sum())
        print("visible cropped:", app.history.latest.visible)
        print("inside:", inside)

        first = app.camera().world_to_camera.copy()
        app.perform("add_keyframe")
        app.controller.orbit(1.0, 0.2)
        second = app.camera().world_to_camera.copy()
        app.perform("add_keyframe")
        app.perform("play_path")
        print("playing:", app.play_time is not None)
        app.frame()
        views = []
        while app.play_time is not None and time.monotonic() < deadline:
            clock[0] += 0.25
            app.frame()
            views.append(app.camera().world_to_camera.copy())
        print("frames played:", len(views) > 1)
        print("ends at the last keyframe:", np.allclose(views[-1], second, atol=1e-6))
        print("passed between:", any(not np.allclose(v, first) and not np.allclose(v, second)
                                      for v in views))
        app.perform("save_path", "path.json")
        print("saved:", app.error == "" and "saved 2 keyframes" in app.message)
        """,
        tmp_path,
    )
    printed = dict(line.split(": ", 1) for line in out.splitlines())
    before, cropped, inside = (
        int(printed[k]) for k in ("visible before", "visible cropped", "inside")
    )
    assert 0 < cropped < before
    assert cropped <= inside
    for key in ("playing", "frames played", "ends at the last keyframe", "passed between", "saved"):
        assert printed[key] == "True", out
    assert CameraPath.load(tmp_path / "path.json").duration == 2.0


def test_timed_frames_with_vsync_off(server, tmp_path):
    """--no-vsync renders every frame: the overlay's frame counter keeps moving while idle."""
    viewer = Viewer(server, ["--width", "320", "--height", "200", "--no-vsync"], tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window()
        server.move(x + w - 20, y + h - 20)
        server.key("u", "t")  # hide the panel, show the overlay

        def corner():
            return server.grab()[y : y + 60, x + w - 200 : x + w]

        first = corner()
        wait_until(lambda: changed_fraction(first, corner()) > 0.0, 30, "the overlay to update")
        time.sleep(0.1)
        server.key("Escape")
        assert viewer.process.wait(timeout=30) == 0
    finally:
        viewer.stop()


def test_click_picks_and_highlights_double_click_sets_the_pivot_m_cycles_modes(server, tmp_path):
    viewer = Viewer(server, ["--width", str(WIDTH), "--height", str(HEIGHT)], tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window()

        def window(screen):
            return screen[y : y + h, x : x + w]

        server.move(x + w - 5, y + h - 5)
        with_panel = settled(server, window)
        server.key("u")  # no panel: the whole window is view
        start = changed(server, window, with_panel, 0.05)
        spot = (w // 2 + 60, h // 2 + 40)  # on the golden sphere of the built-in scene
        around = (slice(spot[1] - 2, spot[1] + 3), slice(spot[0] - 2, spot[0] + 3))
        server.move(x + spot[0], y + spot[1])
        server.xdotool("click", "1")
        picked = changed(server, lambda screen: window(screen)[around], start[around], 0.2)
        magenta = np.array([255, 26, 230])
        before = np.abs(start[around].astype(int) - magenta).sum(axis=2).min()
        after = np.abs(picked.astype(int) - magenta).sum(axis=2).min()
        assert after < before, "the picked Gaussian is not highlighted"
        shown = settled(server, window)

        # a double click elsewhere turns the view to face the point under the cursor
        server.move(x + w // 4, y + h // 2 + 60)
        server.xdotool("click", "--repeat", "2", "--delay", "80", "1")
        turned = changed(server, window, shown, 0.3)

        server.key("m")  # colour -> depth mode: every splat changes colour
        changed(server, window, turned, 0.3)
        server.key("Escape")
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()


def test_picking_selects_the_top_contributor_and_pivots_on_the_surface(server, tmp_path):
    out = run_app_script(
        server,
        """
        from viewer.render.layout import FLAG_SELECTED
        inputs = app.inputs()
        camera = inputs.camera
        full = app.renderer.measure(
            app.gpu_scene, inputs, app.settings.of(RenderSettings)
        ).pixels
        py, px = np.unravel_index(np.argmax(full["top_weight"]), full.shape)
        scale_x = window.window_size[0] / window.framebuffer_size[0]
        scale_y = window.window_size[1] / window.framebuffer_size[1]
        app.click((px + 0.5) * scale_x, (py + 0.5) * scale_y)
        app.frame()
        print("selected:", app.selected.index == full[py, px]["top_gaussian"])
        flags = app.gpu_scene.read("flags")
        print("flagged:", np.flatnonzero(flags & FLAG_SELECTED).tolist() == [app.selected.index])
        app.perform("clear_selection")
        app.frame()
        flags = app.gpu_scene.read("flags")
        print("cleared:", app.selected is None and not (flags & FLAG_SELECTED).any())

        app.double_click((px + 0.5) * scale_x, (py + 0.5) * scale_y)
        app.frame()
        while app.controller.in_transition and time.monotonic() < deadline:
            app.frame()
        depth = float(full[py, px]["median_depth"])
        point = camera.unproject(px + 0.5, py + 0.5, depth)
        print("pivot:", np.allclose(app.controller.pivot, point, atol=1e-5))
        print("eye kept:", np.allclose(app.camera().position, camera.position, atol=1e-5))
        """,
        tmp_path,
    )
    printed = dict(line.split(": ", 1) for line in out.splitlines())
    for key in ("selected", "flagged", "cleared", "pivot", "eye kept"):
        assert printed[key] == "True", out


def test_live_pruning_scores_prunes_compares_and_saves(server, tmp_path):
    out = run_app_script(
        server,
        """
        import dataclasses
        from viewer.settings import PruneSettings
        from viewer.formats import load_scene
        from viewer.render.layout import FLAG_PRUNED
        uploads = []
        original = app.gpu_scene.write
        app.gpu_scene.write = lambda *a, **k: (uploads.append(1), original(*a, **k))
        before = app.history.latest.visible
        prune = PruneSettings(score="significance", keep=0.3, views=4, view_width=64)
        app._apply(app.settings.replaced(prune))
        frames = 0
        app.frame()
        print("scoring shown:", app._facts().pruning.scoring == (1, 4))
        while app.pruning.job is not None and time.monotonic() < deadline:
            app.frame()
            frames += 1
        app.frame()
        print("one view per frame:", frames >= 3)
        flags = app.gpu_scene.read("flags")
        kept = int(((flags & FLAG_PRUNED) == 0).sum())
        print("kept:", kept == round(0.3 * scene.count) == app._facts().pruning.kept)
        print("fewer visible:", app.history.latest.visible < before)
        print("no data upload:", uploads == [])
        app.perform("compare_pruning")
        psnr, ssim = app.pruning.quality
        print("compared:", 5 < psnr < 80 and 0 < ssim < 1.0)
        app.perform("save_pruned", "kept.ply")
        print("saved:", load_scene("kept.ply").count == kept)
        app.perform("show_score")
        app.frame()
        print("heatmap of the score:", app.settings.of(RenderSettings).mode == "heatmap"
              and app._heat_of[0] == "significance")
        app._apply(app.settings.changed("prune", keep=1.0))
        app.frame()
        flags = app.gpu_scene.read("flags")
        print("unpruned again:", not (flags & FLAG_PRUNED).any())
        """,
        tmp_path,
    )
    printed = dict(line.split(": ", 1) for line in out.splitlines())
    for key in ("scoring shown", "one view per frame", "kept", "fewer visible", "no data upload",
                "compared", "saved", "heatmap of the score", "unpruned again"):  # fmt: skip
        assert printed[key] == "True", out
