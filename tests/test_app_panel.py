"""The UI without a window: generated widgets, panel, overlay and shortcuts on a headless ImGui."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from imgui_bundle import imgui, implot

from viewer.app import shortcuts, widgets
from viewer.app.help_window import draw_help
from viewer.app.overlay import RECENT_FRAMES, draw_overlay, recent_frames, stacked_passes
from viewer.app.panel import Action, Panel, SceneFacts
from viewer.app.widgets import edit_settings, edit_value, widget_kind
from viewer.core.inspection import CropBox, histogram
from viewer.setting_specs import SettingSpec, SettingsSet, specs
from viewer.settings import GROUPS, RenderSettings
from viewer.stats import FrameStats, StatsHistory

SETTINGS_CLASSES = tuple(group.cls for group in GROUPS)


@pytest.fixture
def gui():
    """A headless ImGui + ImPlot context; `gui(draw)` runs one frame of `draw` and returns it."""
    imgui.create_context()
    implot.create_context()
    io = imgui.get_io()
    io.set_ini_filename(None)
    io.display_size = imgui.ImVec2(1280.0, 720.0)
    io.backend_flags |= imgui.BackendFlags_.renderer_has_textures.value

    def frame(draw):
        io.delta_time = 1.0 / 60.0
        imgui.new_frame()
        result = draw()
        imgui.render()
        return result

    yield frame
    implot.destroy_context()
    imgui.destroy_context()


def in_window(draw):
    """`draw` inside a fixed test window at the top left; returns (result, last item rect)."""
    imgui.set_next_window_pos(imgui.ImVec2(0.0, 0.0))
    imgui.set_next_window_size(imgui.ImVec2(600.0, 400.0))
    imgui.begin("test")
    result = draw()
    rect = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
    imgui.end()
    return result, rect


def click(gui, draw, rect):
    """Press and release the left button at the centre of `rect` over three frames of `draw`."""
    centre = ((rect[0].x + rect[1].x) / 2, (rect[0].y + rect[1].y) / 2)
    io = imgui.get_io()
    io.add_mouse_pos_event(*centre)
    gui(draw)
    io.add_mouse_button_event(0, True)
    gui(draw)
    io.add_mouse_button_event(0, False)
    return gui(draw)


def facts(**changes) -> SceneFacts:
    base = SceneFacts(
        source="/data/scene.ply", count=1000, sh_degree=3,
        bounds=(np.zeros(3, np.float32), np.ones(3, np.float32)), cameras=("a", "b"),
        gpu_bytes=2**20, host_bytes=2**21, device="test GL", backend="quads", sort="cpu",
        latest=None, fly_speed=1.0, keyframes=0, path_seconds=0.0, playing=False, loading="",
        message="", error="", histograms=(histogram("opacity", np.linspace(0, 1, 50), 0, 1),),
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def panel_settings() -> SettingsSet:
    return SettingsSet()


# -- generated widgets -----------------------------------------------------------------------


def test_every_setting_gets_a_widget_of_its_kind():
    panel_classes = [group.cls for group in GROUPS if group.panel]  # names repeat elsewhere
    kinds = {s.name: widget_kind(s) for cls in panel_classes for s in specs(cls)}
    assert kinds["sh_degree"] == "slider_int"
    assert kinds["background"] == "color"
    assert kinds["splat_scale"] == "slider_float"
    assert kinds["antialias"] == "checkbox"
    assert kinds["backend"] == kinds["sort"] == kinds["mode"] == kinds["up_axis"] == "combo"
    assert kinds["width"] == "slider_int"


def test_a_label_leaves_out_the_unit_its_value_shows():
    panel_classes = [group.cls for group in GROUPS if group.panel]
    titles = {s.name: widgets._title(s) for cls in panel_classes for s in specs(cls)}
    assert titles["fov_y_degrees"] == "fov y"  # its value reads "50 degrees"
    assert titles["splat_scale"] == "splat scale"
    assert all(title and "_" not in title for title in titles.values())


def test_widget_kinds_of_other_shapes():
    def spec(kind, default, range_=None, choices=None):
        return SettingSpec("x", kind, default, "", "", range_, choices)

    assert widget_kind(spec(float, 1.0)) == "input_float"
    assert widget_kind(spec(int, 1)) == "input_int"
    assert widget_kind(spec(int, 1, (0, 2**31 - 1))) == "input_int"  # too wide for ImGui
    assert widget_kind(spec(tuple, (0.5, 0.5), (0.0, 1.0))) == "drag_floats"
    with pytest.raises(ValueError, match="no widget"):
        widget_kind(spec(dict, {}))


@pytest.mark.parametrize("cls", SETTINGS_CLASSES)
def test_untouched_settings_come_back_unchanged(gui, cls):
    settings = cls()
    result, _ = gui(lambda: in_window(lambda: edit_settings(settings)))
    assert result is settings


def test_clicking_a_checkbox_returns_new_settings(gui):
    spec = next(s for s in specs(RenderSettings) if s.name == "antialias")

    def draw():
        return in_window(lambda: edit_value(spec, False))

    _, rect = gui(draw)
    (changed, value), _ = click(gui, draw, rect)
    assert changed and value is True


def test_clicking_in_a_generated_section_returns_replaced_settings(gui, monkeypatch):
    settings = RenderSettings()
    rects = {}
    original = widgets.edit_value

    def recording(spec, value, *limit):
        result = original(spec, value, *limit)
        rects[spec.name] = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
        return result

    monkeypatch.setattr(widgets, "edit_value", recording)

    def draw():
        return in_window(lambda: edit_settings(settings))[0]

    gui(draw)
    assert set(rects) == {s.name for s in specs(RenderSettings)}
    edited = click(gui, draw, rects["antialias"])
    assert edited == dataclasses.replace(settings, antialias=True)
    assert edited is not settings


def test_every_value_drawn_passes_its_setting_check(gui):
    for cls in SETTINGS_CLASSES:
        settings = cls()
        for spec in specs(cls):
            value = getattr(settings, spec.name)
            (_, drawn), _ = gui(lambda: in_window(lambda: edit_value(spec, value)))  # noqa: B023
            spec.check(drawn)


# -- panel ------------------------------------------------------------------------------------


def test_panel_returns_the_settings_it_read_and_no_actions(gui):
    panel, settings = Panel(), panel_settings()
    for _ in range(2):
        edited, _, actions = gui(lambda: panel.draw(settings, CropBox(), facts()))
        assert edited == settings
        assert actions == []


def test_panel_buttons_become_actions(gui, monkeypatch):
    pressed = {"Frame scene", "Screenshot (F12)", "Save path", "Open"}
    monkeypatch.setattr(imgui, "button", lambda label, *args: label in pressed)
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)  # all open
    panel = Panel()
    panel.open_path = " other.ply "
    *_, actions = gui(lambda: panel.draw(panel_settings(), CropBox(), facts()))
    assert actions == [
        Action("open", "other.ply"),
        Action("frame"),
        Action("screenshot"),
        Action("save_path", "camera_path.json"),
    ]


def test_panel_shows_errors_and_loading_without_failing(gui):
    panel = Panel()
    shown = facts(
        error="could not open x.ply: truncated", loading="y.ply", message="saved",
        latest=FrameStats(frame=3, clock="finish+wall", total=1000, visible=10),
    )  # fmt: skip
    edited, _, actions = gui(lambda: panel.draw(panel_settings(), CropBox(), shown))
    assert edited == panel_settings()
    assert actions == []


# -- overlay ----------------------------------------------------------------------------------


def history_of(*frames: dict[str, float]) -> StatsHistory:
    history = StatsHistory()
    for i, passes in enumerate(frames):
        history.add(FrameStats(i, "finish+wall", passes, {}, sum(passes.values()) + 1, 100, 50))
    return history


def test_stacked_passes_are_cumulative_in_pipeline_order():
    history = history_of(
        {"sort": 2.0, "preprocess": 1.0, "raster": 3.0},
        {"preprocess": 1.5, "raster": 4.0, "resolve": 0.5},
    )
    names, stack = stacked_passes(history)
    assert names == ["preprocess", "sort", "raster", "resolve"]
    np.testing.assert_allclose(stack[:, 0], [0.0, 1.0, 3.0, 6.0, 6.0])
    np.testing.assert_allclose(stack[:, 1], [0.0, 1.5, 1.5, 5.5, 6.0])


def test_stacked_passes_of_an_empty_history():
    names, stack = stacked_passes(StatsHistory())
    assert names == [] and stack.shape == (1, 0)


@pytest.mark.parametrize("frames", [0, 1, 30, 200])
def test_overlay_draws_any_history(gui, frames):
    history = history_of(*({"preprocess": 1.0, "raster": 2.0 + i % 3} for i in range(frames)))
    gui(lambda: draw_overlay(history, "cpu (auto: software GL, llvmpipe)", "cpu", 2000))


def test_the_overlay_s_numbers_are_of_the_recent_frames():
    """A slow first frame (the kernels compiling) leaves the numbers once it is old enough."""
    slow = {"preprocess": 5.0, "resolve": 2000.0}
    history = history_of(slow, *({"preprocess": 1.0, "raster": 20.0} for _ in range(RECENT_FRAMES)))
    recent, frame = recent_frames(history)
    assert len(history.frames) == RECENT_FRAMES + 1 and len(recent.frames) == RECENT_FRAMES
    assert frame["max"] == pytest.approx(22.0) and "resolve" not in recent.pass_means()
    young = history_of(slow, {"preprocess": 1.0, "raster": 20.0})
    assert recent_frames(young)[1]["max"] > 2000.0  # still among the recent frames


# -- shortcuts and help -----------------------------------------------------------------------


def test_no_key_is_bound_twice():
    keys = [(s.mods, key) for s in (*shortcuts.PRESSED, *shortcuts.HELD) for key in s.keys]
    assert len(keys) == len(set(keys))


def test_every_key_is_a_glfw_key():
    import glfw

    for s in (*shortcuts.PRESSED, *shortcuts.HELD):
        for key in s.keys:
            assert isinstance(getattr(glfw, f"KEY_{key}"), int)


def test_held_actions_are_the_controllers():
    from viewer.app.camera_controller import FAST, MOVES, ROLLS

    assert {s.action for s in shortcuts.HELD} == {*MOVES, *ROLLS, FAST}


def test_help_lists_every_shortcut_and_gesture(gui):
    rows = shortcuts.help_rows()
    assert len(rows) == len(shortcuts.PRESSED) + len(shortcuts.HELD) + len(shortcuts.MOUSE)
    assert ("F12 / P", "save a screenshot (PNG, without the UI)") in rows
    assert ("[", "go to the previous training camera") in rows
    assert ("Shift", "hold to move 4x faster") in rows
    assert ("Ctrl+Q", "quit (or close the window)") in rows
    assert any(keys == "Esc" and "twice" in text for keys, text in rows)
    assert gui(draw_help) is True


def test_over_ui_knows_the_windows_drawn_last_frame(gui):
    from viewer.app.input import over_ui

    gui(lambda: in_window(lambda: imgui.text("hello")))
    assert over_ui(10.0, 10.0)  # the test window spans (0, 0) to (600, 400)
    assert over_ui(599.0, 399.0)
    assert not over_ui(700.0, 100.0)
    assert not over_ui(100.0, 500.0)
    gui(lambda: None)  # a frame without windows
    assert not over_ui(10.0, 10.0)


def test_panel_shows_a_picked_gaussian_and_clears_it(gui, monkeypatch):
    from viewer.core.inspection import gaussian_details
    from viewer.scene import GaussianScene

    scene = GaussianScene.from_arrays(
        [[1, 2, 3]], [[0.1, 0.2, 0.3]], [[1, 0, 0, 0]], [0.5], np.zeros((1, 1, 3))
    )
    details = gaussian_details(scene, 0, weight=0.25)
    np.testing.assert_allclose(details.colour, 0.5)
    assert details.opacity == 0.5 and details.position.tolist() == [1, 2, 3]
    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    monkeypatch.setattr(imgui, "button", lambda label, *args: label == "Clear selection")
    *_, actions = gui(lambda: Panel().draw(panel_settings(), CropBox(), facts(selected=details)))
    assert "Gaussian 0 (alpha*T 0.250 at the pixel)" in texts
    assert any(t.startswith("  scale") and "0.2" in t for t in texts)
    assert Action("clear_selection") in actions


def test_browse_works_with_or_without_a_system_file_dialog(gui, monkeypatch):
    monkeypatch.setattr(imgui, "button", lambda label, *args: label == "Browse...")
    for dialog in (True, False):  # without zenity/kdialog the window's own browser opens
        shown = facts(file_dialog=dialog)
        *_, actions = gui(lambda shown=shown: Panel().draw(panel_settings(), CropBox(), shown))
        assert Action("browse") in actions


def test_the_file_browser_lists_folders_then_scenes_and_opens_one(gui, tmp_path, monkeypatch):
    from viewer.app.file_browser import Entry, FileBrowser, list_folder

    for name in ("b.ply", "a.spz", "notes.txt", ".hidden.ply", "x.compressed.ply", "c.sog",
                 "d.glb", "meta.json", "other.json"):  # fmt: skip
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "out").mkdir()
    assert list_folder(tmp_path) == [
        Entry("out", True), Entry("a.spz", False), Entry("b.ply", False), Entry("c.sog", False),
        Entry("d.glb", False), Entry("meta.json", False), Entry("x.compressed.ply", False),
    ]  # fmt: skip
    browser = FileBrowser()
    browser.show(tmp_path)
    clicked = {"b.ply"}
    monkeypatch.setattr(imgui, "is_mouse_double_clicked", lambda button: True)
    selectable = imgui.selectable
    monkeypatch.setattr(
        imgui, "selectable",
        lambda label, *args: (label in clicked, False) if label in clicked | {"../"} or
        label.endswith((".ply", ".spz", "/")) else selectable(label, *args),
    )  # fmt: skip
    chosen = []
    for _ in range(3):  # the first frame opens the popup
        gui(lambda: chosen.append(browser.draw()))
    assert str(tmp_path / "b.ply") in chosen
    browser.enter(tmp_path / "missing")
    assert "cannot list" in browser.error and browser.folder == tmp_path.resolve()


def test_heat_legend_labels_its_ends(gui, monkeypatch):
    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    settings = panel_settings().replaced(RenderSettings(mode="depth"))
    gui(lambda: Panel().draw(settings, CropBox(), facts(heat_range=("camera z 0.5", "9.1"))))
    assert "camera z 0.5" in texts and "9.1" in texts


def test_pruning_section_shows_counts_progress_and_asks_for_actions(gui, monkeypatch):
    from viewer.core.pruning_state import PruneFacts

    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    pressed = {"Compare", "Save pruned", "Show scores"}
    monkeypatch.setattr(imgui, "button", lambda label, *args: label in pressed)
    shown = facts(pruning=PruneFacts(scoring=(3, 24), kept=300, score_range=(0.0, 2.5),
                                     quality=(31.5, 0.97)))  # fmt: skip
    *_, actions = gui(lambda: Panel().draw(panel_settings(), CropBox(), shown))
    assert "kept 300 (30.0 %), pruned 700" in texts
    assert "vs unpruned: PSNR 31.50 dB, SSIM 0.9700" in texts
    assert actions[-3:] == [
        Action("compare_pruning"), Action("show_score"), Action("save_pruned", "pruned.ply"),
    ]  # fmt: skip


# -- keys: shortcuts reach the viewer unless a text field is being edited ----------------------


class Performed:
    def __init__(self):
        self.actions = []

    def perform(self, action, argument=None):
        self.actions.append(action)


class Keyboard:
    """An InputRouter on the headless ImGui (no window) feeding a panel, driven by fake GLFW
    events; `frame` draws the panel and then dispatches the shortcuts, as the app does."""

    def __init__(self, gui, monkeypatch):
        import glfw
        from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

        from viewer.app.input import InputRouter

        for name in dir(glfw):
            if name.startswith("set_") and name.endswith("_callback"):
                monkeypatch.setattr(glfw, name, lambda *args: None)
        monkeypatch.setattr(glfw, "get_cursor_pos", lambda window: (0.0, 0.0))
        monkeypatch.setattr(glfw, "get_time", lambda: 0.0)
        self.down: set[int] = set()
        monkeypatch.setattr(
            glfw, "get_key", lambda window, key: glfw.PRESS if key in self.down else glfw.RELEASE
        )
        backend = GlfwRenderer.__new__(GlfwRenderer)  # its key and char callbacks, no window
        backend.io = imgui.get_io()
        backend._map_keys()
        self.glfw, self.gui, self.handler = glfw, gui, Performed()
        self.router = InputRouter(None, backend, self.handler)
        self.panel, self.rects, self.actions = Panel(), {}, []
        input_text, edit_value = imgui.input_text, widgets.edit_value

        def field(label, text, *args):
            result = input_text(label, text, *args)
            self.rects[label] = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
            return result

        def setting(spec, value, *args):
            result = edit_value(spec, value, *args)
            self.rects[spec.name] = (imgui.get_item_rect_min(), imgui.get_item_rect_max())
            return result

        monkeypatch.setattr(imgui, "input_text", field)
        monkeypatch.setattr(widgets, "edit_value", setting)
        self.frame(2)  # a new window may stay hidden in its first frame

    def frame(self, count: int = 1):
        for _ in range(count):
            *_, actions = self.gui(
                lambda: self.panel.draw(panel_settings(), CropBox(), facts(sh_degree=3))
            )
            self.actions += actions
            self.router.dispatch()

    def click(self, rect):
        x, y = (rect[0].x + rect[1].x) / 2, (rect[0].y + rect[1].y) / 2
        left = self.glfw.MOUSE_BUTTON_LEFT
        self.router._on_cursor(None, x, y)
        self.router._on_button(None, left, self.glfw.PRESS, 0)
        self.router._on_button(None, left, self.glfw.RELEASE, 0)

    def type(self, name: str, char: str = "", hold: bool = False):
        key = getattr(self.glfw, f"KEY_{name}")
        self.router._on_key(None, key, 0, self.glfw.PRESS, 0)
        self.down.add(key)
        if char:
            self.router._on_char(None, ord(char))
        if not hold:
            self.release(name)

    def release(self, name: str):
        key = getattr(self.glfw, f"KEY_{name}")
        self.router._on_key(None, key, 0, self.glfw.RELEASE, 0)
        self.down.discard(key)


def test_after_a_click_in_the_panel_tab_and_w_fly_instead_of_typing(gui, monkeypatch):
    """A click on a panel widget used to leave ImGui's Tab navigation free to jump into the open
    field: Tab then W typed "wwww" there and the camera never flew."""
    keys = Keyboard(gui, monkeypatch)
    keys.click(keys.rects["antialias"])
    keys.frame(3)
    keys.type("TAB")
    keys.frame(2)
    assert keys.handler.actions == ["toggle_mode"]
    keys.type("W", "w", hold=True)
    keys.frame(3)
    assert keys.panel.open_path == ""
    assert keys.router.held() == {"forward"}
    keys.release("W")
    assert keys.router.held() == frozenset()


def test_keys_go_to_a_text_field_being_edited_and_enter_opens(gui, monkeypatch):
    keys = Keyboard(gui, monkeypatch)
    keys.click(keys.rects["##open"])
    keys.frame(3)
    for name in ("P", "T", "W"):  # screenshot, overlay, a held key: here just letters
        keys.type(name, name.lower())
        keys.frame()
    assert keys.panel.open_path == "ptw"
    keys.type("W", "w", hold=True)
    keys.frame()
    assert keys.router.held() == frozenset()  # no flying while typing
    keys.release("W")
    keys.type("ENTER")
    keys.frame(2)
    assert keys.actions == [Action("open", "ptww")]
    assert keys.handler.actions == []


def test_a_click_into_a_field_and_keys_read_in_one_batch_are_typing(gui, monkeypatch):
    """Events read together (a slow frame) reach the field in order: the click first."""
    keys = Keyboard(gui, monkeypatch)
    keys.click(keys.rects["##open"])
    keys.type("P", "p")
    keys.frame(4)
    assert keys.panel.open_path == "p"
    assert keys.handler.actions == []


def test_esc_in_a_text_field_only_leaves_it(gui, monkeypatch):
    keys = Keyboard(gui, monkeypatch)
    keys.click(keys.rects["##open"])
    keys.frame(3)
    keys.type("ESCAPE")
    keys.frame(2)
    assert keys.handler.actions == []
    keys.type("ESCAPE")
    keys.frame()
    assert keys.handler.actions == ["escape"]


# -- layout: values readable, status in a fixed place, the panel inside the window --------------


def test_a_slider_prints_its_value_beside_the_bar_where_the_grab_cannot_hide_it(gui, monkeypatch):
    from viewer.settings import CameraOptions

    spec = next(s for s in specs(CameraOptions) if s.name == "fov_y_degrees")
    bars, texts = [], []
    slider, text = imgui.slider_float, imgui.text

    def recording_slider(label, value, lo, hi, fmt, flags=0):
        result = slider(label, value, lo, hi, fmt, flags)
        bars.append((fmt, imgui.get_item_rect_max().x))
        return result

    def recording_text(value):
        texts.append((value, imgui.get_cursor_screen_pos().x))
        text(value)

    monkeypatch.setattr(imgui, "slider_float", recording_slider)
    monkeypatch.setattr(imgui, "text", recording_text)
    gui(lambda: in_window(lambda: edit_value(spec, 50.0)))
    ((fmt, bar_end),) = bars
    assert fmt.startswith("##")  # the bar itself draws no text (ImGui hides what follows ##)
    value_x = dict(texts)["50 degrees"]
    assert value_x > bar_end
    assert dict(texts)["fov y"] > value_x  # the unit is said once, by the value


def test_the_sh_degree_slider_offers_only_the_scenes_degrees(gui, monkeypatch):
    calls = {}
    slider = imgui.slider_int

    def recording(label, value, lo, hi, *args):
        calls[label] = (value, lo, hi)
        return slider(label, value, lo, hi, *args)

    monkeypatch.setattr(imgui, "slider_int", recording)
    settings = panel_settings()
    assert settings.of(RenderSettings).sh_degree == 3
    for degree in (0, 1, 3):
        calls.clear()
        edited, _, _ = gui(lambda: Panel().draw(settings, CropBox(), facts(sh_degree=degree)))  # noqa: B023
        (shown,) = [v for label, v in calls.items() if "sh_degree" in label]
        assert shown == (degree, 0, degree)
        assert edited == settings  # the setting itself stays; the renderer caps it


def test_status_lines_coming_and_going_do_not_move_the_controls(gui, monkeypatch):
    from viewer.core.pruning_state import PruneFacts

    positions = {}
    edit_value = widgets.edit_value

    def recording(spec, value, *args):
        result = edit_value(spec, value, *args)
        corner = imgui.get_item_rect_min()
        positions[spec.name] = (corner.x, corner.y)
        return result

    monkeypatch.setattr(widgets, "edit_value", recording)
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    panel = Panel()
    gui(lambda: panel.draw(panel_settings(), CropBox(), facts()))
    quiet = dict(positions)
    busy = facts(
        loading="/data/big.ply", error="could not open x.ply: truncated " * 3,
        message="saved camera.json", pruning=PruneFacts(scoring=(3, 24)),
    )  # fmt: skip
    gui(lambda: panel.draw(panel_settings(), CropBox(), busy))
    assert positions == quiet
    gui(lambda: panel.draw(panel_settings(), CropBox(), facts()))
    assert positions == quiet


def panel_window():
    window = imgui.internal.find_window_by_name("splatscope")
    return window.pos.x, window.pos.y, window.size.x, window.size.y


@pytest.mark.parametrize("tiny", [(1.0, 1.0), (50.0, 30.0)])
def test_the_panel_comes_back_at_a_usable_size_when_the_window_grows_again(gui, tiny):
    from viewer.app.panel import MIN_PANEL_SIZE, PANEL_WIDTH

    io, panel = imgui.get_io(), Panel()

    def draw():
        return panel.draw(panel_settings(), CropBox(), facts())

    gui(draw)
    first = panel_window()
    assert first[2] == PANEL_WIDTH
    io.display_size = imgui.ImVec2(*tiny)
    for _ in range(3):
        gui(draw)
    assert panel_window()[2] < MIN_PANEL_SIZE[0]
    io.display_size = imgui.ImVec2(1280.0, 720.0)
    for _ in range(2):
        gui(draw)
    assert panel_window() == first


def test_a_full_height_panel_follows_the_window_when_it_grows(gui):
    from viewer.app.panel import MARGIN

    io, panel = imgui.get_io(), Panel()

    def draw():
        return panel.draw(panel_settings(), CropBox(), facts())

    io.display_size = imgui.ImVec2(1280.0, 500.0)
    for _ in range(2):
        gui(draw)
    assert panel_window()[3] == 500.0 - 2 * MARGIN
    io.display_size = imgui.ImVec2(1280.0, 900.0)
    for _ in range(2):
        gui(draw)
    assert panel_window()[3] == 900.0 - 2 * MARGIN
    io.display_size = imgui.ImVec2(1280.0, 720.0)


def test_the_panel_keeps_inside_a_smaller_window(gui):
    io, panel = imgui.get_io(), Panel()

    def draw():
        return panel.draw(panel_settings(), CropBox(), facts())

    gui(draw)
    io.display_size = imgui.ImVec2(300.0, 200.0)
    for _ in range(2):
        gui(draw)
    x, y, width, height = panel_window()
    assert x >= 0 and y >= 0 and x + width <= 300 and y + height <= 200
    assert width >= 200 and height >= 150  # the window less its margins: still usable


def test_enter_in_a_path_field_does_its_action(gui, monkeypatch):
    typed = {
        "##open": "new.ply", "##camera file": "view.json", "path file": "path.json",
        "##pruned file": "kept.ply",
    }  # fmt: skip
    flags_of = {}
    input_text = imgui.input_text

    def entering(label, text, flags=0, *args):
        flags_of[label] = flags
        if label in typed:
            return True, typed[label]
        return input_text(label, text, flags, *args)

    monkeypatch.setattr(imgui, "input_text", entering)
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    *_, actions = gui(lambda: Panel().draw(panel_settings(), CropBox(), facts(keyframes=2)))
    assert actions == [
        Action("open", "new.ply"), Action("save_camera", "view.json"),
        Action("save_path", "path.json"), Action("save_pruned", "kept.ply"),
    ]  # fmt: skip
    enter = imgui.InputTextFlags_.enter_returns_true.value
    assert all(flags_of[label] & enter for label in typed)
    *_, actions = gui(lambda: Panel().draw(panel_settings(), CropBox(), facts(keyframes=0)))
    assert Action("load_path", "path.json") in actions  # no keyframes to save: Enter loads


def test_the_camera_section_saves_the_view(gui, monkeypatch):
    monkeypatch.setattr(imgui, "button", lambda label, *args: label == "Save camera")
    *_, actions = gui(lambda: Panel().draw(panel_settings(), CropBox(), facts()))
    assert actions == [Action("save_camera", "camera.json")]


def test_the_heat_legend_does_not_move_the_controls(gui, monkeypatch):
    """Shown in the status footer: a button under the pointer stays there when it appears."""
    from viewer.settings import LodSettings

    where = {}
    button = imgui.button

    def recorded(label, *args):
        where.setdefault(label, []).append(imgui.get_cursor_screen_pos().y)
        return button(label, *args)

    monkeypatch.setattr(imgui, "button", recorded)
    settings = panel_settings().replaced(LodSettings(enabled=True))
    gui(lambda: Panel().draw(settings, CropBox(), facts()))
    heat = settings.replaced(RenderSettings(mode="heatmap", heatmap="lod_level"))
    gui(lambda: Panel().draw(heat, CropBox(), facts(heat_range=("level 0", "level 9"))))
    moved = {label: ys for label, ys in where.items() if len(ys) == 2 and ys[0] != ys[1]}
    assert len(where) > 3 and not moved, moved
