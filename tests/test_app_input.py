"""Clicks, double clicks and drags told apart by the input router (no window: fake events)."""

from __future__ import annotations

import glfw
import numpy as np
import pytest

from viewer.app import input as app_input
from viewer.app.input import (
    CLICK_SLOP,
    DOUBLE_CLICK_SECONDS,
    DOUBLE_PRESS_SECONDS,
    InputRouter,
)
from viewer.features.flags import FlagLayers
from viewer.render.layout import FLAG_LOD_CULLED


class Recorder:
    def __init__(self):
        self.events = []

    def drag(self, button, dx, dy):
        self.events.append(("drag", button))

    def click(self, x, y):
        self.events.append(("click", x, y))

    def double_click(self, x, y):
        self.events.append(("double", x, y))


class NoGui:
    def mouse_button_callback(self, *args):
        pass


@pytest.fixture
def router(monkeypatch):
    clock = [10.0]
    monkeypatch.setattr(glfw, "get_time", lambda: clock[0])
    monkeypatch.setattr(app_input, "over_ui", lambda x, y: x < 100)  # a panel on the left
    monkeypatch.setattr(app_input.imgui, "get_io", lambda: type("IO", (), {
        "add_mouse_pos_event": lambda self, x, y: None})())  # fmt: skip
    r = InputRouter.__new__(InputRouter)
    r.gui, r.handler = NoGui(), Recorder()
    r._drag_button, r._cursor, r._press, r._last_click = None, (0.0, 0.0), None, None
    r.clock = clock
    return r


def press_release(r, at, *to):
    r._on_cursor(None, *at)
    r._on_button(None, glfw.MOUSE_BUTTON_LEFT, glfw.PRESS, 0)
    for point in to:
        r._on_cursor(None, *point)
    r._on_button(None, glfw.MOUSE_BUTTON_LEFT, glfw.RELEASE, 0)


def test_a_still_press_is_a_click_a_moving_one_a_drag(router):
    press_release(router, (300, 200))
    assert router.handler.events == [("click", 300, 200)]
    router.clock[0] += 1.0
    press_release(router, (300, 200), (300 + 3 * CLICK_SLOP, 200))
    assert router.handler.events[1:] == [("drag", "left")]
    router.clock[0] += 1.0
    press_release(router, (300, 200), (300 + 3 * CLICK_SLOP, 200), (300, 200))  # and back
    assert router.handler.events[2:] == [("drag", "left"), ("drag", "left")]  # no click


def test_two_quick_clicks_nearby_are_a_double_click(router):
    press_release(router, (300, 200))
    router.clock[0] += DOUBLE_CLICK_SECONDS / 2
    press_release(router, (301, 200))
    assert router.handler.events == [("click", 300, 200), ("double", 301, 200)]
    router.clock[0] += DOUBLE_CLICK_SECONDS * 2  # too late for another double click
    press_release(router, (301, 200))
    assert router.handler.events[-1] == ("click", 301, 200)


def test_clicks_on_the_ui_do_not_reach_the_view(router):
    press_release(router, (50, 200))
    assert router.handler.events == []


def test_flag_layers_or_their_bits_and_refuse_gpu_bits():
    layers = FlagLayers(4)
    layers.set("crop", np.array([1, 0, 1, 0], np.uint32))
    layers.set("selection", np.array([0, 0, 256, 0], np.uint32))
    assert layers.compose().tolist() == [1, 0, 257, 0]
    layers.set("crop", None)
    assert layers.compose().tolist() == [0, 0, 256, 0]
    with pytest.raises(ValueError, match="shape"):
        layers.set("crop", np.zeros(3, np.uint32))
    with pytest.raises(ValueError, match="GPU passes own"):
        layers.set("lod", np.full(4, FLAG_LOD_CULLED, np.uint32))


def test_file_dialog_returns_the_chosen_path_once(monkeypatch):
    from viewer.app import file_dialog

    shown = []

    class FakeDialog:
        def __init__(self, title, start, filters):
            shown.append((title, start, filters))
            self.polls = 0

        def ready(self, timeout):
            self.polls += 1
            return self.polls > 1  # the user needs a moment

        def result(self):
            return ["/data/scene.ply"]

    monkeypatch.setattr(file_dialog.pfd, "open_file", FakeDialog)
    dialog = file_dialog.FileDialog()
    assert dialog.poll() is None and not dialog.open
    dialog.show(start="/data")
    dialog.show(start="/elsewhere")  # one dialog at a time
    assert len(shown) == 1 and shown[0][1] == "/data"
    assert dialog.poll() is None and dialog.open
    assert dialog.poll() == "/data/scene.ply"
    assert dialog.poll() is None and not dialog.open
    monkeypatch.setattr(file_dialog.shutil, "which", lambda name: None)
    assert not file_dialog.available()
    monkeypatch.setattr(file_dialog.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert file_dialog.available()


def test_a_second_click_read_after_a_slow_frame_is_dated_to_when_reading_stopped(
    router, monkeypatch
):
    """The frame a click starts (a pick) can outlast DOUBLE_CLICK_SECONDS: the second click,
    queued meanwhile, counts from when the app stopped reading input, not from when it is read."""
    queued = []
    monkeypatch.setattr(glfw, "poll_events", lambda: [event() for event in queued])
    monkeypatch.setattr(glfw, "wait_events_timeout", lambda timeout: None)
    router.poll()
    press_release(router, (300, 200))  # read while waiting: dated as it comes
    router.poll()
    router.clock[0] += 3 * DOUBLE_CLICK_SECONDS  # a slow frame, the second click came during it
    queued.append(lambda: press_release(router, (300, 200)))
    router.poll()
    assert router.handler.events == [("click", 300, 200), ("double", 300, 200)]

    queued.clear()
    router.clock[0] += 3 * DOUBLE_CLICK_SECONDS  # waited, then a click: too late for a double
    press_release(router, (300, 200))
    assert router.handler.events[-1] == ("click", 300, 200)


class Keys:
    def __init__(self):
        self.fed = []

    def keyboard_callback(self, window, key, scancode, action, mods):
        self.fed.append((key, action))


class Performer:
    def __init__(self):
        self.performed = []

    def perform(self, action, argument=None):
        self.performed.append((action, argument))


@pytest.fixture
def keys(router, monkeypatch):
    monkeypatch.setattr(app_input, "text_field_active", lambda: False)
    router.gui, router.handler = Keys(), Performer()
    router._pressed = InputRouter._shortcut_table()
    router._pending, router._last_press = [], None
    return router


def key(r, name, action=glfw.PRESS, mods=0):
    r._on_key(None, getattr(glfw, f"KEY_{name}"), 0, action, mods)


def test_esc_pressed_again_within_a_second_says_so_ctrl_q_quits(keys):
    key(keys, "ESCAPE")
    keys.clock[0] += DOUBLE_PRESS_SECONDS / 2
    key(keys, "ESCAPE")
    keys.clock[0] += DOUBLE_PRESS_SECONDS * 2
    key(keys, "ESCAPE")
    key(keys, "Q")  # alone: a held key (move down), no action
    key(keys, "Q", mods=glfw.MOD_CONTROL)
    key(keys, "T", mods=glfw.MOD_CONTROL)  # a plain shortcut does not fire with Ctrl held
    keys.dispatch()
    assert keys.handler.performed == [
        ("escape", False),
        ("escape", True),
        ("escape", False),
        ("quit", False),
    ]


def test_shortcut_presses_do_not_reach_imgui_outside_text_fields(keys, monkeypatch):
    """ImGui would take Tab to jump into a text field; its release still goes (harmless)."""
    key(keys, "TAB")
    key(keys, "TAB", glfw.RELEASE)
    key(keys, "W")
    assert keys.gui.fed == [(glfw.KEY_TAB, glfw.RELEASE), (glfw.KEY_W, glfw.PRESS)]
    monkeypatch.setattr(app_input, "text_field_active", lambda: True)
    key(keys, "TAB")
    keys.dispatch()
    assert keys.gui.fed[-1] == (glfw.KEY_TAB, glfw.PRESS)
    assert keys.handler.performed == []  # a text field is edited: the Tab was for it
