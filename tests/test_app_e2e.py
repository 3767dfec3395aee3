"""The viewer used as a person would: a real window under Xvfb, real mouse and key events.

Each test starts its own X server and runs the viewer in a child process (this process never
makes a GL context). Pixels are compared before and after each input; no timings are asserted.
"""

from __future__ import annotations

import json
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
    settled,
    wait_until,
    window_tests,
)
from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.camera_path import CameraPath
from viewer.formats import save_scene
from viewer.formats.cameras_json import write_inria_cameras

pytestmark = window_tests()

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

        server.key("Escape", "Escape")  # nothing to undo: a second Esc within a second quits
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
from viewer.render.frame_inputs import FrameInputs
from viewer.setting_specs import SettingsSet
from viewer.settings import DisplayOptions, RenderSettings

init_glfw()
window = Window(320, 200, "splatscope", vsync=False)
scene = load_scene_or_builtin(None)
app = ViewerApp(window, scene, load_scene_or_builtin,
                SettingsSet().replaced(DisplayOptions(vsync=False)))
deadline = time.monotonic() + 240  # a safety net: a loaded 2-core machine is slow


def settled_frame():
    # a UI frame, then those that finish the splat frame it began (drawn in parts here)
    app.frame()
    while app.target.drawing and time.monotonic() < deadline:
        app.frame()


settled_frame()


def frames_until_loaded():
    while app.loader.busy and time.monotonic() < deadline:
        app.frame()
    settled_frame()
"""


def run_app_script(server: XServer, body: str, cwd: Path) -> str:
    """Run `body` after APP_PRELUDE (an app on the built-in scene) on `server`; its stdout."""
    env = {**server.env(), "XDG_CACHE_HOME": str(cwd / "cache")}  # a private score cache
    result = subprocess.run(
        [sys.executable, "-c", APP_PRELUDE + textwrap.dedent(body) + "app.release()\n"],
        env=env, capture_output=True, text=True, timeout=300, cwd=cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def printed_lines(out: str) -> dict[str, str]:
    """An app script's `print("name:", value)` lines as {name: value text}."""
    return dict(line.split(": ", 1) for line in out.splitlines())


def assert_printed_true(out: str, keys: tuple[str, ...]) -> None:
    """Each of `keys` was printed by the app script as True (the whole output on failure)."""
    printed = printed_lines(out)
    for key in keys:
        assert printed[key] == "True", out


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
        from viewer.core.inspection import CropBox
        # the app's clock, stepped below: playback moves on by the time between frames, and one
        # frame may take longer than the whole path on a loaded machine (software GL)
        clock = [glfw.get_time()]
        glfw.get_time = lambda: clock[0]
        print("visible before:", app.history.latest.visible)
        box = CropBox(True, (-0.5, -0.5, -0.1), (0.5, 0.5, 0.1))
        app.apply(app.settings, box)
        settled_frame()
        inside = int(np.all((scene.means >= box.lo) & (scene.means <= box.hi), axis=1).sum())
        print("visible cropped:", app.history.latest.visible)
        print("inside:", inside)

        first = app.camera().world_to_camera.copy()
        app.perform("add_keyframe")
        app.controller.orbit(1.0, 0.2)
        second = app.camera().world_to_camera.copy()
        app.perform("add_keyframe")
        app.perform("play_path")
        print("playing:", app.player.playing)
        app.frame()
        views = []
        while app.player.playing and time.monotonic() < deadline:
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
    printed = printed_lines(out)
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
        server.key("ctrl+q")
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
        server.key("Escape")  # clears the selection (and does not quit)
        cleared = changed(server, lambda screen: window(screen)[around], picked, 0.2)
        assert np.abs(cleared.astype(int) - magenta).sum(axis=2).min() > after
        shown = settled(server, window)

        # a double click elsewhere turns the view to face the point under the cursor
        server.move(x + w // 4, y + h // 2 + 60)
        server.xdotool("click", "--repeat", "2", "--delay", "80", "1")
        turned = changed(server, window, shown, 0.3)

        server.key("m")  # colour -> depth mode: every splat changes colour
        changed(server, window, turned, 0.3)
        # the double click's first click picked again: Esc clears that, then Esc twice quits
        server.key("Escape", "Escape", "Escape")
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()


def test_picking_selects_the_top_contributor_and_pivots_on_the_surface(server, tmp_path):
    out = run_app_script(
        server,
        """
        from viewer.render.layout import FLAG_SELECTED
        inputs = FrameInputs(app.camera())
        camera = inputs.camera
        full = app.renderer.measure(
            app.gpu_scene, inputs, app.settings.of(RenderSettings)
        ).pixels
        py, px = np.unravel_index(np.argmax(full["top_weight"]), full.shape)
        scale_x = window.window_size[0] / window.framebuffer_size[0]
        scale_y = window.window_size[1] / window.framebuffer_size[1]
        app.click((px + 0.5) * scale_x, (py + 0.5) * scale_y)
        app.frame()
        print("selected:", app.session.selected.index == full[py, px]["top_gaussian"])
        flags = app.gpu_scene.read("flags")
        selected = app.session.selected.index
        print("flagged:", np.flatnonzero(flags & FLAG_SELECTED).tolist() == [selected])
        app.perform("clear_selection")
        app.frame()
        flags = app.gpu_scene.read("flags")
        print("cleared:", app.session.selected is None and not (flags & FLAG_SELECTED).any())

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
    assert_printed_true(out, ("selected", "flagged", "cleared", "pivot", "eye kept"))


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
        app.apply(app.settings.replaced(prune))
        frames = 0
        app.frame()
        print("scoring shown:", app.facts().pruning.scoring == (1, 4))
        while app.session.pruning.job is not None and time.monotonic() < deadline:
            app.frame()
            frames += 1
        settled_frame()
        print("one view per frame:", frames >= 3)
        flags = app.gpu_scene.read("flags")
        kept = int(((flags & FLAG_PRUNED) == 0).sum())
        print("kept:", kept == round(0.3 * scene.count) == app.facts().pruning.kept)
        print("fewer visible:", app.history.latest.visible < before)
        print("no data upload:", uploads == [])
        app.perform("compare_pruning")
        psnr, ssim = app.session.pruning.quality
        print("compared:", 5 < psnr < 80 and 0 < ssim < 1.0)
        app.perform("save_pruned", "kept.ply")
        print("saved:", load_scene("kept.ply").count == kept)
        app.perform("show_score")
        settled_frame()
        low_end = app.facts().heat_range[0]
        print("heatmap of the score:", app.settings.of(RenderSettings).mode == "heatmap"
              and app.session.heat is not None and low_end.startswith("significance"))
        app.perform("compare_pruning")
        print("a comparison says so:", app.message.startswith("PSNR"))
        app.apply(app.settings.changed("prune", keep=1.0))
        print("and goes with the settings it measured:", app.message == "")
        settled_frame()
        flags = app.gpu_scene.read("flags")
        print("unpruned again:", not (flags & FLAG_PRUNED).any())
        """,
        tmp_path,
    )
    assert_printed_true(
        out,
        (
            "scoring shown",
            "one view per frame",
            "kept",
            "fewer visible",
            "no data upload",
            "compared",
            "saved",
            "heatmap of the score",
            "unpruned again",
        ),
    )


def test_a_slow_splat_frame_is_drawn_over_ui_frames_showing_the_last_one(server, tmp_path):
    """#23 item 14: the UI waited on the splat frame. Here a pacer draws a thousand splats a UI
    frame (a slow device): an orbit's new frame takes UI frames, each drawing the panel over
    the last finished image; the overlay says how many; the next frame is begun at once."""
    out = run_app_script(
        server,
        """
        from viewer.app.frame_pacer import FramePacer

        class Slow(FramePacer):
            def count(self, preparing=False):
                return 1000

        app.pacer = Slow()
        app.apply(app.settings.changed("display", overlay=True))
        # quads: a part is a splat (auto picks cpu on this llvmpipe, whose part is a tile row)
        app.apply(app.settings.changed("raster", backend="quads"))
        settled_frame()
        shown = app.target.image.texture.read()
        app.drag("left", 40.0, 0.0)
        frames, same = 0, True
        while True:
            app.frame()
            frames += 1
            if not app.target.drawing:
                break
            same = same and app.target.image.texture.read() == shown
        visible = app.history.latest.visible
        print("UI frames:", frames == -(-visible // 1000) and frames > 3)
        print("last image shown meanwhile:", same)
        print("new image after:", app.target.image.texture.read() != shown)
        print("overlay counts them:", app.target.last_frame[0] == frames)
        app.drag("left", 40.0, 0.0)
        app.frame()
        print("the next begun at once:", app.target.drawing)
        """,
        tmp_path,
    )
    assert_printed_true(
        out,
        ("UI frames", "last image shown meanwhile", "new image after", "overlay counts them",
         "the next begun at once"),
    )  # fmt: skip


def test_after_a_click_in_the_panel_tab_then_w_flies(server, tmp_path):
    """A click in the panel used to let ImGui take Tab to jump into the open field: W then typed
    "wwww" there instead of flying."""
    viewer = Viewer(server, ["--width", str(WIDTH), "--height", str(HEIGHT)], tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window()

        def window(screen):
            return screen[y : y + h, x : x + w]

        def view(screen):
            return window(screen)[:, VIEW_X:]

        open_field = (slice(100, 124), slice(14, 216))
        start = settled(server, window)
        server.move(x + 330, y + 92)  # in the panel, beside the GL device line
        server.xdotool("click", "1")
        server.key("Tab")  # fly mode
        server.xdotool("keydown", "w")
        try:
            wait_until(
                lambda: changed_fraction(start[:, VIEW_X:], view(server.grab())) > 0.2,
                30, "the camera to fly forward",
            )  # fmt: skip
        finally:
            server.xdotool("keyup", "w")
        flown = settled(server, window)

        def text_pixels(image):  # white glyphs; the view shows dimly through the panel
            return int((image[open_field].min(axis=-1) > 150).sum())

        assert text_pixels(flown) == text_pixels(start) == 0, "typed into the open field"
        server.key("ctrl+q")
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()


def test_esc_undoes_what_it_can_and_quits_only_when_pressed_again(server, tmp_path):
    out = run_app_script(
        server,
        """
        def state():
            return (app.settings["display"].help, app.controller.mode,
                    app.session.selected is not None, window.should_close)

        app.apply(app.settings.changed("display", help=True))
        app.controller.set_mode("fly")
        app.session.select(0)
        app.perform("escape", True)
        print("help closed:", state() == (False, "fly", True, False))
        app.perform("escape", True)
        print("orbit mode:", state() == (False, "orbit", True, False))
        app.perform("escape", True)
        print("selection cleared:", state() == (False, "orbit", False, False))
        app.perform("escape", True)
        print("asks:", app.message == "press Esc again to quit" and not window.should_close)
        app.perform("escape", False)
        print("too late:", app.message == "press Esc again to quit" and not window.should_close)
        app.perform("escape", True)
        print("quits:", window.should_close)
        """,
        tmp_path,
    )
    assert_printed_true(
        out, ("help closed", "orbit mode", "selection cleared", "asks", "too late", "quits")
    )


def test_a_hung_load_does_not_block_the_next_open(server, tmp_path):
    """A FIFO once left "loading" forever and no later file opened; readers now refuse FIFOs,
    but any read that hangs must leave later opens free."""
    good = tmp_path / "small.ply"
    save_scene(random_scene(np.random.default_rng(0), 300), good)
    out = run_app_script(
        server,
        f"""
        import threading
        from viewer.app.scene_loader import SceneLoader

        release = threading.Event()

        def read(path):
            if path.endswith("hung.ply"):
                release.wait()
            return load_scene_or_builtin(path)

        app.loader = SceneLoader(read)
        app.open("/somewhere/hung.ply")
        app.frame()
        print("loading shown:", app.facts().loading == "/somewhere/hung.ply")
        app.open({str(good)!r})
        print("newest shown:", app.facts().loading == {str(good)!r})
        frames_until_loaded()
        print("opened:", app.scene.count == 300 and app.message == "opened {good}")
        print("no loading line:", app.facts().loading == "")
        release.set()
        for thread in threading.enumerate():
            if thread.name == "scene-loader":
                thread.join(timeout=30)
        app.frame()
        print("late result dropped:", app.scene.count == 300 and app.error == "")
        app.open("/no/such/scene.ply")
        frames_until_loaded()
        print("failure clears the loading line:", app.facts().loading == ""
              and app.message == "" and app.error.startswith("could not open /no/such"))
        """,
        tmp_path,
    )
    assert_printed_true(
        out,
        (
            "loading shown",
            "newest shown",
            "opened",
            "no loading line",
            "late result dropped",
            "failure clears the loading line",
        ),
    )


def test_the_saved_camera_renders_the_view(server, tmp_path):
    out = run_app_script(
        server,
        """
        app.controller.orbit(0.7, 0.2)
        app.frame()
        app.perform("save_camera", "view.json")
        print("message:", app.message)
        image = app.renderer.render_image(app.gpu_scene, FrameInputs(app.camera()),
                                          app.settings.of(RenderSettings))
        np.save("app.npy", image)
        """,
        tmp_path,
    )
    assert "message: saved the 320x200 view to view.json" in out
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "render", "--camera", "view.json", "--out-npy",
         "cli.npy"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    app_view, cli_view = np.load(tmp_path / "app.npy"), np.load(tmp_path / "cli.npy")
    assert cli_view.shape == app_view.shape == (200, 320, 3)
    assert np.abs(cli_view - app_view).mean() < 1e-3


RESIZE_SCRIPT = """
import json
import glfw
from imgui_bundle import imgui

fields = {}
input_text = imgui.input_text


def recording(label, text, *args):
    result = input_text(label, text, *args)
    fields[label] = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
    return result


imgui.input_text = recording


def size_to(width, height):
    glfw.set_window_size(window.handle, width, height)
    while window.framebuffer_size != (width, height) and time.monotonic() < deadline:
        app.input.poll(0.05)
        app.frame()
    for _ in range(3):  # the panel is placed from the size it had in the last frame
        app.input.poll(0.0)
        settled_frame()


def panel():
    found = imgui.internal.find_window_by_name("splatscope")
    return [found.pos.x, found.pos.y, found.size.x, found.size.y]


def gpu_bytes():
    return app.renderer.gpu_bytes + app.target.nbytes


facts = {}
size_to(640, 360)
app.click(500, 200)
settled_frame()
facts["panel"], facts["bytes"] = panel(), gpu_bytes()
size_to(2048, 2048)
app.click(1000, 1000)  # a pick bins the whole view
settled_frame()
facts["huge bytes"] = gpu_bytes()
size_to(1, 1)
size_to(50, 30)
facts["tiny panel"] = panel()
size_to(640, 360)
app.click(500, 200)
settled_frame()
facts["panel again"], facts["bytes again"] = panel(), gpu_bytes()
facts["size again"] = list(window.framebuffer_size)
left, top = glfw.get_window_pos(window.handle)
low, high = fields["##open"]
facts["open field"] = [left + (low.x + high.x) / 2, top + (low.y + high.y) / 2]
print(json.dumps(facts), flush=True)
wanted = sys.argv[1]
while app.scene.source != wanted and time.monotonic() < deadline:
    app.input.poll(0.05)
    app.frame()
print("opened:", app.scene.source == wanted, app.scene.count, flush=True)
app.release()
"""


def test_a_window_shrunk_to_a_pixel_and_back_has_a_usable_panel_and_its_old_memory(
    server, tmp_path
):
    """The panel stayed a 19x18 px box after the window was shrunk and restored; memory of a
    huge window stayed allocated. Then a path typed into the open field and Enter open it."""
    good = tmp_path / "small.ply"
    save_scene(random_scene(np.random.default_rng(0), 300), good)
    env = {**server.env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = APP_PRELUDE + "import sys\n" + RESIZE_SCRIPT
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(good)], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("{"), line + (process.stderr.read() if process.stderr else "")
        facts = json.loads(line)
        tiny = facts["tiny panel"]
        assert tiny[2] <= 50 and tiny[3] <= 50  # squeezed with the window
        assert facts["panel again"] == facts["panel"]  # back at its size and place
        assert facts["huge bytes"] > 10 * facts["bytes"]
        assert facts["size again"] == [640, 360]
        assert facts["bytes again"] <= 1.1 * facts["bytes"], facts

        x, y = (round(v) for v in facts["open field"])
        server.move(x, y)
        server.xdotool("click", "1")
        server.xdotool("type", "--delay", "20", str(good))
        server.key("Return")
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "opened: True 300" in out, out + err


def test_foveation_follows_the_pointer_compares_and_takes_the_preset(server, tmp_path):
    out = run_app_script(
        server,
        """
        import glfw
        from viewer.settings import FoveationSettings, LodSettings, PruneSettings
        app.apply(app.settings.replaced(PruneSettings(views=4, view_width=64)).replaced(
            FoveationSettings(enabled=True, gaze="mouse", outline=True, fovea=4.0,
                              bands=(3.0, 3.0))))
        app.frame()
        print("waiting for scores:", "significance" in app.session.fovea.facts(None).waiting)
        while app.gpu_scene.subsets is None and time.monotonic() < deadline:
            app.frame()
        settled_frame()
        settled_frame()
        print("levels uploaded:", app.gpu_scene.subsets is not None)
        print("some left out:", app.history.latest.fovea_culled > 0)
        width, height = app.window.framebuffer_size
        gazes = []
        for x in (0.75, 0.9):
            glfw.set_cursor_pos(app.window.handle, x * app.window.window_size[0], 100.0)
            for _ in range(3):
                app.frame()
            gazes.append(app.frame_inputs().gaze)
        print("gaze follows:", gazes[0][0] < gazes[1][0] and gazes[0][1] == gazes[1][1])
        app.perform("compare_fovea")
        quality = app.session.fovea.quality
        print("compared:", quality.fovea[0] > quality.periphery[0] and quality.time_ratio > 0)
        app.perform("apply_preset", "balanced")
        app.frame()
        s = app.settings
        app.perform("show_lod_levels")
        shown = app.facts().lod.showing_levels
        app.perform("show_lod_levels")
        print("levels toggle:", shown and app.settings.of(RenderSettings).mode == "colour")
        print("preset:", s.of(LodSettings).enabled and s.of(FoveationSettings).shares
              == (1.0, 0.6, 0.4, 0.3) and s.of(PruneSettings).active)
        """,
        tmp_path,
    )
    assert_printed_true(
        out,
        (
            "waiting for scores",
            "levels uploaded",
            "some left out",
            "gaze follows",
            "compared",
            "preset",
            "levels toggle",
        ),
    )


CONTEXT_SCRIPT = """
import subprocess
import glfw
from imgui_bundle import imgui
from viewer.camera import Camera
from viewer.scene_context import project_segments

boxes = {}
checkbox = imgui.checkbox


def recording(label, value):
    if label.startswith("frustums##"):
        imgui.set_scroll_here_y(0.5)  # as a person scrolls the panel to the box
    result = checkbox(label, value)
    boxes[label] = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
    return result


imgui.checkbox = recording


def frames(until, what):
    while not until():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        app.input.poll(0.05)
        app.frame()


def click(x, y):  # window units -> a real click on the X screen
    left, top = glfw.get_window_pos(window.handle)
    subprocess.run(["xdotool", "mousemove", str(round(left + x)), str(round(top + y)),
                    "click", "1"], check=True, timeout=20)


glfw.set_window_size(window.handle, 900, 600)
frames(lambda: window.framebuffer_size == (900, 600), "the resize")
app.open(sys.argv[1])
frames(lambda: not app.loader.busy and app.scene.count == 2000, "the scene")
cameras = app.scene.cameras
print("cameras:", len(cameras))
app.controller.go_to(Camera.look_at((0.0, -1.0, 12.0), (0.0, 0.0, 0.0)), duration=0.0)
for _ in range(3):
    app.input.poll(0.0)
    app.frame()
low, high = boxes["frustums##frustums"]
click((low.x + high.x) / 2, (low.y + high.y) / 2)
frames(lambda: app.settings.of(DisplayOptions).frustums, "frustums on")
print("frustums on:", True)

view = app.camera()
apexes, kept = project_segments(view, np.array([[c.position, c.position] for c in cameras]),
                                app.controller.near_plane)
scale = app.window.window_size[0] / view.width
target = int(kept[np.argmax(apexes[:, 0, 0])])  # the rightmost: clear of the panel
x, y = apexes[list(kept).index(target), 0] * scale
print("apex in view:", 450 < x < 890 and 10 < y < 590)
click(x, y)
frames(lambda: app.camera_index == target and not app.controller.in_transition, "the flight")
now = app.camera()
print("at the camera:", bool(np.allclose(now.position, cameras[target].position, atol=1e-6)))
print("looking as it:", bool(np.allclose(now.world_to_camera[:3, :3],
                                         cameras[target].world_to_camera[:3, :3], atol=1e-6)))
print("nothing picked:", app.session.selected is None)
app.release()
"""


def test_a_click_on_a_training_camera_frustum_flies_there(server, tmp_path):
    """Frustums turned on with the panel's checkbox; a click on one's apex flies to its camera."""
    root = tmp_path / "trained"
    ply = root / "point_cloud" / "iteration_100" / "point_cloud.ply"
    ply.parent.mkdir(parents=True)
    save_scene(random_scene(np.random.default_rng(1), 2000), ply)
    cameras = [
        Camera.look_at(
            (3.0 * np.cos(a), 3.0 * np.sin(a), 1.0), (0.0, 0.0, 0.0), width=160, height=120,
            name=f"view_{i}.png",
        )
        for i, a in enumerate(np.linspace(0.0, 2.0 * np.pi, 6, endpoint=False))
    ]  # fmt: skip
    write_inria_cameras(root / "cameras.json", cameras)
    env = {**server.env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", APP_PRELUDE + "import sys\n" + CONTEXT_SCRIPT, str(root)],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cameras: 6" in result.stdout, result.stdout
    assert_printed_true(
        result.stdout,
        ("frustums on", "apex in view", "at the camera", "looking as it", "nothing picked"),
    )
